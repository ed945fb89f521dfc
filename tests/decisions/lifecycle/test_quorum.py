"""The quorum rule: enough distinct people, one of them in the owner's place, every co-signer
role represented. As a pure function (with a property test) and through the sign-off service."""

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from decisions.lifecycle.eligibility import quorum_met
from decisions.models import DecisionStatus, SignOff
from tests.decisions.factories import submit
from tests.decisions.scenarios import approve
from tests.governance.factories import (
    ApprovalPolicyFactory,
    CertificationFactory,
    DecisionRoleFactory,
    RosterFactory,
    make_signers,
    make_staffed_action_type,
)

OWNER, DEPUTY, PRIVACY, LEGAL = 1, 2, 3, 4


# --- quorum_met, pure ---------------------------------------------------------------------


def test_one_owner_approval_meets_a_quorum_of_one():
    assert quorum_met(approvals=[(10, OWNER)], required=1, owner_roles={OWNER}, cosigner_roles=[])


def test_no_approval_never_meets_a_quorum():
    assert not quorum_met(approvals=[], required=1, owner_roles={OWNER}, cosigner_roles=[])


def test_too_few_people_do_not_meet_the_quorum():
    assert not quorum_met(approvals=[(10, OWNER)], required=2, owner_roles={OWNER}, cosigner_roles=[])


def test_one_person_twice_counts_once():
    assert not quorum_met(approvals=[(10, OWNER), (10, OWNER)], required=2, owner_roles={OWNER}, cosigner_roles=[])


def test_two_distinct_people_meet_a_quorum_of_two():
    assert quorum_met(approvals=[(10, OWNER), (11, OWNER)], required=2, owner_roles={OWNER}, cosigner_roles=[])


def test_approvals_without_the_owner_role_do_not_meet_the_quorum():
    assert not quorum_met(approvals=[(10, LEGAL), (11, LEGAL)], required=2, owner_roles={OWNER}, cosigner_roles=[])


def test_any_role_of_the_owner_slot_fills_the_owners_place():
    assert quorum_met(approvals=[(10, DEPUTY)], required=1, owner_roles={OWNER, DEPUTY}, cosigner_roles=[])


def test_missing_co_signer_role_does_not_meet_the_quorum():
    approvals = [(10, OWNER), (11, OWNER)]

    assert not quorum_met(approvals=approvals, required=2, owner_roles={OWNER}, cosigner_roles=[PRIVACY])


def test_owner_and_each_co_signer_role_meet_the_quorum():
    approvals = [(10, OWNER), (11, PRIVACY), (12, LEGAL)]

    assert quorum_met(approvals=approvals, required=3, owner_roles={OWNER}, cosigner_roles=[PRIVACY, LEGAL])


def test_every_co_signer_role_must_be_represented():
    approvals = [(10, OWNER), (11, PRIVACY), (12, OWNER)]

    assert not quorum_met(approvals=approvals, required=3, owner_roles={OWNER}, cosigner_roles=[PRIVACY, LEGAL])


def test_without_an_owner_slot_only_people_and_co_signers_count():
    assert quorum_met(approvals=[(10, LEGAL)], required=1, owner_roles=set(), cosigner_roles=[])


approvals_strategy = st.lists(
    st.tuples(st.integers(min_value=1, max_value=6), st.sampled_from([OWNER, DEPUTY, PRIVACY, LEGAL])), max_size=8
)


@given(
    approvals=approvals_strategy,
    required=st.integers(min_value=1, max_value=5),
    owner_roles=st.sets(st.sampled_from([OWNER, DEPUTY]), max_size=2),
    cosigner_roles=st.lists(st.sampled_from([PRIVACY, LEGAL]), unique=True, max_size=2),
)
def test_met_quorum_has_enough_people_the_owner_and_every_co_signer(approvals, required, owner_roles, cosigner_roles):
    if not quorum_met(approvals=approvals, required=required, owner_roles=owner_roles, cosigner_roles=cosigner_roles):
        return
    signed_roles = {role for _, role in approvals}
    assert len({person for person, _ in approvals}) >= required
    assert not owner_roles or signed_roles & owner_roles
    assert set(cosigner_roles) <= signed_roles


def _brute_force_quorum(approvals, required, owner_roles, cosigner_roles):
    """Oracle: some choice of distinct people fills the owner's place and every co-signer role."""
    held = {}
    for person, role in approvals:
        held.setdefault(person, set()).add(role)
    if len(held) < required:
        return False
    slots = ([owner_roles] if owner_roles else []) + [{r} for r in cosigner_roles if r not in owner_roles]
    return any(
        all(held[person] & slot for person, slot in zip(people, slots, strict=True))
        for people in itertools.permutations(held, len(slots))
    )


