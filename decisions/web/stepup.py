"""Step-up at signing, on the pages: keep what the signer typed, send them to re-authenticate
(an SSO round trip, their password, or their second factor), bring them back to the form.

Whether a fresh authentication is needed is decided by ``signing.decision_sign_off`` (which
raises ``StepUpRequired``); this module only does the round trip.
"""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from allauth.mfa.utils import is_mfa_enabled
from allauth.socialaccount.adapter import get_adapter as get_social_adapter
from allauth.socialaccount.models import SocialAccount
from django.contrib import messages
from django.core.cache import cache
from django.http import HttpResponse, QueryDict
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode

from decisions.actors import SignedInRequest
from decisions.models import DecisionRequest
from governance.identity.context import AuthContext, auth_context_of
from governance.models import StepUp

DRAFT_FIELDS = ("verdict", "reason_code", "rationale", "override_action")
# Long enough for an SSO round trip with an MFA prompt at the IdP; the draft is then dropped.
DRAFT_SECONDS = 15 * 60


def _draft_key(request: SignedInRequest, decision: DecisionRequest, kind: str) -> str:
    return f"countersign:{kind}-draft:{request.user.pk}:{decision.public_id}"


def _began_key(request: SignedInRequest, decision: DecisionRequest) -> str:
    return f"countersign:stepup-began:{request.user.pk}:{decision.public_id}"


def auth_context_at_signing(request: SignedInRequest, decision: DecisionRequest) -> AuthContext:
    """The session's authentication context, with when this person's step-up round trip for
    ``decision`` began (if one did): an IdP sign-in from before then does not count as fresh."""
    context = auth_context_of(request)
    began = cache.get(_began_key(request, decision)) if decision.snapshot.get("step_up") else None
    if began is None:
        return context
    return replace(context, step_up_began=datetime.fromtimestamp(float(began), tz=UTC))


def keep_draft(
    request: SignedInRequest,
    decision: DecisionRequest,
    data: QueryDict,
    *,
    kind: str = "signoff",
    fields: tuple[str, ...] = DRAFT_FIELDS,
) -> None:
    """Kept in the shared cache, not the session: an SSO re-login starts a new session (allauth
    signs the old one out first). Keyed by the person, so only they get it back; ``kind`` tells
    the forms apart (a sign-off, a break-glass, a break-glass review)."""
    cache.set(_draft_key(request, decision, kind), {name: data.get(name, "") for name in fields}, DRAFT_SECONDS)


def take_draft(request: SignedInRequest, decision: DecisionRequest, *, kind: str = "signoff") -> dict[str, str] | None:
    """The kept draft for ``decision`` (removed), or None. Looked for only on the way back from
    re-authenticating (``?draft=kept``), so a plain visit reads no cache."""
    if request.GET.get("draft") != "kept":
        return None
    key = _draft_key(request, decision, kind)
    draft = cache.get(key)
    if draft is not None:
        cache.delete(key)
    return draft


def reauthenticate(
    request: SignedInRequest,
    decision: DecisionRequest,
    *,
    draft: QueryDict,
    why: str,
    kind: str = "signoff",
    fields: tuple[str, ...] = DRAFT_FIELDS,
    page: str | None = None,
    kept: str = "verdict",
) -> HttpResponse:
    """Keep the draft, then redirect to the way this person proves it is them again; they come
    back to ``page`` (the decision's page unless given) with ``?draft=kept``."""
    keep_draft(request, decision, draft, kind=kind, fields=fields)
    cache.set(_began_key(request, decision), time.time(), DRAFT_SECONDS)
    back = (page or reverse("decisions:detail", kwargs={"public_id": decision.public_id})) + "?draft=kept"
    step_up = decision.snapshot.get("step_up") or {}
    mode = step_up.get("mode")
    messages.info(request, f"{why} Your {kept} is kept: confirm who you are and it comes back to the form.")
    idp = _oidc_provider_of(request)
    if mode == StepUp.MFA:
        if is_mfa_enabled(request.user):
            return redirect(f"{reverse('mfa_reauthenticate')}?{urlencode({'next': back})}")
        if idp is not None:
            # The IdP's second factor counts when its ID token says so (``amr``).
            return _to_idp(request, idp, back, step_up, mfa=True)
        messages.warning(request, "Set up a second factor (an authenticator app or a passkey) first.")
        return redirect(f"{reverse('mfa_index')}?{urlencode({'next': back})}")
    if idp is not None:
        return _to_idp(request, idp, back, step_up, mfa=False)
    # A local account, or SAML (allauth cannot ask a SAML IdP to re-authenticate: its callback
    # time proves nothing), re-authenticates here: the password, or the second factor.
    if is_mfa_enabled(request.user) and not request.user.has_usable_password():
        return redirect(f"{reverse('mfa_reauthenticate')}?{urlencode({'next': back})}")
    return redirect(f"{reverse('account_reauthenticate')}?{urlencode({'next': back})}")


def _oidc_provider_of(request: SignedInRequest) -> Any | None:
    """The OIDC provider this signer signs in with (their session's, else their linked account's
    when they have no password), or None (a local account, or SAML)."""
    context = auth_context_of(request)
    provider_id = context.provider if context.method == "sso" else None
    if provider_id is None and not request.user.has_usable_password():
        account = SocialAccount.objects.filter(user=request.user).order_by("-last_login").first()
        provider_id = account.provider if account is not None else None
    if provider_id is None:
        return None
    provider = get_social_adapter().get_provider(request, provider_id)
    return provider if provider.app.provider == "openid_connect" else None


def _to_idp(request: SignedInRequest, provider: Any, back: str, step_up: dict[str, Any], *, mfa: bool) -> HttpResponse:
    """The OIDC round trip of a step-up: ``prompt=login`` and ``max_age`` make the IdP sign the
    person in again (its ID token's ``auth_time`` then proves it); an MFA step-up also asks for
    the IdP's configured ``step_up_acr_values``, if any."""
    params = {"prompt": "login", "max_age": str(int(step_up.get("within_seconds", 0)))}
    acr = provider.app.settings.get("step_up_acr_values")
    if mfa and acr:
        params["acr_values"] = str(acr)
    return redirect(provider.get_login_url(request, process="login", next=back, auth_params=urlencode(params)))
