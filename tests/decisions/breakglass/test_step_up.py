"""Step-up holds for break-glass and its review as for signing: a stale (or unknown, or API
token) authentication is refused, a fresh one is recorded on the ``break_glass`` and
``break_glass_reviewed`` events; on the pages a stale session is sent to re-authenticate and
comes back with what it typed."""

from datetime import timedelta
from urllib.parse import quote

import pytest
from django.core.cache import cache
from django.utils import timezone

from decisions.breakglass import services
from decisions.errors import StepUpRequired
from decisions.models import BreakGlass, DecisionEvent, DecisionStatus, EventKind
from governance.identity.context import API_TOKEN, AuthContext
from governance.models import StepUp

pytestmark = pytest.mark.django_db

REASON = "Worm spreading across the finance VLAN; second approver unreachable."
PASSWORD = "correct-horse-battery"


def sso(*, minutes_ago: float) -> AuthContext:
    """An OIDC sign-in whose time the IdP asserted (``auth_time``): fresh as of then."""
    at = timezone.now() - timedelta(minutes=minutes_ago)
    return AuthContext(
        method="sso", provider="acme", authenticated_at=at, fresh_at=at, auth_time_source="idp", mfa=False
    )


@pytest.fixture
def stepped(glass, make_decision):
    """A decision routed under a policy that asks for an authentication within five minutes."""
    glass.staffed.policy.step_up = StepUp.RECENT
    glass.staffed.policy.step_up_minutes = 5
    glass.staffed.policy.save()
    glass.decision = make_decision(glass.caller.integration, glass.staffed.action_type)
    assert glass.decision.snapshot["step_up"]["mode"] == StepUp.RECENT
    return glass


@pytest.mark.parametrize("auth", [None, API_TOKEN, "stale"])
def test_a_stale_unknown_or_token_authentication_cannot_break_glass(stepped, auth):
    auth = sso(minutes_ago=10) if auth == "stale" else auth

    with pytest.raises(StepUpRequired):
        services.decision_break_glass(decision=stepped.decision, actor=stepped.signers[0], reason=REASON, auth=auth)

    stepped.decision.refresh_from_db()
    assert stepped.decision.status == DecisionStatus.PENDING
    assert not BreakGlass.objects.exists()


def test_a_fresh_authentication_breaks_glass_and_both_events_record_it(stepped):
    used = services.decision_break_glass(
        decision=stepped.decision, actor=stepped.signers[0], reason=REASON, auth=sso(minutes_ago=1)
    )
    event = DecisionEvent.objects.get(decision=stepped.decision, kind=EventKind.BREAK_GLASS)
    assert event.data["auth"]["method"] == "sso"
    assert event.data["auth"]["provider"] == "acme"
    assert event.data["auth"]["via"] == "session"

    with pytest.raises(StepUpRequired):
        services.break_glass_review(
            used=used, actor=stepped.signers[1], verdict="confirmed", rationale="Justified.", auth=sso(minutes_ago=10)
        )
    services.break_glass_review(
        used=used, actor=stepped.signers[1], verdict="confirmed", rationale="Justified.", auth=sso(minutes_ago=2)
    )
    reviewed = DecisionEvent.objects.get(decision=stepped.decision, kind=EventKind.BREAK_GLASS_REVIEWED)
    assert reviewed.data["auth"]["method"] == "sso"


def test_without_step_up_the_event_still_says_how_the_breaker_authenticated(glass):
    services.decision_break_glass(decision=glass.decision, actor=glass.signers[0], reason=REASON, auth=API_TOKEN)

    event = DecisionEvent.objects.get(decision=glass.decision, kind=EventKind.BREAK_GLASS)
    assert event.data["auth"]["via"] == "api_token"


def _stale_login(client, user) -> None:
    cache.clear()
    assert client.post("/accounts/login/", {"login": user.username, "password": PASSWORD}).status_code == 302
    session = client.session
    records = session["account_authentication_methods"]
    for record in records:
        record["at"] -= 600  # signed in ten minutes ago
    session["account_authentication_methods"] = records
    session.save()


def test_a_stale_session_is_sent_to_re_authenticate_and_comes_back_with_its_reason(client, stepped):
    page = f"/decisions/{stepped.decision.public_id}/"
    _stale_login(client, stepped.signers[0])

    response = client.post(f"{page}break-glass/", {"glass-reason": REASON, "glass-understood": "on"})

    assert response.status_code == 302
    assert response.url == f"/accounts/reauthenticate/?next={quote(page + '?draft=kept', safe='')}"
    assert not BreakGlass.objects.exists()
    back = client.post(response.url, {"password": PASSWORD})
    assert back.url == f"{page}?draft=kept"
    assert f"{REASON}</textarea>" in client.get(back.url).text

    broken = client.post(f"{page}break-glass/", {"glass-reason": REASON, "glass-understood": "on"})

    used = BreakGlass.objects.get()
    assert broken.url == f"/decisions/break-glass/{used.public_id}/"
    event = DecisionEvent.objects.get(decision=stepped.decision, kind=EventKind.BREAK_GLASS)
    assert event.data["auth"]["method"] == "password"


def test_a_stale_reviewer_is_sent_to_re_authenticate_and_comes_back_with_the_review(client, stepped):
    used = services.decision_break_glass(
        decision=stepped.decision, actor=stepped.signers[0], reason=REASON, auth=sso(minutes_ago=1)
    )
    page = f"/decisions/break-glass/{used.public_id}/"
    _stale_login(client, stepped.signers[1])

    response = client.post(page, {"verdict": "condemned", "rationale": "It could have waited an hour."})

    assert response.status_code == 302
    assert response.url == f"/accounts/reauthenticate/?next={quote(page + '?draft=kept', safe='')}"
    used.refresh_from_db()
    assert not used.is_reviewed
    back = client.post(response.url, {"password": PASSWORD})
    assert "It could have waited an hour.</textarea>" in client.get(back.url).text
