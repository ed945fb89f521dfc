"""Sign-off, cancel, payload change and outcome services: verdicts, segregation of duties,
certification at the moment of signing, and terminal decisions staying terminal."""

from datetime import timedelta

import pytest
from django.utils import timezone

from decisions.errors import (
    AlreadySigned,
    CertificationExpired,
    DecisionClosed,
    InvalidInput,
    NotAllowed,
    NotEligible,
    OutcomeAlreadyReported,
    SegregationOfDuties,
)
from decisions.lifecycle import cancellation, corrections, outcomes, signing, snapshots
from decisions.models import (
    DecisionRequestUserObjectPermission,
    DecisionStatus,
    EventKind,
    Outcome,
    OutcomeKind,
    SignOff,
)
from governance import rbac
from governance.models import Certification
from tests.decisions.factories import make_integration, submit
from tests.decisions.scenarios import NARROWER, approve, override, pending, reject
from tests.governance.factories import (
    ActionTypeFactory,
    ApprovalPolicyFactory,
    CertificationFactory,
    UserFactory,
    make_staffed_action_type,
    make_user_in_group,
)

pytestmark = pytest.mark.django_db


def fresh(decision):
    decision.refresh_from_db()
    return decision


def grant_count(decision) -> int:
    return DecisionRequestUserObjectPermission.objects.filter(content_object=decision).count()


# --- verdicts -----------------------------------------------------------------------------


def test_approval_reaching_a_quorum_of_one_approves_the_decision():
    decision, (alice,) = pending()

    approve(decision, alice)

    assert fresh(decision).status == DecisionStatus.APPROVED
    assert decision.decided_at is not None


def test_approved_decision_executes_the_recommended_action():
    decision, (alice,) = pending()

    approve(decision, alice)

    assert fresh(decision).final_action == snapshots.recommended_action(decision)


def test_verdict_revokes_every_grant():
    decision, (alice,) = pending()

    approve(decision, alice)

    assert grant_count(decision) == 0
    assert not alice.has_perm("decisions.certify_decisionrequest", decision)


def test_sign_off_records_who_signed_as_which_role_and_why():
    decision, (alice,) = pending()

    signoff = approve(decision, alice)

    assert (signoff.signer, signoff.signed_as, signoff.verdict) == (alice, decision.owner_role, "approve")
    assert signoff.rationale == "Beaconing confirmed in EDR."
    assert signoff.certification_id_at_signing == Certification.objects.get(user=alice).pk


def test_sign_off_is_logged_with_its_rationale():
    decision, (alice,) = pending()

    approve(decision, alice)

    signed = decision.events.get(kind=EventKind.SIGNED)
    assert (signed.actor, signed.data["verdict"], signed.data["rationale"]) == (
        alice,
        "approve",
        "Beaconing confirmed in EDR.",
    )


def test_one_reject_rejects_the_decision_at_once():
    decision, (alice, _bob) = pending(signers=2, required_approvals=2)

    reject(decision, alice)

    assert fresh(decision).status == DecisionStatus.REJECTED
    assert decision.final_action is None
    assert grant_count(decision) == 0


def test_reject_after_an_approval_still_rejects():
    decision, (alice, bob) = pending(signers=2, required_approvals=2)
    approve(decision, alice)

    reject(decision, bob)

    assert fresh(decision).status == DecisionStatus.REJECTED


def test_override_marks_the_decision_overridden():
    decision, (alice,) = pending()

    override(decision, alice)

    assert fresh(decision).status == DecisionStatus.OVERRIDDEN


def test_overridden_decision_executes_the_changed_action():
    decision, (alice,) = pending()

    override(decision, alice)

    assert fresh(decision).final_action["target"] == NARROWER["target"]
    assert decision.final_action["overridden"] is True
    assert decision.final_action["action_type"] == decision.action_type.slug


def test_override_voids_earlier_approvals():
    decision, (alice, bob, _carol) = pending(signers=3, required_approvals=2)
    first = approve(decision, alice)

    override(decision, bob)

    first.refresh_from_db()
    assert first.voided_at is not None
    assert fresh(decision).status == DecisionStatus.PENDING
    assert decision.events.get(kind=EventKind.APPROVALS_VOIDED).data["signers"] == [alice.pk]


def test_approval_after_an_override_completes_the_overridden_action():
    decision, (alice, bob, carol) = pending(signers=3, required_approvals=2)
    approve(decision, alice)
    override(decision, bob)

    approve(decision, carol)

    assert fresh(decision).status == DecisionStatus.OVERRIDDEN
    assert decision.final_action["target"] == NARROWER["target"]


