"""Step-up at signing, on the pages: keep what the signer typed, send them to re-authenticate
(an SSO round trip, their password, or their second factor), bring them back to the form.

Whether a fresh authentication is needed is decided by ``signing.decision_sign_off`` (which
raises ``StepUpRequired``); this module only does the round trip.
"""

from __future__ import annotations

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
from governance.identity.context import auth_context_of
from governance.models import StepUp

DRAFT_FIELDS = ("verdict", "reason_code", "rationale", "override_action")
# Long enough for an SSO round trip with an MFA prompt at the IdP; the draft is then dropped.
DRAFT_SECONDS = 15 * 60


def _draft_key(request: SignedInRequest, decision: DecisionRequest, kind: str) -> str:
    return f"countersign:{kind}-draft:{request.user.pk}:{decision.public_id}"


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
    back = (page or reverse("decisions:detail", kwargs={"public_id": decision.public_id})) + "?draft=kept"
    mode = (decision.snapshot.get("step_up") or {}).get("mode")
    messages.info(request, f"{why} Your {kept} is kept: confirm who you are and it comes back to the form.")
    if mode == StepUp.MFA:
        if not is_mfa_enabled(request.user):
            messages.warning(request, "Set up a second factor (an authenticator app or a passkey) first.")
            return redirect(f"{reverse('mfa_index')}?{urlencode({'next': back})}")
        return redirect(f"{reverse('mfa_reauthenticate')}?{urlencode({'next': back})}")
    context = auth_context_of(request)
    account = SocialAccount.objects.filter(user=request.user).order_by("-last_login").first()
    provider_id = context.provider if context.method == "sso" else None
    if provider_id is None and account is not None and not request.user.has_usable_password():
        provider_id = account.provider
    if provider_id is not None:
        provider = get_social_adapter().get_provider(request, provider_id)
        return redirect(provider.get_login_url(request, process="login", next=back, auth_params="prompt=login"))
    return redirect(f"{reverse('account_reauthenticate')}?{urlencode({'next': back})}")
