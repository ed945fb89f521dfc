"""Routing on intake: the frozen snapshot, who gets the certify permission, auto-approval,
ownership gaps moving down the chain, and the fail-safe default."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from decisions.errors import IdempotencyConflict, NotAllowed, PendingCapReached
from decisions.lifecycle import intake, snapshots, stages
from decisions.lifecycle.writes import DecisionWrites
from decisions.models import CERTIFY, DecisionRequest, DecisionRequestUserObjectPermission, DecisionStatus, EventKind
from governance.models import Certification, EscalationChain, RosterMember
from governance.selectors import on_call
from governance.services import approval_policy_save
from tests.decisions.factories import decision_data, make_integration, submit
from tests.governance.factories import (
    ActionTypeFactory,
    ApprovalPolicyFactory,
    DecisionRoleFactory,
    EscalationChainFactory,
    OwnershipAssignmentFactory,
    RosterFactory,
    UserFactory,
    make_owned_action_type,
    make_signers,
    make_staffed_action_type,
)

pytestmark = pytest.mark.django_db

PERM = "decisions.certify_decisionrequest"


def granted_ids(decision) -> set[int]:
    return set(
        DecisionRequestUserObjectPermission.objects.filter(
            content_object=decision, permission__codename=CERTIFY
        ).values_list("user_id", flat=True)
    )


def kinds(decision) -> list[str]:
    return list(decision.events.order_by("seq").values_list("kind", flat=True))


def gap_chain(*, final_outcome=EscalationChain.FinalOutcome.EXPIRE):
    """A one-step chain whose role has nobody on call."""
    return EscalationChainFactory(steps=[(DecisionRoleFactory(), 300)], final_outcome=final_outcome)


# --- the snapshot ---------------------------------------------------------------------------


def test_snapshot_freezes_the_matched_policy_id_name_and_version():
    action_type, _role, _people = make_staffed_action_type()
    policy = ApprovalPolicyFactory(action_types=[action_type], name="Containment")

    decision = submit(action_type)

    assert decision.snapshot["policy"] == {
        "id": policy.pk,
        "public_id": str(policy.public_id),
        "name": "Containment",
        "priority": policy.priority,
        "version": 1,
    }
    assert (decision.policy_id, decision.policy_version) == (policy.pk, 1)


def test_snapshot_records_why_the_policy_matched():
    action_type, _role, _people = make_staffed_action_type(slug="isolate-host")
    ApprovalPolicyFactory(action_types=[action_type], min_severity=2)

    decision = submit(action_type, severity=3)

    assert decision.snapshot["matched_because"] == ["action type isolate-host is listed", "severity High ≥ Medium"]


def test_snapshot_records_the_owner_role():
    action_type, role, _people = make_staffed_action_type()
    ApprovalPolicyFactory(action_types=[action_type])

    decision = submit(action_type)

    assert decision.owner_role == role
    assert decision.snapshot["owner"]["role"] == {"id": role.pk, "slug": role.slug, "name": role.name}


def test_snapshot_records_required_approvals_and_time_to_act():
    action_type, _role, _people = make_staffed_action_type(signers=2)
    ApprovalPolicyFactory(action_types=[action_type], required_approvals=2, time_to_act_seconds=420)

    decision = submit(action_type)

    assert decision.required_approvals == 2
    assert decision.snapshot["required_approvals"] == 2
    assert decision.snapshot["time_to_act_seconds"] == 420


def test_snapshot_freezes_the_escalation_chain_steps():
    action_type, _role, _people = make_staffed_action_type()
    lead, commander = DecisionRoleFactory(name="Shift Lead"), DecisionRoleFactory(name="Incident Commander")
    chain = EscalationChainFactory(name="Containment chain", steps=[(lead, 300), (commander, 600)])
    ApprovalPolicyFactory(action_types=[action_type], escalation_chain=chain)

    decision = submit(action_type)

    assert decision.snapshot["chain"] == {
        "id": chain.pk,
        "name": "Containment chain",
        "final_outcome": "expire",
        "steps": [
            {"position": 0, "role_id": lead.pk, "role": "Shift Lead", "wait_seconds": 300},
            {"position": 1, "role_id": commander.pk, "role": "Incident Commander", "wait_seconds": 600},
        ],
    }


def test_snapshot_lists_each_eligible_person_with_why():
    action_type, role, (alice,) = make_staffed_action_type()
    ApprovalPolicyFactory(action_types=[action_type])
    roster = alice.rosters.get()

    decision = submit(action_type)

    (stage,) = decision.snapshot["stages"]
    (entry,) = stage["eligible"]
    assert (stage["step"], stage["role"]["id"]) == (0, role.pk)
    assert (entry["user_id"], entry["username"], entry["role_id"]) == (alice.pk, alice.username, role.pk)
    assert entry["why"].startswith(f"on call for {role.name} via roster {roster.name} on the rotation; certified until")


def test_changing_the_policy_afterwards_leaves_the_snapshot_unchanged(now):
    action_type, _role, _people = make_staffed_action_type(signers=2)
    policy = ApprovalPolicyFactory(action_types=[action_type], name="Before", time_to_act_seconds=600)
    decision = submit(action_type)
    before = decision.snapshot

    policy.name, policy.required_approvals, policy.time_to_act_seconds = "After", 2, 60
    approval_policy_save(
        actor=None, policy=policy, action_types=[action_type], cosigner_roles=[], reason="tighten", at=now
    )

    decision.refresh_from_db()
    assert policy.version == 2
    assert decision.snapshot == before
    assert (decision.policy_version, decision.required_approvals) == (1, 1)


def test_changing_the_roster_afterwards_leaves_the_snapshot_unchanged():
    action_type, role, (alice,) = make_staffed_action_type()
    ApprovalPolicyFactory(action_types=[action_type])
    decision = submit(action_type)
    before = decision.snapshot

    RosterMember.objects.filter(user=alice).delete()
    make_signers(role, 2)

    decision.refresh_from_db()
    assert decision.snapshot == before


# --- grants -------------------------------------------------------------------------------


def test_exactly_the_eligible_people_get_the_certify_permission():
    action_type, role, people = make_staffed_action_type(signers=2)
    make_signers(role, 1, certified=False)
    UserFactory()
    ApprovalPolicyFactory(action_types=[action_type])

    decision = submit(action_type)

    assert granted_ids(decision) == {p.pk for p in people}
    assert {e["user_id"] for e in decision.snapshot["stages"][0]["eligible"]} == {p.pk for p in people}


def test_eligible_person_holds_the_certify_permission_on_the_decision():
    action_type, _role, (alice,) = make_staffed_action_type()
    ApprovalPolicyFactory(action_types=[action_type])

    decision = submit(action_type)

    assert alice.has_perm(PERM, decision)


def test_eligible_person_does_not_hold_the_permission_on_another_decision():
    action_type, _role, (alice,) = make_staffed_action_type()
    other_type, _other_role, _others = make_staffed_action_type()
    ApprovalPolicyFactory(action_types=[action_type, other_type])
    submit(action_type)

    other = submit(other_type)

    assert not alice.has_perm(PERM, other)


def test_off_call_roster_member_gets_no_permission(now):
    action_type, role, _roster, users = make_owned_action_type(members=2)
    ApprovalPolicyFactory(action_types=[action_type])
    (on_duty,) = [p.user for p in on_call(role=role, at=now)]
    (off_duty,) = [u for u in users if u != on_duty]

    decision = submit(action_type, now=now)

    assert granted_ids(decision) == {on_duty.pk}
    assert not off_duty.has_perm(PERM, decision)


def test_uncertified_on_call_member_gets_no_permission():
    action_type, role, _people = make_staffed_action_type()
    (uncertified,) = make_signers(role, 1, certified=False)
    ApprovalPolicyFactory(action_types=[action_type])

    decision = submit(action_type)

    assert uncertified.pk not in granted_ids(decision)
    assert not uncertified.has_perm(PERM, decision)


def test_co_signer_role_people_are_granted_too():
    action_type, _role, (owner,) = make_staffed_action_type()
    privacy = DecisionRoleFactory(name="Privacy Officer")
    (officer,) = make_signers(privacy, 1)
    ApprovalPolicyFactory(action_types=[action_type], required_approvals=2, cosigner_roles=[privacy])

    decision = submit(action_type)

    assert granted_ids(decision) == {owner.pk, officer.pk}
    assert decision.snapshot["cosigners"][0]["eligible"][0]["user_id"] == officer.pk


def test_deputy_role_is_granted_when_nobody_in_the_owner_role_qualifies():
    owner_role, deputy = DecisionRoleFactory(), DecisionRoleFactory()
    action_type = ActionTypeFactory()
    OwnershipAssignmentFactory(action_type=action_type, owner_role=owner_role, deputy_role=deputy)
    (stand_in,) = make_signers(deputy, 1)
    ApprovalPolicyFactory(action_types=[action_type])

    decision = submit(action_type)

    assert granted_ids(decision) == {stand_in.pk}
    assert decision.snapshot["stages"][0]["eligible"][0]["via_deputy"] is True


def test_routing_sets_the_deadline_from_the_policy_time_to_act(now):
    action_type, _role, _people = make_staffed_action_type()
    ApprovalPolicyFactory(action_types=[action_type], time_to_act_seconds=420)

    decision = submit(action_type, now=now)

    assert decision.status == DecisionStatus.PENDING
    assert decision.deadline == now + timedelta(seconds=420)


def test_routing_logs_received_routed_and_granted():
    action_type, _role, _people = make_staffed_action_type()
    ApprovalPolicyFactory(action_types=[action_type])

    decision = submit(action_type)

    assert kinds(decision) == [EventKind.RECEIVED, EventKind.ROUTED, EventKind.GRANTED]


# --- auto-approval ------------------------------------------------------------------------


def test_system_owned_action_matched_by_an_auto_approval_policy_is_auto_approved(now):
    action_type = ActionTypeFactory(automation=True, slug="enrich-ticket")
    ApprovalPolicyFactory(action_types=[action_type], allow_auto_approval=True)

    decision = submit(action_type, now=now, target={"ticket": "INC-1"})

    assert decision.status == DecisionStatus.AUTO_APPROVED
    assert decision.decided_at == now
    assert decision.final_action["action_type"] == "enrich-ticket"
    assert decision.final_action["target"] == {"ticket": "INC-1"}


def test_auto_approval_is_logged_as_an_event():
    action_type = ActionTypeFactory(automation=True)
    ApprovalPolicyFactory(action_types=[action_type], allow_auto_approval=True)

    decision = submit(action_type)

    assert kinds(decision) == [EventKind.RECEIVED, EventKind.AUTO_APPROVED]


def test_auto_approved_decision_grants_nobody():
    action_type = ActionTypeFactory(automation=True)
    owner_role = DecisionRoleFactory()
    OwnershipAssignmentFactory(action_type=action_type, owner_role=owner_role)
    make_signers(owner_role, 1)
    ApprovalPolicyFactory(action_types=[action_type], allow_auto_approval=True)

    decision = submit(action_type)

    assert granted_ids(decision) == set()


def test_human_owned_action_type_is_not_auto_approved_by_an_auto_approval_policy():
    action_type, _role, (alice,) = make_staffed_action_type(changes_production_state=False)
    ApprovalPolicyFactory(action_types=[action_type], allow_auto_approval=True)  # bypasses validation

    decision = submit(action_type)

    assert decision.status == DecisionStatus.PENDING
    assert granted_ids(decision) == {alice.pk}


def test_system_owned_action_without_an_auto_approval_policy_goes_to_a_human():
    action_type = ActionTypeFactory(automation=True)
    owner_role = DecisionRoleFactory()
    OwnershipAssignmentFactory(action_type=action_type, owner_role=owner_role)
    (alice,) = make_signers(owner_role, 1)
    ApprovalPolicyFactory(action_types=[action_type], allow_auto_approval=False)

    decision = submit(action_type)

    assert decision.status == DecisionStatus.PENDING
    assert granted_ids(decision) == {alice.pk}


# --- ownership gaps and the chain ---------------------------------------------------------


def test_nobody_eligible_is_logged_as_an_ownership_gap():
    action_type, role, _people = make_staffed_action_type(signers=1, certified=False)
    chain = EscalationChainFactory(steps=[(DecisionRoleFactory(), 300)])
    make_signers(chain.steps.get().role, 1)
    ApprovalPolicyFactory(action_types=[action_type], escalation_chain=chain)

    decision = submit(action_type)

    gap = decision.events.get(kind=EventKind.OWNERSHIP_GAP)
    assert gap.data["step"] == 0
    assert gap.data["role"]["id"] == role.pk


def test_unowned_action_type_is_logged_as_an_ownership_gap():
    action_type = ActionTypeFactory()
    ApprovalPolicyFactory(action_types=[action_type], escalation_chain=gap_chain())

    decision = submit(action_type)

    assert decision.events.filter(kind=EventKind.OWNERSHIP_GAP, data__slot="owner").exists()
    assert decision.owner_role is None


def test_nobody_eligible_moves_to_the_chains_next_step_at_once(now):
    action_type, _role, _people = make_staffed_action_type(certified=False)
    lead = DecisionRoleFactory()
    (lead_person,) = make_signers(lead, 1)
    chain = EscalationChainFactory(steps=[(lead, 300)])
    ApprovalPolicyFactory(action_types=[action_type], escalation_chain=chain, time_to_act_seconds=900)

    decision = submit(action_type, now=now)

    assert decision.status == DecisionStatus.PENDING
    assert decision.current_step == 1
    assert granted_ids(decision) == {lead_person.pk}
    assert decision.deadline == now + timedelta(seconds=300)


def test_moving_down_the_chain_logs_escalated_then_granted():
    action_type, _role, _people = make_staffed_action_type(certified=False)
    lead = DecisionRoleFactory()
    make_signers(lead, 1)
    ApprovalPolicyFactory(action_types=[action_type], escalation_chain=EscalationChainFactory(steps=[(lead, 300)]))

    decision = submit(action_type)

    assert kinds(decision)[-3:] == [EventKind.OWNERSHIP_GAP, EventKind.ESCALATED, EventKind.GRANTED]


def test_an_empty_chain_step_is_skipped_too(now):
    action_type, _role, _people = make_staffed_action_type(certified=False)
    empty, commander = DecisionRoleFactory(), DecisionRoleFactory()
    (commander_person,) = make_signers(commander, 1)
    chain = EscalationChainFactory(steps=[(empty, 300), (commander, 1200)])
    ApprovalPolicyFactory(action_types=[action_type], escalation_chain=chain)

    decision = submit(action_type, now=now)

    assert decision.current_step == 2
    assert granted_ids(decision) == {commander_person.pk}
    assert decision.deadline == now + timedelta(seconds=1200)
    assert decision.events.filter(kind=EventKind.OWNERSHIP_GAP).count() == 2


def test_nobody_anywhere_expires_the_decision(now):
    action_type, _role, _people = make_staffed_action_type(certified=False)
    ApprovalPolicyFactory(action_types=[action_type], escalation_chain=gap_chain())

    decision = submit(action_type, now=now)

    assert decision.status == DecisionStatus.EXPIRED
    assert (decision.decided_at, decision.final_action) == (now, None)
    assert kinds(decision)[-2:] == [EventKind.EXPIRED, EventKind.REVOKED]


def test_nobody_anywhere_revokes_the_co_signer_grants():
    action_type, _role, _people = make_staffed_action_type(certified=False)
    privacy = DecisionRoleFactory()
    make_signers(privacy, 1)
    ApprovalPolicyFactory(
        action_types=[action_type], required_approvals=2, cosigner_roles=[privacy], escalation_chain=gap_chain()
    )

    decision = submit(action_type)

    assert decision.status == DecisionStatus.EXPIRED
    assert granted_ids(decision) == set()
    assert decision.events.get(kind=EventKind.REVOKED).data == {"grants_revoked": 1}


def test_chain_ending_in_auto_approve_never_approves_a_production_changing_action():
    action_type, _role, _people = make_staffed_action_type(certified=False, changes_production_state=True)
    chain = gap_chain(final_outcome=EscalationChain.FinalOutcome.AUTO_APPROVE)  # bypasses validation
    ApprovalPolicyFactory(action_types=[action_type], escalation_chain=chain)

    decision = submit(action_type)

    assert decision.status == DecisionStatus.EXPIRED
    assert decision.final_action is None


def test_chain_ending_in_auto_approve_never_approves_a_regulated_data_action():
    action_type, _role, _people = make_staffed_action_type(
        certified=False, changes_production_state=False, touches_regulated_data=True
    )
    chain = gap_chain(final_outcome=EscalationChain.FinalOutcome.AUTO_APPROVE)
    ApprovalPolicyFactory(action_types=[action_type], escalation_chain=chain)

    decision = submit(action_type)

    assert decision.status == DecisionStatus.EXPIRED


def test_chain_ending_in_auto_approve_approves_a_harmless_action_nobody_took():
    action_type, _role, _people = make_staffed_action_type(certified=False, changes_production_state=False)
    chain = gap_chain(final_outcome=EscalationChain.FinalOutcome.AUTO_APPROVE)
    ApprovalPolicyFactory(action_types=[action_type], escalation_chain=chain)

    decision = submit(action_type)

    assert decision.status == DecisionStatus.AUTO_APPROVED
    assert decision.final_action == snapshots.recommended_action(decision)


def test_chain_ending_in_reject_rejects_when_nobody_anywhere():
    action_type, _role, _people = make_staffed_action_type(certified=False)
    ApprovalPolicyFactory(
        action_types=[action_type], escalation_chain=gap_chain(final_outcome=EscalationChain.FinalOutcome.REJECT)
    )

    decision = submit(action_type)

    assert decision.status == DecisionStatus.REJECTED
    assert decision.events.get(kind=EventKind.DECIDED).data["final_outcome"] == "reject"


# --- no policy: the fail-safe default ------------------------------------------------------


def test_no_matching_policy_is_logged_as_a_no_policy_event():
    action_type, _role, _people = make_staffed_action_type()

    decision = submit(action_type)

    assert EventKind.NO_POLICY in kinds(decision)
    assert decision.snapshot["policy"] is None


def test_no_matching_policy_applies_the_fail_safe_default(now):
    action_type, _role, (alice,) = make_staffed_action_type()
    other_type, _other_role, _others = make_staffed_action_type()
    ApprovalPolicyFactory(action_types=[other_type], required_approvals=1)

    decision = submit(action_type, now=now)

    assert decision.policy is None
    assert decision.required_approvals == 1
    assert decision.deadline == now + timedelta(seconds=settings.DEFAULT_TIME_TO_ACT_SECONDS)
    assert granted_ids(decision) == {alice.pk}


def test_no_matching_policy_and_nobody_eligible_expires_at_once():
    action_type, _role, _people = make_staffed_action_type(certified=False)

    decision = submit(action_type)

    assert decision.status == DecisionStatus.EXPIRED
    assert decision.snapshot["chain"]["steps"] == []


def test_disabled_policy_is_not_matched():
    action_type, _role, _people = make_staffed_action_type()
    ApprovalPolicyFactory(action_types=[action_type], enabled=False, required_approvals=3)

    decision = submit(action_type)

    assert decision.policy is None
    assert decision.required_approvals == 1


def _advance(decision, *, now):
    """One step move, written as the escalation service writes it."""
    plan = DecisionWrites(decision)
    stages.advance(plan, now=now, actor=None, reason="deadline passed")
    plan.write()


# --- advance: the escalation step move ----------------------------------------------------


def test_advance_grants_the_next_steps_people_and_sets_their_deadline(now):
    action_type, _role, (alice,) = make_staffed_action_type()
    lead = DecisionRoleFactory()
    (lead_person,) = make_signers(lead, 1)
    ApprovalPolicyFactory(action_types=[action_type], escalation_chain=EscalationChainFactory(steps=[(lead, 300)]))
    decision = submit(action_type, now=now)
    later = now + timedelta(minutes=20)

    _advance(decision, now=later)

    assert decision.current_step == 1
    assert decision.deadline == later + timedelta(seconds=300)
    assert lead_person.pk in granted_ids(decision)
    assert decision.events.get(kind=EventKind.ESCALATED).data["reason"] == "deadline passed"


def test_advance_past_the_last_step_applies_the_final_outcome(now):
    action_type, _role, _people = make_staffed_action_type()
    lead = DecisionRoleFactory()
    make_signers(lead, 1)
    ApprovalPolicyFactory(action_types=[action_type], escalation_chain=EscalationChainFactory(steps=[(lead, 300)]))
    decision = submit(action_type, now=now)
    _advance(decision, now=now)

    _advance(decision, now=now)

    assert decision.status == DecisionStatus.EXPIRED
    assert granted_ids(decision) == set()


def test_advance_uses_the_frozen_chain_not_the_current_one(now):
    action_type, _role, _people = make_staffed_action_type()
    lead, other = DecisionRoleFactory(), DecisionRoleFactory()
    (lead_person,) = make_signers(lead, 1)
    make_signers(other, 1)
    chain = EscalationChainFactory(steps=[(lead, 300)])
    ApprovalPolicyFactory(action_types=[action_type], escalation_chain=chain)
    decision = submit(action_type, now=now)
    step = chain.steps.get()
    step.role = other
    step.save()

    _advance(decision, now=now)

    assert decision.snapshot["stages"][-1]["role"]["id"] == lead.pk
    assert lead_person.pk in granted_ids(decision)


def test_certification_revoked_after_routing_leaves_the_snapshot_unchanged():
    action_type, _role, (alice,) = make_staffed_action_type()
    ApprovalPolicyFactory(action_types=[action_type])
    decision = submit(action_type)
    before = decision.snapshot

    certification = Certification.objects.get(user=alice)
    certification.revoked_at = timezone.now()
    certification.save()

    decision.refresh_from_db()
    assert decision.snapshot == before


def test_roster_for_another_role_does_not_make_anyone_eligible():
    action_type, _role, _people = make_staffed_action_type(certified=False)
    RosterFactory(role=DecisionRoleFactory(), users=[UserFactory()])
    ApprovalPolicyFactory(action_types=[action_type], escalation_chain=gap_chain())

    decision = submit(action_type)

    assert decision.status == DecisionStatus.EXPIRED


# --- intake: decision_submit ----------------------------------------------------------------


def submit_once(integration, action_type, *, key, fingerprint="body-1"):
    return intake.decision_submit(
        integration=integration,
        actor=integration.service_account,
        data=decision_data(action_type),
        request_fingerprint=fingerprint,
        idempotency_key=key,
    )


def test_retry_with_the_same_key_and_body_returns_the_original_decision():
    action_type, _role, _people = make_staffed_action_type()
    integration = make_integration(action_type)
    first, _created = submit_once(integration, action_type, key="k-1")

    again, created = submit_once(integration, action_type, key="k-1")

    assert (again.pk, created) == (first.pk, False)
    assert DecisionRequest.objects.count() == 1


def test_same_key_with_another_body_is_an_idempotency_conflict():
    action_type, _role, _people = make_staffed_action_type()
    integration = make_integration(action_type)
    submit_once(integration, action_type, key="k-1")

    with pytest.raises(IdempotencyConflict):
        submit_once(integration, action_type, key="k-1", fingerprint="body-2")


def test_integration_cannot_submit_an_action_type_it_is_not_allowed():
    action_type, _role, _people = make_staffed_action_type()
    integration = make_integration(ActionTypeFactory())

    with pytest.raises(NotAllowed):
        submit(action_type, integration=integration)

    assert not DecisionRequest.objects.exists()


def test_pending_cap_refuses_further_submissions():
    action_type, _role, _people = make_staffed_action_type()
    integration = make_integration(action_type)
    integration.max_pending = 1
    integration.save()
    submit(action_type, integration=integration)

    with pytest.raises(PendingCapReached):
        submit(action_type, integration=integration)