# --- input rules --------------------------------------------------------------------------


def test_reason_code_must_fit_the_verdict():
    decision, (alice,) = pending()

    with pytest.raises(InvalidInput) as raised:
        signing.decision_sign_off(
            decision=decision, actor=alice, verdict="approve", reason_code="false_positive", rationale="Looks fine."
        )

    assert raised.value.field == "reason_code"
    assert not SignOff.objects.exists()


def test_unknown_verdict_is_refused():
    decision, (alice,) = pending()

    with pytest.raises(InvalidInput) as raised:
        signing.decision_sign_off(decision=decision, actor=alice, verdict="maybe", reason_code="other", rationale="?")

    assert raised.value.field == "verdict"


@pytest.mark.parametrize("rationale", ["", "   \n\t"])
def test_rationale_is_mandatory(rationale):
    decision, (alice,) = pending()

    with pytest.raises(InvalidInput) as raised:
        signing.decision_sign_off(
            decision=decision, actor=alice, verdict="approve", reason_code="evidence_sufficient", rationale=rationale
        )

    assert raised.value.field == "rationale"
    assert fresh(decision).status == DecisionStatus.PENDING


def test_override_needs_the_changed_action():
    decision, (alice,) = pending()

    with pytest.raises(InvalidInput) as raised:
        signing.decision_sign_off(
            decision=decision, actor=alice, verdict="override", reason_code="scope_too_broad", rationale="Narrower."
        )

    assert raised.value.field == "override_action"


def test_only_an_override_carries_a_changed_action():
    decision, (alice,) = pending()

    with pytest.raises(InvalidInput) as raised:
        approve(decision, alice, override_action=NARROWER)

    assert raised.value.field == "override_action"


# --- segregation of duties and eligibility ------------------------------------------------


def test_integration_account_cannot_sign():
    decision, _people = pending()

    with pytest.raises(SegregationOfDuties):
        approve(decision, decision.integration.service_account)


def test_another_integrations_account_cannot_sign_either():
    decision, _people = pending()
    other = make_integration(decision.action_type)

    with pytest.raises(SegregationOfDuties):
        approve(decision, other.service_account)


def test_submitter_cannot_sign_own_request():
    action_type, _role, (alice, _bob) = make_staffed_action_type(signers=2)
    ApprovalPolicyFactory(action_types=[action_type])
    decision = submit(action_type, actor=alice)
    assert alice.has_perm("decisions.certify_decisionrequest", decision)  # eligible, and still refused

    with pytest.raises(SegregationOfDuties):
        approve(decision, alice)


def test_auditor_cannot_sign():
    decision, _people = pending()
    auditor = make_user_in_group(rbac.AUDITOR)

    with pytest.raises(NotEligible):
        approve(decision, auditor)


def test_person_without_a_grant_cannot_sign():
    decision, _people = pending()

    with pytest.raises(NotEligible):
        approve(decision, UserFactory())


def test_anonymous_actor_cannot_sign():
    decision, _people = pending()

    with pytest.raises(NotAllowed):
        approve(decision, None)


def test_deactivated_person_cannot_sign():
    decision, (alice,) = pending()
    alice.is_active = False
    alice.save()

    with pytest.raises(NotAllowed):
        approve(decision, alice)


def test_person_certified_for_the_role_but_not_granted_cannot_sign():
    decision, _people = pending()
    outsider = UserFactory()
    CertificationFactory(user=outsider, role=decision.owner_role)

    with pytest.raises(NotEligible):
        approve(decision, outsider)


def test_certification_expired_after_routing_is_refused_at_signing():
    decision, (alice,) = pending()
    certification = Certification.objects.get(user=alice)
    certification.valid_until = timezone.now() - timedelta(seconds=1)
    certification.save()

    with pytest.raises(CertificationExpired):
        approve(decision, alice)


def test_certification_expiring_before_the_signing_instant_is_refused():
    decision, (alice,) = pending()
    expiry = Certification.objects.get(user=alice).valid_until

    with pytest.raises(CertificationExpired):
        approve(decision, alice, now=expiry + timedelta(seconds=1))


def test_revoked_certification_is_refused_at_signing():
    decision, (alice,) = pending()
    certification = Certification.objects.get(user=alice)
    certification.revoked_at = timezone.now() - timedelta(seconds=1)
    certification.save()

    with pytest.raises(CertificationExpired):
        approve(decision, alice)