@given(
    approvals=approvals_strategy,
    required=st.integers(min_value=1, max_value=5),
    owner_roles=st.sets(st.sampled_from([OWNER, DEPUTY]), max_size=2),
    cosigner_roles=st.lists(st.sampled_from([PRIVACY, LEGAL]), unique=True, max_size=2),
)
def test_quorum_is_met_exactly_when_distinct_people_can_fill_every_slot(
    approvals, required, owner_roles, cosigner_roles
):
    expected = _brute_force_quorum(approvals, required, owner_roles, cosigner_roles)

    assert (
        quorum_met(approvals=approvals, required=required, owner_roles=owner_roles, cosigner_roles=cosigner_roles)
        == expected
    )


def test_one_person_in_two_roles_fills_only_one_slot():
    assert not quorum_met(
        approvals=[(10, OWNER), (10, PRIVACY)], required=1, owner_roles={OWNER}, cosigner_roles=[PRIVACY]
    )


def test_a_person_eligible_in_both_roles_takes_the_slot_nobody_else_can_fill():
    approvals = [(10, {OWNER, PRIVACY}), (11, {OWNER})]

    assert quorum_met(approvals=approvals, required=2, owner_roles={OWNER}, cosigner_roles=[PRIVACY])


@given(approvals=approvals_strategy, extra=approvals_strategy)
def test_more_approvals_never_undo_a_met_quorum(approvals, extra):
    rule = {"required": 2, "owner_roles": {OWNER}, "cosigner_roles": [PRIVACY]}

    if quorum_met(approvals=approvals, **rule):
        assert quorum_met(approvals=approvals + extra, **rule)


# --- through the sign-off service ---------------------------------------------------------


def status_of(decision) -> str:
    decision.refresh_from_db()
    return decision.status


@pytest.mark.django_db
def test_first_of_two_required_approvals_leaves_the_decision_pending():
    action_type, _role, (alice, _bob) = make_staffed_action_type(signers=2)
    ApprovalPolicyFactory(action_types=[action_type], required_approvals=2)
    decision = submit(action_type)

    approve(decision, alice)

    assert status_of(decision) == DecisionStatus.PENDING


@pytest.mark.django_db
def test_two_distinct_people_approve_a_two_approval_decision():
    action_type, _role, (alice, bob) = make_staffed_action_type(signers=2)
    ApprovalPolicyFactory(action_types=[action_type], required_approvals=2)
    decision = submit(action_type)
    approve(decision, alice)

    approve(decision, bob)

    assert status_of(decision) == DecisionStatus.APPROVED
    assert decision.events.get(kind="decided").data["approvals"] == 2


def privacy_scenario(*, owners=2):
    """A policy needing two approvals, one of them from a privacy officer (a co-signer role)."""
    action_type, _role, owner_people = make_staffed_action_type(signers=owners)
    privacy = DecisionRoleFactory(name="Privacy Officer")
    (officer,) = make_signers(privacy, 1)
    ApprovalPolicyFactory(action_types=[action_type], required_approvals=2, cosigner_roles=[privacy])
    return submit(action_type), owner_people, officer, privacy


@pytest.mark.django_db
def test_two_owner_role_approvals_do_not_close_a_decision_needing_a_co_signer():
    decision, (alice, bob), _officer, _privacy = privacy_scenario()
    approve(decision, alice)

    approve(decision, bob)

    assert status_of(decision) == DecisionStatus.PENDING


@pytest.mark.django_db
def test_owner_and_co_signer_approvals_close_the_decision():
    decision, (alice, _bob), officer, _privacy = privacy_scenario()
    approve(decision, alice)

    approve(decision, officer)

    assert status_of(decision) == DecisionStatus.APPROVED


@pytest.mark.django_db
def test_co_signer_approval_alone_does_not_close_the_decision():
    decision, _owners, officer, _privacy = privacy_scenario()

    approve(decision, officer)

    assert status_of(decision) == DecisionStatus.PENDING


@pytest.mark.django_db
def test_co_signer_signs_as_the_co_signer_role():
    decision, _owners, officer, privacy = privacy_scenario()

    signoff = approve(decision, officer)

    assert signoff.signed_as == privacy


@pytest.mark.django_db
def test_person_in_both_roles_signs_as_the_role_still_missing():
    action_type, owner_role, (alice, bob) = make_staffed_action_type(signers=2)
    privacy = DecisionRoleFactory()
    RosterFactory(role=privacy, users=[alice])
    CertificationFactory(user=alice, role=privacy)
    ApprovalPolicyFactory(action_types=[action_type], required_approvals=2, cosigner_roles=[privacy])
    decision = submit(action_type)
    approve(decision, bob)

    signoff = approve(decision, alice)

    assert signoff.signed_as == privacy
    assert owner_role != privacy
    assert status_of(decision) == DecisionStatus.APPROVED


@pytest.mark.django_db
def test_approvals_are_counted_by_distinct_people_in_the_database():
    action_type, _role, (alice, bob, carol) = make_staffed_action_type(signers=3)
    ApprovalPolicyFactory(action_types=[action_type], required_approvals=3)
    decision = submit(action_type)
    approve(decision, alice)
    approve(decision, bob)

    approve(decision, carol)

    assert status_of(decision) == DecisionStatus.APPROVED
    assert SignOff.objects.filter(decision=decision).values("signer").distinct().count() == 3
