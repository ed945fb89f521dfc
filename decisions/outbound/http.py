"""One HTTP POST helper for everything that leaves the portal (verdict webhooks, chat messages).

The URL is checked against ``governance.urlguard`` at the moment of sending, and the connection
goes to the address that check approved (the Host header and the TLS certificate still name the
host), so DNS answering differently a second time cannot redirect the request. Redirects are
never followed: a 3xx is a failed attempt.
"""

from __future__ import annotations

import http.client
import socket
import ssl
from dataclasses import dataclass

from governance.urlguard import RefusedURL, Target, checked_target

TIMEOUT_SECONDS = 10
USER_AGENT = "Countersign/1"


@dataclass(frozen=True)
class Attempt:
    """How one POST went: ``ok`` for a 2xx; ``status`` None when nothing answered."""

    ok: bool
    status: int | None
    error: str


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self._address = target.address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout, context=ssl.create_default_context())
        self._address = target.address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


def post(
    url: str, body: bytes, headers: dict[str, str], *, timeout: float = TIMEOUT_SECONDS, guarded: bool = True
) -> Attempt:
    """POST ``body`` to ``url`` (an http(s) URL a governance lead configured). 2xx is delivered;
    any other answer, none, or a URL the guard refuses is a failed attempt (never an exception).
    ``guarded=False`` only for URLs the operator set in the environment (the ledger witness)."""
    try:
        target = checked_target(url, enforce=None if guarded else False)
    except RefusedURL as exc:
        return Attempt(ok=False, status=None, error=f"refused: {exc}"[:200])
    connection_class = _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
    connection = connection_class(target, timeout)
    try:
        connection.request("POST", target.path, body=body, headers={"user-agent": USER_AGENT, **headers})
        response = connection.getresponse()
        response.read()
        ok = 200 <= response.status < 300
        return Attempt(ok=ok, status=response.status, error="" if ok else str(response.reason)[:200])
    except (http.client.HTTPException, TimeoutError, OSError) as exc:
        return Attempt(ok=False, status=None, error=str(exc)[:200])
    finally:
        connection.close()