def test_refused_signature_leaves_no_sign_off_and_no_event():
    decision, (alice,) = pending()
    events = decision.event_count
    certification = Certification.objects.get(user=alice)
    certification.revoked_at = timezone.now() - timedelta(seconds=1)
    certification.save()

    with pytest.raises(CertificationExpired):
        approve(decision, alice)

    assert not SignOff.objects.exists()
    assert fresh(decision).event_count == events


def test_action_type_certification_counts_when_the_role_certification_lapsed():
    decision, (alice,) = pending()
    certification = Certification.objects.get(user=alice)
    certification.revoked_at = timezone.now() - timedelta(seconds=1)
    certification.save()
    action_cert = CertificationFactory(user=alice, role=None, action_type=decision.action_type)

    signoff = approve(decision, alice)

    assert signoff.certification_id_at_signing == action_cert.pk


def test_one_person_counts_once():
    decision, (alice, _bob) = pending(signers=2, required_approvals=2)
    approve(decision, alice)

    with pytest.raises(AlreadySigned):
        approve(decision, alice)

    assert SignOff.objects.filter(decision=decision).count() == 1
    assert fresh(decision).status == DecisionStatus.PENDING


# --- terminal decisions are immutable ------------------------------------------------------


def test_closed_decision_refuses_another_sign_off():
    decision, (alice, bob) = pending(signers=2)
    approve(decision, alice)

    with pytest.raises(DecisionClosed):
        approve(decision, bob)


def test_closed_decision_refuses_a_late_reject():
    decision, (alice, bob) = pending(signers=2)
    approve(decision, alice)

    with pytest.raises(DecisionClosed):
        reject(decision, bob)

    assert fresh(decision).status == DecisionStatus.APPROVED


def test_closed_decision_cannot_be_cancelled():
    decision, (alice,) = pending()
    approve(decision, alice)

    with pytest.raises(DecisionClosed):
        cancellation.decision_cancel(
            decision=decision, integration=decision.integration, actor=decision.integration.service_account
        )

    assert fresh(decision).status == DecisionStatus.APPROVED


def test_closed_decision_payload_cannot_change():
    decision, (alice,) = pending()
    approve(decision, alice)

    with pytest.raises(DecisionClosed):
        corrections.decision_update_payload(
            decision=decision,
            integration=decision.integration,
            actor=decision.integration.service_account,
            changes={"title": "Something else"},
        )

    assert fresh(decision).payload_version == 1


def test_auto_approved_decision_cannot_be_signed():
    action_type = ActionTypeFactory(automation=True)
    ApprovalPolicyFactory(action_types=[action_type], allow_auto_approval=True)
    decision = submit(action_type)

    with pytest.raises(DecisionClosed):
        approve(decision, UserFactory())


# --- cancel -------------------------------------------------------------------------------


def test_submitting_integration_can_cancel_a_pending_decision():
    decision, _people = pending()

    cancellation.decision_cancel(
        decision=decision, integration=decision.integration, actor=decision.integration.service_account, reason="dup"
    )

    assert fresh(decision).status == DecisionStatus.CANCELLED
    assert grant_count(decision) == 0


def test_cancel_is_logged_as_cancelled_not_decided():
    decision, _people = pending()

    cancellation.decision_cancel(
        decision=decision, integration=decision.integration, actor=decision.integration.service_account, reason="dup"
    )

    assert decision.events.get(kind=EventKind.CANCELLED).data["reason"] == "dup"
    assert not decision.events.filter(kind=EventKind.DECIDED).exists()


def test_another_integration_cannot_cancel():
    decision, _people = pending()
    other = make_integration(decision.action_type)

    with pytest.raises(NotAllowed):
        cancellation.decision_cancel(decision=decision, integration=other, actor=other.service_account)

    assert fresh(decision).status == DecisionStatus.PENDING


def test_cancelled_decision_cannot_be_signed():
    decision, (alice,) = pending()
    cancellation.decision_cancel(
        decision=decision, integration=decision.integration, actor=decision.integration.service_account
    )

    with pytest.raises(DecisionClosed):
        approve(decision, alice)


# --- payload change -----------------------------------------------------------------------


def change_payload(decision, **changes):
    return corrections.decision_update_payload(
        decision=decision, integration=decision.integration, actor=decision.integration.service_account, changes=changes
    )


def test_payload_change_voids_approvals_already_given():
    decision, (alice, _bob) = pending(signers=2, required_approvals=2)
    signoff = approve(decision, alice)

    change_payload(decision, target={"host": "fin-043.corp.example"})

    signoff.refresh_from_db()
    assert signoff.voided_at is not None
    assert signoff.void_reason == "the payload changed after this sign-off"


