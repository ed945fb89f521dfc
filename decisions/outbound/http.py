"""One HTTP POST helper for everything that leaves the portal (verdict webhooks, chat messages)."""

from __future__ import annotations

import urllib.error
import urllib.request
from dataclasses import dataclass

TIMEOUT_SECONDS = 10
USER_AGENT = "Countersign/1"


@dataclass(frozen=True)
class Attempt:
    """How one POST went: ``ok`` for a 2xx; ``status`` None when nothing answered."""

    ok: bool
    status: int | None
    error: str


def post(url: str, body: bytes, headers: dict[str, str], *, timeout: float = TIMEOUT_SECONDS) -> Attempt:
    """POST ``body`` to ``url`` (an http(s) URL a governance lead configured). 2xx is delivered;
    any other answer, or none, is a failed attempt (never an exception)."""
    request = urllib.request.Request(  # noqa: S310 - the URL is configured, not user input
        url, data=body, headers={"user-agent": USER_AGENT, **headers}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return Attempt(ok=200 <= response.status < 300, status=response.status, error="")
    except urllib.error.HTTPError as exc:
        return Attempt(ok=False, status=exc.code, error=str(exc.reason)[:200])
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        return Attempt(ok=False, status=None, error=str(exc)[:200])
