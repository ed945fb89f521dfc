"""Approval policy rules: database constraints, ``approval_policy_validate`` and ``approval_policy_save``."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from governance.models import ApprovalPolicy, EscalationChain, Level
from governance.services import approval_policy_save, approval_policy_validate
from tests.governance.factories import (
    ActionTypeFactory,
    ApprovalPolicyFactory,
    EscalationChainFactory,
    OwnershipAssignmentFactory,
    UserFactory,
    make_owned_action_type,
    make_role_with_members,
)
from tests.helpers import run_concurrently

DAYS_30 = timedelta(days=30)
CONFIDENCE_BAR = "may not match a high or critical blast radius"


def _policy(**fields):
    """An unsaved policy with a fail-safe chain, as the admin form builds it."""
    fields.setdefault("escalation_chain", EscalationChainFactory())
    fields.setdefault("name", "Policy under test")
    fields.setdefault("priority", 1)
    return ApprovalPolicy(**fields)


def _validate(policy, *, action_types=(), cosigner_roles=(), now):
    approval_policy_validate(
        policy=policy, action_types=list(action_types), cosigner_roles=list(cosigner_roles), at=now
    )


def _errors(excinfo, field):
    return " ".join(excinfo.value.message_dict.get(field, []))


# --- Single-row constraints ------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("approvals", [1, 10])
def test_required_approvals_from_one_to_ten_accepted(approvals):
    policy = _policy(required_approvals=approvals)

    policy.full_clean()
    policy.save()


@pytest.mark.django_db
@pytest.mark.parametrize("approvals", [0, 11])
def test_required_approvals_outside_one_to_ten_rejected_by_full_clean(approvals):
    policy = _policy(required_approvals=approvals)

    with pytest.raises(ValidationError) as excinfo:
        policy.full_clean()

    assert "required_approvals" in excinfo.value.message_dict


@pytest.mark.django_db
@pytest.mark.parametrize("approvals", [0, 11])
def test_database_refuses_required_approvals_outside_one_to_ten(approvals):
    with pytest.raises(IntegrityError), transaction.atomic():
        ApprovalPolicyFactory(required_approvals=approvals)


@pytest.mark.django_db
def test_zero_time_to_act_rejected_by_full_clean():
    policy = _policy(time_to_act_seconds=0)

    with pytest.raises(ValidationError, match="time to act must be longer than zero"):
        policy.full_clean()


@pytest.mark.django_db
def test_database_refuses_zero_time_to_act():
    with pytest.raises(IntegrityError), transaction.atomic():
        ApprovalPolicyFactory(time_to_act_seconds=0)


@pytest.mark.django_db
def test_one_second_time_to_act_accepted():
    policy = _policy(time_to_act_seconds=1)

    policy.full_clean()


# --- High AI confidence never lowers the bar for a high blast radius -------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("bound", ["min_ai_confidence", "max_ai_confidence"])
def test_confidence_rule_without_max_blast_radius_rejected_by_full_clean(bound):
    policy = _policy(**{bound: Decimal("0.900")})

    with pytest.raises(ValidationError, match=CONFIDENCE_BAR):
        policy.full_clean()


@pytest.mark.django_db
@pytest.mark.parametrize("blast_radius", [Level.HIGH, Level.CRITICAL])
def test_confidence_rule_matching_high_blast_radius_rejected_by_full_clean(blast_radius):
    policy = _policy(min_ai_confidence=Decimal("0.900"), max_blast_radius=blast_radius)

    with pytest.raises(ValidationError, match=CONFIDENCE_BAR):
        policy.full_clean()


@pytest.mark.django_db
@pytest.mark.parametrize("bound", ["min_ai_confidence", "max_ai_confidence"])
def test_database_refuses_confidence_rule_without_max_blast_radius(bound):
    with pytest.raises(IntegrityError), transaction.atomic():
        ApprovalPolicyFactory(**{bound: Decimal("0.900")})


@pytest.mark.django_db
def test_database_refuses_confidence_rule_matching_high_blast_radius():
    with pytest.raises(IntegrityError), transaction.atomic():
        ApprovalPolicyFactory(min_ai_confidence=Decimal("0.950"), max_blast_radius=Level.HIGH)


@pytest.mark.django_db
@pytest.mark.parametrize("blast_radius", [Level.LOW, Level.MEDIUM])
def test_confidence_rule_capped_at_medium_blast_radius_accepted(blast_radius):
    policy = _policy(min_ai_confidence=Decimal("0.900"), max_ai_confidence=Decimal("1"), max_blast_radius=blast_radius)

    policy.full_clean()
    policy.save()


@pytest.mark.django_db
def test_rule_without_confidence_bound_may_match_critical_blast_radius():
    policy = _policy(min_blast_radius=Level.CRITICAL)

    policy.full_clean()
    policy.save()


# --- Auto-approval ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_auto_approval_rejected_for_human_owned_action_type(now):
    action_type = ActionTypeFactory(name="Isolate host")

    with pytest.raises(ValidationError) as excinfo:
        _validate(_policy(allow_auto_approval=True), action_types=[action_type], now=now)

    assert "only for system-owned action types; not for: Isolate host" in _errors(excinfo, "allow_auto_approval")


@pytest.mark.django_db
def test_auto_approval_accepted_for_system_owned_action_type(now):
    action_type = ActionTypeFactory(automation=True)

    _validate(_policy(allow_auto_approval=True), action_types=[action_type], now=now)


# --- An escalation chain that auto-approves on timeout ---------------------------------------


@pytest.mark.django_db
def test_auto_approving_chain_rejected_for_policy_listing_production_changing_type(now):
    action_type = ActionTypeFactory(name="Disable account", changes_production_state=True)
    chain = EscalationChainFactory(final_outcome=EscalationChain.FinalOutcome.AUTO_APPROVE)

    with pytest.raises(ValidationError) as excinfo:
        _validate(_policy(escalation_chain=chain), action_types=[action_type], now=now)

    assert "impossible for: Disable account" in _errors(excinfo, "escalation_chain")


@pytest.mark.django_db
def test_auto_approving_chain_rejected_for_policy_listing_regulated_data_type(now):
    action_type = ActionTypeFactory(name="Export records", changes_production_state=False, touches_regulated_data=True)
    chain = EscalationChainFactory(final_outcome=EscalationChain.FinalOutcome.AUTO_APPROVE)

    with pytest.raises(ValidationError) as excinfo:
        _validate(_policy(escalation_chain=chain), action_types=[action_type], now=now)

    assert "impossible for: Export records" in _errors(excinfo, "escalation_chain")


@pytest.mark.django_db
def test_auto_approving_chain_rejected_for_policy_covering_every_action_type(now):
    ActionTypeFactory(automation=True)
    ActionTypeFactory(name="Block IP", changes_production_state=True)
    chain = EscalationChainFactory(final_outcome=EscalationChain.FinalOutcome.AUTO_APPROVE)

    with pytest.raises(ValidationError) as excinfo:
        _validate(_policy(escalation_chain=chain), action_types=[], now=now)

    assert "impossible for: Block IP" in _errors(excinfo, "escalation_chain")


@pytest.mark.django_db
def test_auto_approving_chain_accepted_for_policy_listing_only_automation_types(now):
    ActionTypeFactory(changes_production_state=True)
    automation = ActionTypeFactory(automation=True)
    chain = EscalationChainFactory(final_outcome=EscalationChain.FinalOutcome.AUTO_APPROVE)

    _validate(_policy(escalation_chain=chain, allow_auto_approval=True), action_types=[automation], now=now)


@pytest.mark.django_db
def test_expiring_chain_accepted_for_production_changing_type(now):
    action_type, _role, _roster, _users = make_owned_action_type(members=1)

    _validate(_policy(), action_types=[action_type], now=now)


# --- Approvals come from distinct people in the owner and co-signer rolls --------------------


@pytest.mark.django_db
def test_required_approvals_rejected_when_owner_roster_is_too_small(now):
    action_type, role, _roster, _users = make_owned_action_type(members=2, name="Isolate host")

    with pytest.raises(ValidationError) as excinfo:
        _validate(_policy(required_approvals=3), action_types=[action_type], now=now)

    message = _errors(excinfo, "required_approvals")
    assert f"Isolate host: 3 distinct approvers needed but the rosters of {role.name} have 2 member(s)" in message


@pytest.mark.django_db
def test_required_approvals_accepted_when_owner_roster_is_large_enough(now):
    action_type, _role, _roster, _users = make_owned_action_type(members=2)

    _validate(_policy(required_approvals=2), action_types=[action_type], now=now)


@pytest.mark.django_db
def test_required_approvals_counts_cosigner_roster_members(now):
    action_type, _role, _roster, _users = make_owned_action_type(members=1)
    cosigner, _ = make_role_with_members(members=1)

    _validate(_policy(required_approvals=2), action_types=[action_type], cosigner_roles=[cosigner], now=now)


@pytest.mark.django_db
def test_person_on_owner_and_cosigner_rosters_counts_once(now):
    action_type, _role, _roster, [person] = make_owned_action_type(members=1)
    cosigner, _ = make_role_with_members(users=[person])

    with pytest.raises(ValidationError) as excinfo:
        _validate(_policy(required_approvals=2), action_types=[action_type], cosigner_roles=[cosigner], now=now)

    assert "2 distinct approvers needed" in _errors(excinfo, "required_approvals")


@pytest.mark.django_db
def test_required_approvals_rejected_below_number_of_distinct_roles(now):
    action_type, _role, _roster, _users = make_owned_action_type(members=2, name="Notify customer")
    cosigner, _ = make_role_with_members(members=1)

    with pytest.raises(ValidationError) as excinfo:
        _validate(_policy(required_approvals=1), action_types=[action_type], cosigner_roles=[cosigner], now=now)

    message = _errors(excinfo, "required_approvals")
    assert "Notify customer: the owner and each co-signer role" in message
    assert "raise the required approvals to 2" in message


@pytest.mark.django_db
def test_required_approvals_rejected_below_number_of_cosigner_roles_without_owner(now):
    action_type = ActionTypeFactory()
    first, _ = make_role_with_members(members=1)
    second, _ = make_role_with_members(members=1)

    with pytest.raises(ValidationError, match="raise the required approvals to 2"):
        _validate(_policy(required_approvals=1), action_types=[action_type], cosigner_roles=[first, second], now=now)


@pytest.mark.django_db
def test_required_approvals_checked_against_every_covered_action_type(now):
    roomy, _role, _roster, _users = make_owned_action_type(members=3)
    cramped, _role, _roster, _users = make_owned_action_type(members=1, name="Cramped")

    with pytest.raises(ValidationError) as excinfo:
        _validate(_policy(required_approvals=2), action_types=[], now=now)

    message = _errors(excinfo, "required_approvals")
    assert "Cramped: 2 distinct approvers needed" in message
    assert roomy.name not in message


@pytest.mark.django_db
def test_required_approvals_checked_against_the_owner_in_force(now):
    # The roster of an owner whose assignment has ended does not count.
    action_type = ActionTypeFactory()
    former, _ = make_role_with_members(members=3)
    current, _ = make_role_with_members(members=1)
    OwnershipAssignmentFactory(
        action_type=action_type, owner_role=former, effective_from=now.replace(year=2020), effective_to=now
    )
    OwnershipAssignmentFactory(action_type=action_type, owner_role=current, effective_from=now)

    with pytest.raises(ValidationError, match="2 distinct approvers needed"):
        _validate(_policy(required_approvals=2), action_types=[action_type], now=now)


@pytest.mark.django_db
def test_required_approvals_checked_against_current_owner_when_a_hand_over_is_scheduled(now):
    action_type = ActionTypeFactory(name="Isolate host")
    current, _ = make_role_with_members(members=1)
    future, _ = make_role_with_members(members=3)
    OwnershipAssignmentFactory(
        action_type=action_type, owner_role=current, effective_from=now - timedelta(days=1), effective_to=now + DAYS_30
    )
    OwnershipAssignmentFactory(action_type=action_type, owner_role=future, effective_from=now + DAYS_30)

    with pytest.raises(ValidationError) as excinfo:
        _validate(_policy(required_approvals=2), action_types=[action_type], now=now)

    assert f"the rosters of {current.name} have 1 member(s)" in _errors(excinfo, "required_approvals")


@pytest.mark.django_db
def test_required_approvals_checked_against_scheduled_owner(now):
    action_type = ActionTypeFactory()
    current, _ = make_role_with_members(members=3)
    future, _ = make_role_with_members(members=1)
    OwnershipAssignmentFactory(
        action_type=action_type, owner_role=current, effective_from=now - timedelta(days=1), effective_to=now + DAYS_30
    )
    OwnershipAssignmentFactory(action_type=action_type, owner_role=future, effective_from=now + DAYS_30)

    with pytest.raises(ValidationError) as excinfo:
        _validate(_policy(required_approvals=2), action_types=[action_type], now=now)

    assert f"the rosters of {future.name} have 1 member(s)" in _errors(excinfo, "required_approvals")


# --- approval_policy_save --------------------------------------------------------------------


@pytest.mark.django_db
def test_approval_policy_save_creates_version_one_with_action_types_and_cosigners(now):
    action_type, _role, _roster, _users = make_owned_action_type(members=2)
    cosigner, _ = make_role_with_members(members=1)
    policy = _policy(required_approvals=2)

    saved = approval_policy_save(
        actor=UserFactory(),
        policy=policy,
        action_types=[action_type],
        cosigner_roles=[cosigner],
        reason="new rule",
        at=now,
    )

    saved.refresh_from_db()
    assert saved.version == 1
    assert list(saved.action_types.all()) == [action_type]
    assert list(saved.cosigner_roles.all()) == [cosigner]


@pytest.mark.django_db
def test_approval_policy_save_bumps_version_on_change(now):
    first, _role, _roster, _users = make_owned_action_type(members=2)
    second, _role, _roster, _users = make_owned_action_type(members=2)
    policy = approval_policy_save(
        actor=None, policy=_policy(), action_types=[first], cosigner_roles=[], reason="new", at=now
    )

    changed = ApprovalPolicy.objects.get(pk=policy.pk)
    changed.time_to_act_seconds = 300
    approval_policy_save(actor=None, policy=changed, action_types=[second], cosigner_roles=[], reason="faster", at=now)

    stored = ApprovalPolicy.objects.get(pk=policy.pk)
    assert stored.version == 2
    assert stored.time_to_act_seconds == 300
    assert list(stored.action_types.all()) == [second]


@pytest.mark.django_db
def test_approval_policy_save_rejects_invalid_change_and_keeps_stored_policy(now):
    action_type, _role, _roster, _users = make_owned_action_type(members=1)
    policy = approval_policy_save(
        actor=None, policy=_policy(), action_types=[action_type], cosigner_roles=[], reason="new", at=now
    )
    changed = ApprovalPolicy.objects.get(pk=policy.pk)
    changed.required_approvals = 2

    with pytest.raises(ValidationError, match="2 distinct approvers needed"):
        approval_policy_save(
            actor=None, policy=changed, action_types=[action_type], cosigner_roles=[], reason="x", at=now
        )

    stored = ApprovalPolicy.objects.get(pk=policy.pk)
    assert (stored.version, stored.required_approvals) == (1, 1)


@pytest.mark.django_db
def test_approval_policy_save_rejects_database_rule_through_full_clean(now):
    policy = _policy(min_ai_confidence=Decimal("0.9"))

    with pytest.raises(ValidationError, match=CONFIDENCE_BAR):
        approval_policy_save(actor=None, policy=policy, action_types=[], cosigner_roles=[], reason="x", at=now)

    assert not ApprovalPolicy.objects.exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_saves_of_one_policy_each_bump_the_version(now):
    action_type, _role, _roster, _users = make_owned_action_type(members=1)
    policy = approval_policy_save(
        actor=None, policy=_policy(), action_types=[action_type], cosigner_roles=[], reason="new", at=now
    )

    def save(index):
        mine = ApprovalPolicy.objects.get(pk=policy.pk)
        mine.time_to_act_seconds = 60 + index
        return approval_policy_save(
            actor=None, policy=mine, action_types=[action_type], cosigner_roles=[], reason="race", at=now
        ).version

    outcomes = run_concurrently(save, threads=4)

    assert [error for _version, error in outcomes] == [None] * 4
    assert sorted(version for version, _error in outcomes) == [2, 3, 4, 5]
    assert ApprovalPolicy.objects.get(pk=policy.pk).version == 5
