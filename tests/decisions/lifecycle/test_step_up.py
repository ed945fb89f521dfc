"""Step-up at signing: a policy that asks for a fresh authentication (or MFA) refuses a stale
one, records the authentication context on the sign-off and its event, and never takes an API token."""

from dataclasses import replace
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from decisions import integrations
from decisions.errors import StepUpRequired
from decisions.ledger.receipts import receipt_for
from decisions.lifecycle import signing
from decisions.models import DecisionEvent, EventKind, SignOff
from decisions.verifier import verify_receipt
from governance.identity.context import API_TOKEN, AuthContext
from governance.models import StepUp
from tests.decisions.factories import submit

pytestmark = pytest.mark.django_db

APPROVE = {"verdict": "approve", "reason_code": "evidence_sufficient", "rationale": "Confirmed on the EDR console."}


def sso(*, minutes_ago: float, mfa_minutes_ago: float | None = None, **extra) -> AuthContext:
    now = timezone.now()
    return AuthContext(
        method="sso",
        provider="acme",
        authenticated_at=now - timedelta(minutes=minutes_ago),
        fresh_at=now - timedelta(minutes=minutes_ago),
        auth_time_source="idp",
        mfa=mfa_minutes_ago is not None,
        mfa_at=now - timedelta(minutes=mfa_minutes_ago) if mfa_minutes_ago is not None else None,
        **extra,
    )


@pytest.fixture
def step_up(staffed):
    def make(mode: str, minutes: int = 5):
        staffed.policy.step_up = mode
        staffed.policy.step_up_minutes = minutes
        staffed.policy.save()
        return submit(staffed.action_type)

    return make


def test_a_stale_authentication_is_refused_and_nothing_is_signed(step_up, signer):
    decision = step_up(StepUp.RECENT)

    with pytest.raises(StepUpRequired, match="within the last 5 minutes"):
        signing.decision_sign_off(decision=decision, actor=signer, auth=sso(minutes_ago=6), **APPROVE)

    assert not SignOff.objects.filter(decision=decision).exists()


def test_an_unknown_authentication_is_refused_under_step_up(step_up, signer):
    decision = step_up(StepUp.RECENT)

    with pytest.raises(StepUpRequired):
        signing.decision_sign_off(decision=decision, actor=signer, **APPROVE)


def test_a_fresh_authentication_signs_and_the_event_records_it(step_up, signer):
    decision = step_up(StepUp.RECENT)
    auth = sso(minutes_ago=1)

    signoff = signing.decision_sign_off(decision=decision, actor=signer, auth=auth, **APPROVE)

    assert signoff.auth_context == auth.as_data()
    event = DecisionEvent.objects.get(decision=decision, kind=EventKind.SIGNED)
    assert event.data["auth"] == {
        "method": "sso",
        "provider": "acme",
        "authenticated_at": auth.authenticated_at.isoformat(),
        "auth_time_source": "idp",
        "mfa": False,
        "via": "session",
    }


def test_an_idp_sign_in_from_before_the_step_up_began_is_refused(step_up, signer):
    decision = step_up(StepUp.RECENT)
    stale = sso(minutes_ago=2, step_up_began=timezone.now() - timedelta(minutes=1))

    with pytest.raises(StepUpRequired, match="did not sign you in again"):
        signing.decision_sign_off(decision=decision, actor=signer, auth=stale, **APPROVE)

    assert not SignOff.objects.filter(decision=decision).exists()
    fresh = sso(minutes_ago=0.5, step_up_began=timezone.now() - timedelta(minutes=1))
    assert signing.decision_sign_off(decision=decision, actor=signer, auth=fresh, **APPROVE)


def test_a_saml_login_alone_cannot_prove_a_fresh_authentication(step_up, signer):
    decision = step_up(StepUp.RECENT)
    saml = replace(sso(minutes_ago=1), fresh_at=None, auth_time_source="portal")

    with pytest.raises(StepUpRequired, match="cannot prove a fresh authentication"):
        signing.decision_sign_off(decision=decision, actor=signer, auth=saml, **APPROVE)


def test_the_mfa_mode_asks_for_a_recent_second_factor(step_up, signer):
    decision = step_up(StepUp.MFA)

    with pytest.raises(StepUpRequired, match="second factor"):
        signing.decision_sign_off(decision=decision, actor=signer, auth=sso(minutes_ago=1), **APPROVE)
    with pytest.raises(StepUpRequired, match="second factor"):
        signing.decision_sign_off(
            decision=decision, actor=signer, auth=sso(minutes_ago=1, mfa_minutes_ago=30), **APPROVE
        )

    signoff = signing.decision_sign_off(
        decision=decision, actor=signer, auth=sso(minutes_ago=30, mfa_minutes_ago=1), **APPROVE
    )
    assert signoff.auth_context["mfa"] is True


def test_an_api_token_never_satisfies_step_up(step_up, signer):
    decision = step_up(StepUp.RECENT)

    with pytest.raises(StepUpRequired, match="API token"):
        signing.decision_sign_off(decision=decision, actor=signer, auth=API_TOKEN, **APPROVE)


def test_a_personal_token_sign_off_under_step_up_is_a_403_with_its_code(step_up, signer):
    decision = step_up(StepUp.RECENT)
    _row, token = integrations.personal_token_create(
        user=signer, name="cli", expires_at=timezone.now() + timedelta(days=1)
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")

    response = client.post(f"/api/v1/decisions/{decision.public_id}/signoffs/", APPROVE, format="json")

    assert response.status_code == 403
    assert response.json()["code"] == "step_up_required"
    assert not SignOff.objects.filter(decision=decision).exists()


def test_without_step_up_a_personal_token_still_signs_and_says_so(staffed, signer):
    decision = submit(staffed.action_type)
    _row, token = integrations.personal_token_create(
        user=signer, name="cli", expires_at=timezone.now() + timedelta(days=1)
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")

    response = client.post(f"/api/v1/decisions/{decision.public_id}/signoffs/", APPROVE, format="json")

    assert response.status_code == 201
    assert SignOff.objects.get(decision=decision).auth_context["via"] == "api_token"


def test_the_receipt_carries_the_signers_authentication_and_still_verifies(step_up, signer):
    decision = step_up(StepUp.RECENT)
    auth = sso(minutes_ago=1)
    signing.decision_sign_off(decision=decision, actor=signer, auth=auth, **APPROVE)
    decision.refresh_from_db()

    receipt = receipt_for(decision)

    (signed,) = [e for e in receipt["events"] if e["kind"] == EventKind.SIGNED]
    assert signed["data"]["auth"]["authenticated_at"] == auth.authenticated_at.isoformat()
    assert signed["data"]["auth"]["method"] == "sso"
    assert verify_receipt(receipt).ok


def test_a_browser_session_on_the_api_carries_its_authentication_context(staffed, signer):
    """The API takes the session's context only when the session authenticated the request."""
    decision = submit(staffed.action_type)
    client = APIClient()
    login = client.post("/accounts/login/", {"login": signer.username, "password": "correct-horse-battery"})
    assert login.status_code == 302

    response = client.post(f"/api/v1/decisions/{decision.public_id}/signoffs/", APPROVE, format="json")

    assert response.status_code == 201
    recorded = SignOff.objects.get(decision=decision).auth_context
    assert recorded["method"] == "password"
    assert recorded["via"] == "session"
