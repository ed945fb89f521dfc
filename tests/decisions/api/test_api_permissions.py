"""POST /api/v1/decisions/<id>/signoffs/: only an eligible person signs, through the API as in the
service. Integrations and the submitter never sign (segregation of duties); certification expiry
is checked at the moment of signing."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from decisions import integrations
from decisions.errors import SegregationOfDuties
from decisions.escalation import services as escalation
from decisions.lifecycle import signing
from decisions.models import DecisionStatus, Escalation, SignOff
from governance import rbac
from governance.models import Certification
from tests.governance.factories import CertificationFactory, make_user_in_group

pytestmark = pytest.mark.django_db

APPROVE = {"verdict": "approve", "reason_code": "evidence_sufficient", "rationale": "EDR shows C2 beaconing."}


def signoffs_url(decision) -> str:
    return f"/api/v1/decisions/{decision.public_id}/signoffs/"


def sign(client, decision, body=APPROVE):
    return client.post(signoffs_url(decision), body, format="json")


def test_eligible_signer_signs_201(person_client, signer, decision):
    response = sign(person_client(signer), decision)

    assert response.status_code == 201
    assert (response.json()["signer"], response.json()["verdict"]) == (signer.username, "approve")


def test_eligible_signers_approval_approves_a_one_approval_decision(person_client, signer, decision):
    sign(person_client(signer), decision)

    decision.refresh_from_db()
    assert decision.status == DecisionStatus.APPROVED


def test_eligible_signer_signs_with_a_personal_token(signer, decision):
    _row, token = integrations.personal_token_create(
        user=signer, name="cli", expires_at=timezone.now() + timedelta(days=1)
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")

    assert sign(client, decision).status_code == 201


def test_certified_person_not_on_call_cannot_see_the_decision_to_sign_it(person_client, staffed, decision):
    off_call = CertificationFactory(role=staffed.role).user

    response = sign(person_client(off_call), decision)

    assert response.status_code == 404
    assert not SignOff.objects.exists()


def test_reviewer_not_on_call_is_refused_403_not_eligible(person_client, staffed, decision):
    lead = make_user_in_group(rbac.GOVERNANCE_LEAD)
    CertificationFactory(user=lead, role=staffed.role)

    response = sign(person_client(lead), decision)

    assert response.status_code == 403
    assert response.json()["code"] == "not_eligible"


def test_signer_whose_certification_expired_after_routing_is_refused_403(person_client, signer, decision):
    certification = Certification.objects.get(user=signer)
    certification.valid_until = timezone.now() - timedelta(seconds=1)
    certification.save()

    response = sign(person_client(signer), decision)

    assert response.status_code == 403
    assert response.json()["code"] == "certification_expired"


def test_submitter_cannot_sign_through_the_api(person_client, signer, caller, staffed, make_decision):
    own = make_decision(caller.integration, staffed.action_type, actor=signer)

    response = sign(person_client(signer), own)

    assert response.status_code == 403
    assert response.json()["code"] == "segregation_of_duties"


def test_submitter_cannot_sign_in_the_service(signer, caller, staffed, make_decision):
    own = make_decision(caller.integration, staffed.action_type, actor=signer)

    with pytest.raises(SegregationOfDuties):
        signing.decision_sign_off(decision=own, actor=signer, **APPROVE)


def test_integration_key_cannot_sign(api_client, decision):
    response = sign(api_client, decision)

    assert response.status_code == 403
    assert response.json()["code"] == "segregation_of_duties"


def test_auditor_cannot_sign(person_client, decision):
    auditor = make_user_in_group(rbac.AUDITOR)

    response = sign(person_client(auditor), decision)

    assert response.status_code == 403
    assert response.json()["code"] == "not_eligible"


def test_anonymous_cannot_sign(decision):
    response = sign(APIClient(), decision)

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_refused_sign_off_stores_nothing(api_client, decision):
    sign(api_client, decision)

    assert not SignOff.objects.exists()


def test_one_person_counts_once(person_client, make_staffed, make_caller, make_decision):
    staffed = make_staffed(people=2, required_approvals=2)
    caller = make_caller(action_types=[staffed.action_type])
    pending = make_decision(caller.integration, staffed.action_type)
    client = person_client(staffed.signers[0])
    sign(client, pending)

    response = sign(client, pending)

    assert response.status_code == 409
    assert response.json()["code"] == "already_signed"


def test_signing_a_decided_decision_is_a_409(person_client, signer, decision):
    client = person_client(signer)
    sign(client, decision)

    response = sign(client, decision, {**APPROVE, "verdict": "reject", "reason_code": "false_positive"})

    assert response.status_code == 409
    assert response.json()["code"] == "decision_closed"


def test_reason_code_that_does_not_fit_the_verdict_is_a_400(person_client, signer, decision):
    response = sign(person_client(signer), decision, {**APPROVE, "reason_code": "false_positive"})

    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["reason_code"]


def test_override_without_the_changed_action_is_a_400(person_client, signer, decision):
    response = sign(person_client(signer), decision, {**APPROVE, "verdict": "override", "reason_code": "wrong_target"})

    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["override_action"]


def test_blank_rationale_is_a_400(person_client, signer, decision):
    response = sign(person_client(signer), decision, {**APPROVE, "rationale": "   "})

    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["rationale"]


def test_signoffs_are_listed_to_the_integration(person_client, signer, decision, api_client):
    sign(person_client(signer), decision)

    response = api_client.get(signoffs_url(decision))

    assert [s["signer"] for s in response.json()["results"]] == [signer.username]


# --- Routed to you, then closed: 409, not 404 -------------------------------------------------


@pytest.fixture
def expired(make_staffed, make_caller, make_decision):
    """A decision routed to its one signer under the fail-safe default, expired at its deadline."""
    staffed = make_staffed(policy=False)
    decision = make_decision(make_caller(action_types=[staffed.action_type]).integration, staffed.action_type)
    decision.refresh_from_db()
    late = decision.deadline + timedelta(seconds=1)
    escalation.decision_escalate(decision_id=decision.pk, from_step=0, reason=Escalation.Reason.TIMEOUT, now=late)
    decision.refresh_from_db()
    assert decision.status == DecisionStatus.EXPIRED
    return decision, staffed.signers[0]


@pytest.mark.parametrize(
    ("method", "path"), [("get", ""), ("get", "events/"), ("get", "signoffs/"), ("post", "signoffs/")]
)
def test_a_late_signer_of_an_expired_decision_gets_a_409_saying_so(person_client, expired, method, path):
    decision, late_signer = expired
    client = person_client(late_signer)
    url = f"/api/v1/decisions/{decision.public_id}/{path}"

    response = client.post(url, APPROVE, format="json") if method == "post" else client.get(url)

    assert response.status_code == 409
    assert response.json() == {
        "detail": "This decision no longer waits for you: it was expired.",
        "code": "no_longer_waits_for_you",
    }
    assert not SignOff.objects.filter(decision=decision).exists()


def test_a_signer_who_was_not_asked_still_gets_a_404(person_client, expired, make_staffed):
    decision, _ = expired
    stranger = make_staffed().signers[0]

    response = person_client(stranger).get(f"/api/v1/decisions/{decision.public_id}/")

    assert response.status_code == 404


def test_the_other_signer_of_an_approved_decision_gets_a_409(person_client, make_staffed, make_caller, make_decision):
    staffed = make_staffed(people=2)
    alice, bob = staffed.signers
    decision = make_decision(make_caller(action_types=[staffed.action_type]).integration, staffed.action_type)
    sign(person_client(alice), decision)

    response = sign(person_client(bob), decision)

    assert response.status_code == 409
    assert response.json()["detail"] == "This decision no longer waits for you: it was approved."
