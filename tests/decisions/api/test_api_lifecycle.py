"""After intake: the integration cancels or corrects a pending decision, and reports the outcome
once a verdict is in."""

import pytest

from decisions.lifecycle import signing
from decisions.models import (
    DecisionEvent,
    DecisionRequest,
    DecisionRequestUserObjectPermission,
    DecisionStatus,
    EventKind,
    Outcome,
    SignOff,
)
from governance import rbac
from tests.decisions.scenarios import approve
from tests.governance.factories import make_user_in_group

pytestmark = pytest.mark.django_db

APPROVE = {"verdict": "approve", "reason_code": "evidence_sufficient", "rationale": "Confirmed on the EDR console."}
OUTCOME = {"kind": "true_positive", "reverted": False, "notes": "Implant found on disk."}


def url(decision, action: str = "") -> str:
    return f"/api/v1/decisions/{decision.public_id}/{action + '/' if action else ''}"


def kinds_after(decision, seq: int) -> list[str]:
    return list(DecisionEvent.objects.filter(decision=decision, seq__gt=seq).values_list("kind", flat=True))


@pytest.fixture
def approved(decision, signer):
    approve(decision, signer)
    return decision


@pytest.fixture
def two_approvals(make_staffed, make_caller, make_decision):
    """A pending decision under a two-approval policy, already approved by its first signer."""
    staffed = make_staffed(people=2, required_approvals=2)
    caller = make_caller(action_types=[staffed.action_type])
    decision = make_decision(caller.integration, staffed.action_type)
    signing.decision_sign_off(decision=decision, actor=staffed.signers[0], **APPROVE)
    return caller, DecisionRequest.objects.get(pk=decision.pk)


# --- Cancel ---------------------------------------------------------------------------------


def test_cancelling_a_pending_decision_is_a_200(api_client, decision):
    response = api_client.post(url(decision, "cancel"), {"reason": "duplicate alert"}, format="json")

    assert response.status_code == 200
    assert response.json()["status"] == DecisionStatus.CANCELLED


def test_cancelling_revokes_every_grant(api_client, decision):
    api_client.post(url(decision, "cancel"), {}, format="json")

    assert not DecisionRequestUserObjectPermission.objects.filter(content_object=decision).exists()


def test_cancelling_is_logged_with_the_reason(api_client, decision):
    api_client.post(url(decision, "cancel"), {"reason": "duplicate alert"}, format="json")

    event = DecisionEvent.objects.get(decision=decision, kind=EventKind.CANCELLED)
    assert (event.data["status"], event.data["reason"]) == (DecisionStatus.CANCELLED, "duplicate alert")


def test_cancelling_a_decided_decision_is_a_409(api_client, approved):
    response = api_client.post(url(approved, "cancel"), {}, format="json")

    assert response.status_code == 409
    assert response.json()["code"] == "decision_closed"


def test_cancelling_twice_is_a_409(api_client, decision):
    api_client.post(url(decision, "cancel"), {}, format="json")

    response = api_client.post(url(decision, "cancel"), {}, format="json")

    assert response.status_code == 409


def test_cancelling_another_integrations_decision_is_a_404(make_caller, staffed, decision):
    other = make_caller(action_types=[staffed.action_type])

    response = other.client.post(url(decision, "cancel"), {}, format="json")

    assert response.status_code == 404
    assert DecisionRequest.objects.get(pk=decision.pk).status == DecisionStatus.PENDING


def test_person_cannot_cancel(person_client, signer, decision):
    response = person_client(signer).post(url(decision, "cancel"), {}, format="json")

    assert response.status_code == 403


# --- Outcome --------------------------------------------------------------------------------


def test_outcome_after_the_verdict_is_a_201(api_client, approved):
    response = api_client.post(url(approved, "outcome"), OUTCOME, format="json")

    assert response.status_code == 201
    assert response.json()["outcome"] == OUTCOME


def test_outcome_is_logged(api_client, approved):
    api_client.post(url(approved, "outcome"), OUTCOME, format="json")

    assert DecisionEvent.objects.filter(decision=approved, kind=EventKind.OUTCOME_REPORTED).count() == 1


def test_second_outcome_is_a_409(api_client, approved):
    api_client.post(url(approved, "outcome"), OUTCOME, format="json")

    response = api_client.post(url(approved, "outcome"), {**OUTCOME, "kind": "false_positive"}, format="json")

    assert response.status_code == 409
    assert response.json()["code"] == "outcome_already_reported"