def test_payload_change_is_logged_with_before_and_after():
    decision, _people = pending()

    change_payload(decision, title="Isolate laptop FIN-043")

    changed = decision.events.get(kind=EventKind.PAYLOAD_CHANGED)
    assert changed.data["fields"] == ["title"]
    assert changed.data["before"] == {"title": "Isolate laptop FIN-042"}
    assert changed.data["after"] == {"title": "Isolate laptop FIN-043"}
    assert fresh(decision).payload_version == 2


def test_payload_change_logs_the_voided_approvals():
    decision, (alice, _bob) = pending(signers=2, required_approvals=2)
    approve(decision, alice)

    change_payload(decision, recommendation="Isolate both hosts.")

    kinds = list(decision.events.order_by("seq").values_list("kind", flat=True))
    assert kinds[-2:] == [EventKind.PAYLOAD_CHANGED, EventKind.APPROVALS_VOIDED]
    assert decision.events.get(kind=EventKind.APPROVALS_VOIDED).data["signers"] == [alice.pk]


def test_signer_whose_approval_was_voided_may_sign_the_corrected_payload():
    decision, (alice, bob) = pending(signers=2, required_approvals=2)
    approve(decision, alice)
    change_payload(decision, recommendation="Isolate both hosts.")
    approve(decision, bob)

    signoff = approve(decision, alice)

    assert signoff.payload_version == 2
    assert fresh(decision).status == DecisionStatus.APPROVED


def test_voided_approval_no_longer_counts_toward_the_quorum():
    decision, (alice, bob) = pending(signers=2, required_approvals=2)
    approve(decision, alice)
    change_payload(decision, recommendation="Isolate both hosts.")

    approve(decision, bob)

    assert fresh(decision).status == DecisionStatus.PENDING


def test_payload_change_without_a_difference_logs_nothing():
    decision, _people = pending()
    events = decision.event_count

    change_payload(decision, title=decision.title)

    assert fresh(decision).event_count == events
    assert decision.payload_version == 1


@pytest.mark.parametrize(
    ("field", "value"),
    [("blast_radius", 1), ("severity", 1), ("ai_confidence", "0.5"), ("action_type", None), ("customer_impact", True)],
)
def test_routing_attributes_cannot_change(field, value):
    decision, _people = pending()

    with pytest.raises(InvalidInput) as raised:
        change_payload(decision, **{field: value})

    assert raised.value.field == field
    assert fresh(decision).payload_version == 1


def test_another_integration_cannot_change_the_payload():
    decision, _people = pending()
    other = make_integration(decision.action_type)

    with pytest.raises(NotAllowed):
        corrections.decision_update_payload(
            decision=decision, integration=other, actor=other.service_account, changes={"title": "Hijacked"}
        )


# --- outcome ------------------------------------------------------------------------------


def test_outcome_is_recorded_once_the_decision_has_a_verdict():
    decision, (alice,) = pending()
    approve(decision, alice)

    outcome = outcomes.decision_report_outcome(
        decision=decision, actor=decision.integration.service_account, kind=OutcomeKind.TRUE_POSITIVE
    )

    assert Outcome.objects.get(decision=decision) == outcome
    assert decision.events.get(kind=EventKind.OUTCOME_REPORTED).data["kind"] == "true_positive"


def test_outcome_of_a_pending_decision_is_refused():
    decision, _people = pending()

    with pytest.raises(DecisionClosed):
        outcomes.decision_report_outcome(
            decision=decision, actor=decision.integration.service_account, kind=OutcomeKind.FALSE_POSITIVE
        )


def test_outcome_is_reported_only_once():
    decision, (alice,) = pending()
    approve(decision, alice)
    account = decision.integration.service_account
    outcomes.decision_report_outcome(decision=decision, actor=account, kind=OutcomeKind.TRUE_POSITIVE)

    with pytest.raises(OutcomeAlreadyReported):
        outcomes.decision_report_outcome(
            decision=decision, actor=account, kind=OutcomeKind.FALSE_POSITIVE, reverted=True
        )


def test_an_override_cannot_turn_the_decision_into_another_action_type():
    decision, (alice,) = pending()
    other = ActionTypeFactory()

    with pytest.raises(InvalidInput, match="not which action"):
        override(decision, alice, action={"action_type": other.slug, "target": {"host": "x"}})
