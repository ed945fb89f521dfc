"""A quorum the eligible people cannot fill escalates at once, with an event, instead of waiting
out the time to act: nobody else would become eligible by waiting."""

import pytest

from decisions.models import DecisionStatus, EventKind
from tests.decisions.factories import submit
from tests.decisions.scenarios import approve
from tests.governance.factories import (
    ApprovalPolicyFactory,
    DecisionRoleFactory,
    EscalationChainFactory,
    make_signers,
    make_staffed_action_type,
)

pytestmark = pytest.mark.django_db


def _gap_reasons(decision):
    return [e.data.get("reason") for e in decision.events.filter(kind=EventKind.OWNERSHIP_GAP).order_by("seq")]


def test_two_approvers_with_one_eligible_person_escalates_at_once():
    action_type, _owner, (alone,) = make_staffed_action_type(signers=1)
    backup = DecisionRoleFactory()
    (helper,) = make_signers(backup, 1)
    chain = EscalationChainFactory(steps=[(backup, 600)])
    ApprovalPolicyFactory(action_types=[action_type], required_approvals=2, escalation_chain=chain)

    decision = submit(action_type)

    decision.refresh_from_db()
    assert decision.status == DecisionStatus.PENDING
    assert decision.current_step == 1
    assert _gap_reasons(decision) == ["quorum cannot be met"]
    gap = decision.events.get(kind=EventKind.OWNERSHIP_GAP)
    assert (gap.data["eligible_people"], gap.data["required_approvals"]) == (1, 2)
    escalated = decision.events.get(kind=EventKind.ESCALATED)
    assert escalated.data["reason"] == "quorum cannot be met"
    assert escalated.seq > gap.seq
    # Both people asked so far may sign, and together they meet the quorum.
    approve(decision, alone)
    approve(decision, helper)
    decision.refresh_from_db()
    assert decision.status == DecisionStatus.APPROVED


def test_an_impossible_quorum_at_the_last_step_ends_with_the_chains_outcome_at_once():
    action_type, _owner, _people = make_staffed_action_type(signers=1)
    ApprovalPolicyFactory(action_types=[action_type], required_approvals=3)

    decision = submit(action_type)

    decision.refresh_from_db()
    assert decision.status == DecisionStatus.EXPIRED
    assert "quorum cannot be met" in _gap_reasons(decision)


def test_a_quorum_the_eligible_people_can_fill_waits_for_them():
    action_type, _owner, _people = make_staffed_action_type(signers=2)
    ApprovalPolicyFactory(action_types=[action_type], required_approvals=2)

    decision = submit(action_type)

    decision.refresh_from_db()
    assert decision.status == DecisionStatus.PENDING
    assert decision.current_step == 0
    assert decision.deadline is not None
    assert _gap_reasons(decision) == []


def test_a_cosigner_slot_nobody_can_fill_escalates_at_once():
    action_type, _owner, _people = make_staffed_action_type(signers=2)
    privacy = DecisionRoleFactory()  # nobody on call for it
    ApprovalPolicyFactory(action_types=[action_type], required_approvals=2, cosigner_roles=[privacy])

    decision = submit(action_type)

    decision.refresh_from_db()
    assert "quorum cannot be met" in _gap_reasons(decision)
    assert decision.status == DecisionStatus.EXPIRED  # the chain's only step has nobody either