def test_outcome_while_pending_is_a_409(api_client, decision):
    response = api_client.post(url(decision, "outcome"), OUTCOME, format="json")

    assert response.status_code == 409
    assert not Outcome.objects.exists()


def test_outcome_after_cancelling_is_accepted(api_client, decision):
    api_client.post(url(decision, "cancel"), {}, format="json")

    response = api_client.post(url(decision, "outcome"), OUTCOME, format="json")

    assert response.status_code == 201


def test_unknown_outcome_kind_is_a_400(api_client, approved):
    response = api_client.post(url(approved, "outcome"), {"kind": "maybe"}, format="json")

    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["kind"]


# --- Correcting the payload -----------------------------------------------------------------


def test_patch_changes_the_recommendation(api_client, decision):
    response = api_client.patch(url(decision), {"recommendation": "Isolate and snapshot memory."}, format="json")

    assert response.status_code == 200
    assert response.json()["recommendation"] == "Isolate and snapshot memory."


def test_patch_bumps_the_payload_version(api_client, decision):
    response = api_client.patch(url(decision), {"recommendation": "Isolate and snapshot memory."}, format="json")

    assert response.json()["payload_version"] == 2


def test_patch_with_unchanged_values_keeps_the_payload_version(api_client, decision):
    response = api_client.patch(url(decision), {"title": decision.title}, format="json")

    assert response.json()["payload_version"] == 1


def test_patch_voids_an_earlier_approval(two_approvals):
    caller, decision = two_approvals

    caller.client.patch(url(decision), {"recommendation": "Isolate and snapshot memory."}, format="json")

    assert SignOff.objects.get(decision=decision).voided_at is not None


def test_patch_resets_the_approvals_received(two_approvals):
    caller, decision = two_approvals

    response = caller.client.patch(url(decision), {"recommendation": "Isolate and snapshot memory."}, format="json")

    assert (response.json()["approvals_received"], response.json()["status"]) == (0, DecisionStatus.PENDING)


def test_patch_logs_payload_changed_then_approvals_voided(two_approvals):
    caller, decision = two_approvals

    caller.client.patch(url(decision), {"recommendation": "Isolate and snapshot memory."}, format="json")

    assert kinds_after(decision, decision.event_count) == [EventKind.PAYLOAD_CHANGED, EventKind.APPROVALS_VOIDED]


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"blast_radius": "critical"}, id="alone"),
        pytest.param({"blast_radius": "low", "title": "Isolate laptop-042 now"}, id="with-a-mutable-field"),
        pytest.param({"ai_confidence": 0.99}, id="confidence"),
        pytest.param({"action_type": "enrich-ticket"}, id="action-type"),
    ],
)
def test_patch_of_a_routing_attribute_is_a_400(api_client, decision, change):
    response = api_client.patch(url(decision), change, format="json")

    assert response.status_code == 400
    assert next(iter(change)) in response.json()["errors"]


def test_refused_patch_changes_nothing(api_client, decision):
    api_client.patch(url(decision), {"blast_radius": "low", "title": "Isolate laptop-042 now"}, format="json")

    fresh = DecisionRequest.objects.get(pk=decision.pk)
    assert (fresh.title, fresh.blast_radius, fresh.payload_version) == (decision.title, decision.blast_radius, 1)


def test_empty_patch_is_a_400(api_client, decision):
    response = api_client.patch(url(decision), {}, format="json")

    assert response.status_code == 400


def test_patch_of_a_decided_decision_is_a_409(api_client, approved):
    response = api_client.patch(url(approved), {"title": "Too late"}, format="json")

    assert response.status_code == 409


def test_patch_of_another_integrations_decision_is_a_404(make_caller, staffed, decision):
    other = make_caller(action_types=[staffed.action_type])

    response = other.client.patch(url(decision), {"title": "Not mine"}, format="json")

    assert response.status_code == 404


def test_person_cannot_patch(person_client, signer, decision):
    response = person_client(signer).patch(url(decision), {"title": "Edited by a signer"}, format="json")

    assert response.status_code == 403


def test_auditor_cannot_report_an_outcome(person_client, approved):
    response = person_client(make_user_in_group(rbac.AUDITOR)).post(url(approved, "outcome"), OUTCOME, format="json")

    assert response.status_code == 403
