"""How and when the person behind a request authenticated: what a sign-off records."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from allauth.account.authentication import get_authentication_records
from django.http import HttpRequest

# allauth's record methods, named as a sign-off shows them.
PRIMARY_METHODS = {"password": "password", "socialaccount": "sso", "passkey": "passkey"}


@dataclass(frozen=True)
class AuthContext:
    """``method``: password, sso, passkey, api_token or unknown; ``provider``: the IdP id (or
    "local"); ``authenticated_at``: the latest authentication of the session (a login or a
    re-authentication, MFA included); ``mfa``: a second factor was used in this session;
    ``via``: the session or a personal API token (which never satisfies a step-up policy)."""

    method: str
    provider: str
    authenticated_at: datetime | None
    mfa: bool
    via: str = "session"
    mfa_at: datetime | None = None

    def as_data(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "provider": self.provider,
            "authenticated_at": self.authenticated_at.isoformat() if self.authenticated_at else None,
            "mfa": self.mfa,
            "via": self.via,
        }


API_TOKEN = AuthContext(method="api_token", provider="local", authenticated_at=None, mfa=False, via="api_token")
UNKNOWN = AuthContext(method="unknown", provider="local", authenticated_at=None, mfa=False)


def auth_context_of(request: HttpRequest) -> AuthContext:
    """The session's authentication context from allauth's records (kept in the session).

    A session without records (a test's ``force_login``, a session from before allauth) is
    "unknown", with no time: it satisfies no step-up policy."""
    records = get_authentication_records(request, request.user)
    if not records:
        return UNKNOWN
    primary = [r for r in records if r.get("method") in PRIMARY_METHODS]
    first = primary[-1] if primary else records[-1]
    method = PRIMARY_METHODS.get(first.get("method", ""), "unknown")
    provider = first.get("provider", "local") if method == "sso" else "local"
    latest = max(float(r["at"]) for r in records if "at" in r)
    second = [float(r["at"]) for r in records if r.get("method") in {"mfa", "passkey"} and "at" in r]
    return AuthContext(
        method=method,
        provider=str(provider),
        authenticated_at=datetime.fromtimestamp(latest, tz=UTC),
        mfa=bool(second),
        mfa_at=datetime.fromtimestamp(max(second), tz=UTC) if second else None,
    )
