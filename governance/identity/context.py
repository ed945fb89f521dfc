"""How and when the person behind a request authenticated: what a sign-off records."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from allauth.account.authentication import AUTHENTICATION_METHODS_SESSION_KEY, get_authentication_records
from django.http import HttpRequest

# allauth's record methods, named as a sign-off shows them.
PRIMARY_METHODS = {"password": "password", "socialaccount": "sso", "passkey": "passkey"}
# OIDC ``amr`` values (RFC 8176) that mean a second factor (or a phishing-resistant key) was used.
MFA_AMR = {"mfa", "otp", "hwk", "swk", "sms", "tel", "fido", "face", "fpt", "iris", "retina", "vbm", "sc"}


@dataclass(frozen=True)
class AuthContext:
    """``method``: password, sso, passkey, api_token or unknown; ``provider``: the IdP id (or
    "local"); ``authenticated_at``: the latest authentication of the session (a login or a
    re-authentication, MFA included; for an OIDC login, the ID token's ``auth_time``);
    ``auth_time_source``: "idp" when the IdP asserted that time, "portal" when it is only when the
    login came back to the portal (unverified); ``mfa``: a second factor was used in this session
    (locally, or asserted by the IdP's ``amr``); ``via``: the session or a personal API token (which
    never satisfies a step-up policy); ``fresh_at``: the latest authentication that can prove a
    step-up (a SAML login's callback time cannot: allauth cannot ask the IdP to re-authenticate).
    Sessions recorded before these fields have neither ``auth_time_source`` nor ``fresh``: they
    count as "portal" and fresh, as they did."""

    method: str
    provider: str
    authenticated_at: datetime | None
    mfa: bool
    via: str = "session"
    mfa_at: datetime | None = None
    auth_time_source: str = "portal"
    fresh_at: datetime | None = None
    # When this person's step-up round trip for the decision began (the web pages set it): an
    # SSO authentication from before then is not the re-authentication that was asked for.
    step_up_began: datetime | None = None

    def as_data(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "provider": self.provider,
            "authenticated_at": self.authenticated_at.isoformat() if self.authenticated_at else None,
            "auth_time_source": self.auth_time_source,
            "mfa": self.mfa,
            "via": self.via,
        }


API_TOKEN = AuthContext(method="api_token", provider="local", authenticated_at=None, mfa=False, via="api_token")
UNKNOWN = AuthContext(method="unknown", provider="local", authenticated_at=None, mfa=False)


def idp_facts(extra_data: Mapping[str, Any], *, protocol: str) -> dict[str, Any]:
    """What an SSO login's data says about the authentication itself, kept on its session record:
    ``auth_time`` (the ID token's, OIDC) and its source, whether the IdP's ``amr`` claims a second
    factor, and whether the login can prove a fresh authentication (``fresh``: not for SAML)."""
    id_token = extra_data.get("id_token")
    claims: Mapping[str, Any] = id_token if isinstance(id_token, Mapping) else {}
    facts: dict[str, Any] = {"auth_time_source": "portal", "fresh": protocol != "saml"}
    auth_time = claims.get("auth_time")
    if isinstance(auth_time, int | float) and not isinstance(auth_time, bool) and auth_time > 0:
        facts.update(auth_time=float(auth_time), auth_time_source="idp", fresh=True)
    amr = claims.get("amr")
    amr_values = [str(v) for v in amr] if isinstance(amr, list | tuple) else []
    facts["amr"] = amr_values
    facts["idp_mfa"] = bool(MFA_AMR & set(amr_values))
    return facts


def note_sso_authentication(sender: object, request: HttpRequest, user: object, **kwargs: Any) -> None:
    """user_logged_in: put what the IdP said about this SSO login on its authentication record
    (allauth records the login just before this signal)."""
    sociallogin = kwargs.get("sociallogin")
    if sociallogin is None:
        return
    records = request.session.get(AUTHENTICATION_METHODS_SESSION_KEY)
    if not isinstance(records, list):
        return
    account = sociallogin.account
    for record in reversed(records):
        if record.get("method") == "socialaccount" and record.get("uid") == account.uid:
            protocol = account.get_provider(request).app.provider
            record.update(idp_facts(account.extra_data or {}, protocol=protocol))
            if "auth_time" in record:  # an IdP clock ahead of ours never makes a login fresher
                record["auth_time"] = min(record["auth_time"], float(record["at"]))
            break
    request.session[AUTHENTICATION_METHODS_SESSION_KEY] = records


def _time(record: Mapping[str, Any]) -> float:
    """When a record's authentication happened: the IdP's ``auth_time`` if it sent one."""
    return float(record.get("auth_time", record["at"]))


def auth_context_of(request: HttpRequest) -> AuthContext:
    """The session's authentication context from allauth's records (kept in the session).

    A session without records (a test's ``force_login``, a session from before allauth) is
    "unknown", with no time: it satisfies no step-up policy."""
    records = [r for r in get_authentication_records(request, request.user) if "at" in r]
    if not records:
        return UNKNOWN
    primary = [r for r in records if r.get("method") in PRIMARY_METHODS]
    first = primary[-1] if primary else records[-1]
    method = PRIMARY_METHODS.get(first.get("method", ""), "unknown")
    provider = first.get("provider", "local") if method == "sso" else "local"
    latest = max(records, key=_time)
    second = [_time(r) for r in records if r.get("method") in {"mfa", "passkey"} or r.get("idp_mfa")]
    fresh = [_time(r) for r in records if r.get("fresh", True)]
    return AuthContext(
        method=method,
        provider=str(provider),
        authenticated_at=datetime.fromtimestamp(_time(latest), tz=UTC),
        auth_time_source=str(latest.get("auth_time_source", "portal")),
        mfa=bool(second),
        mfa_at=datetime.fromtimestamp(max(second), tz=UTC) if second else None,
        fresh_at=datetime.fromtimestamp(max(fresh), tz=UTC) if fresh else None,
    )
