"""Exceptions: every refusal of the API carries its ``code``, its message and its field errors."""

from __future__ import annotations

from typing import Any


class CountersignError(Exception):
    """Base class of everything this package raises."""


class APIError(CountersignError):
    """The API refused the request: ``status`` (HTTP), ``code`` (the API's own, e.g. ``invalid``,
    ``not_pending``), ``detail`` (its message) and ``errors`` (messages per field)."""

    def __init__(
        self,
        *,
        status: int,
        code: str,
        detail: str,
        errors: dict[str, Any] | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.detail = detail
        self.errors = errors or {}
        self.retry_after = retry_after
        fields = f" {self.errors}" if self.errors else ""
        super().__init__(f"{status} {code}: {detail}{fields}")


class InvalidRequest(APIError):
    """400: the request itself is wrong (see ``errors``)."""


class AuthenticationFailed(APIError):
    """401: missing, invalid, revoked or expired credentials."""


class PermissionDenied(APIError):
    """403: not allowed (an integration signing, an action type not allowed to it...)."""


class NotFound(APIError):
    """404: no such decision, or not yours to see."""


class Conflict(APIError):
    """409: the decision is not in a state for this (not pending, already reported...)."""


class IdempotencyConflict(APIError):
    """422: the Idempotency-Key was used before with another body."""


class RateLimited(APIError):
    """429 after every retry: see ``retry_after``."""


class ServerError(APIError):
    """5xx after every retry."""


class VerdictTimeout(CountersignError):
    """``wait_for_verdict`` ran out of time: the decision is still pending (``decision``). Do not act."""

    def __init__(self, decision: Any, timeout: float) -> None:
        self.decision = decision
        self.timeout = timeout
        super().__init__(f"decision {decision.id} is still pending after {timeout:g} s: do not act on it")


class WebhookVerificationError(CountersignError):
    """A webhook whose signature, timestamp or headers do not check out: refuse it."""


BY_STATUS: dict[int, type[APIError]] = {
    400: InvalidRequest,
    401: AuthenticationFailed,
    403: PermissionDenied,
    404: NotFound,
    409: Conflict,
    422: IdempotencyConflict,
    429: RateLimited,
}


def error_for(status: int, body: Any, retry_after: float | None) -> APIError:
    """The exception for a refusal (``body``: the API's ``{"detail", "code", "errors"}``)."""
    body = body if isinstance(body, dict) else {}
    cls = BY_STATUS.get(status, ServerError if status >= 500 else APIError)
    return cls(
        status=status,
        code=str(body.get("code") or ("server_error" if status >= 500 else "error")),
        detail=str(body.get("detail") or f"HTTP {status}"),
        errors=body.get("errors") if isinstance(body.get("errors"), dict) else None,
        retry_after=retry_after,
    )
