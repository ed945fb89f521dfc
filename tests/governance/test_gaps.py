"""Ownership gaps: each kind is reported when the configuration has it and gone once it is fixed
(through the writes the admin makes), every fix link opens the admin page that fixes it, the
admin index lists them, and the number of queries never grows with the configuration."""

import re
from datetime import UTC, datetime, time, timedelta

import pytest
from django.utils import timezone

from governance import rbac, services
from governance.demo import GovernanceDemo
from governance.gaps import Gap, GapKind, gaps_by_kind, ownership_gaps
from governance.models import Criterion, EscalationChain, Level, OwnershipAssignment
from tests.governance.factories import (
    ActionTypeFactory,
    ApprovalPolicyFactory,
    CertificationFactory,
    DecisionRoleFactory,
    EscalationChainFactory,
    OwnershipAssignmentFactory,
    RosterFactory,
    RosterMemberFactory,
    RosterOverrideFactory,
    UserFactory,
    make_staffed_action_type,
    make_user_in_group,
)
from tests.helpers import admin_form_data

pytestmark = pytest.mark.django_db

# A Wednesday in January (no DST in UTC, but a fixed instant keeps shift boundaries exact).
AT = datetime(2026, 1, 7, 10, tzinfo=UTC)
AUTO_APPROVE = EscalationChain.FinalOutcome.AUTO_APPROVE
EXPIRE = EscalationChain.FinalOutcome.EXPIRE


def gaps(kind: str, *, at: datetime, horizon: timedelta | None = None) -> list[Gap]:
    return [g for g in ownership_gaps(at=at, horizon=horizon) if g.kind == kind]


def subjects(kind: str, *, at: datetime, horizon: timedelta | None = None) -> list[str]:
    return [g.subject for g in gaps(kind, at=at, horizon=horizon)]


def own(action_type, role, *, since: datetime, until: datetime | None = None, deputy=None) -> OwnershipAssignment:
    return OwnershipAssignmentFactory(
        action_type=action_type, owner_role=role, deputy_role=deputy, effective_from=since, effective_to=until
    )


def certify(user, role, *, at: datetime, days: int = 365, **kwargs):
    return CertificationFactory(
        user=user, role=role, valid_from=at - timedelta(days=30), valid_until=at + timedelta(days=days), **kwargs
    )


def staffed_role(*, at: datetime, name: str | None = None, people: int = 1):
    """A role with ``people`` certified people, each alone on an around-the-clock roster."""
    role = DecisionRoleFactory(**({"name": name} if name else {}))
    users = [UserFactory() for _ in range(people)]
    for user in users:
        RosterFactory(role=role, users=[user])
        certify(user, role, at=at)
    return role, users


def staffed_action_type(*, at: datetime, people: int = 1, **action_fields):
    role, users = staffed_role(at=at, people=people)
    action_type = ActionTypeFactory(**action_fields)
    own(action_type, role, since=at - timedelta(days=30))
    return action_type, role, users


# --- A well-configured SOC -----------------------------------------------------------------


def make_well_configured_soc(at: datetime) -> None:
    """Owned, covered, certified; two approvers from high blast radius; the chain that approves
    on timeout only ever sees the system-owned enrichment."""
    isolate, analysts, _ = staffed_action_type(at=at, people=2, name="Isolate host")
    staffed_action_type(at=at, people=2, name="Notify customers", touches_regulated_data=True)
    enrich = ActionTypeFactory(name="Enrich ticket", automation=True)
    manager, _ = staffed_role(at=at, name="SOC manager")
    containment = EscalationChainFactory(steps=[(manager, 600)])
    automation = EscalationChainFactory(final_outcome=AUTO_APPROVE, steps=[(analysts, 600)])
    ApprovalPolicyFactory(priority=10, action_types=[enrich], allow_auto_approval=True, escalation_chain=automation)
    ApprovalPolicyFactory(priority=20, min_blast_radius=Level.HIGH, required_approvals=2, escalation_chain=containment)
    ApprovalPolicyFactory(priority=100, escalation_chain=containment)


def test_well_configured_soc_has_no_gaps(now):
    make_well_configured_soc(now)

    assert ownership_gaps(at=now) == []


def test_demo_soc_reports_its_deliberate_gaps_and_its_single_approver_policy(now):
    GovernanceDemo().build()

    found = {(g.kind, g.subject) for g in ownership_gaps(at=now)}

    assert found == {
        (GapKind.UNCERTIFIED_ON_CALL, "Omar Farouk (Tier-3 Analyst)"),  # certification expired 5 days ago
        (GapKind.UNCERTIFIED_ON_CALL, "Nadia Haddad (Tier-3 Analyst)"),  # on call after hers lapses
        (GapKind.CERTIFICATION_EXPIRING, "Nadia Haddad · Tier-3 Analyst"),
        (GapKind.SINGLE_APPROVER_HIGH_BLAST, "High blast radius: owner within 10 minutes"),
        # An owner that is also the co-signer role, with one roster: one person on call, two needed.
        (GapKind.UNREACHABLE_QUORUM, "Critical blast radius: two approvers (Incident Commander)"),
        (GapKind.UNREACHABLE_QUORUM, "Regulated data: privacy officer co-signs (Privacy Officer)"),
    }


# --- Quorums nobody can fill ---------------------------------------------------------------


def test_a_two_approver_policy_with_one_person_on_call_is_an_unreachable_quorum_with_a_fix_link(now):
    action_type, role, _people = staffed_action_type(at=now, name="Isolate host")
    ApprovalPolicyFactory(name="Two approvers", action_types=[action_type], required_approvals=2)

    (gap,) = gaps(GapKind.UNREACHABLE_QUORUM, at=now)

    assert gap.subject == f"Two approvers ({role.name})"
    assert "needs 2 distinct approvers for Isolate host" in gap.detail
    assert "at most 1 certified people" in gap.detail
    assert gap.fix_url == f"/admin/governance/roster/?role__id__exact={role.pk}"
    assert gap.critical


def test_two_rosters_with_a_certified_person_each_fill_a_two_approver_quorum(now):
    action_type, _role, _people = staffed_action_type(at=now, people=2)
    ApprovalPolicyFactory(action_types=[action_type], required_approvals=2)

    assert gaps(GapKind.UNREACHABLE_QUORUM, at=now) == []


def test_an_uncertified_roster_member_does_not_count_towards_the_quorum(now):
    action_type, role, (certified, uncertified) = staffed_action_type(at=now, people=2)
    uncertified.certifications.all().delete()
    ApprovalPolicyFactory(action_types=[action_type], required_approvals=2)

    assert len(gaps(GapKind.UNREACHABLE_QUORUM, at=now)) == 1


def test_a_cosigner_role_nobody_can_sign_for_is_an_unreachable_quorum(now):
    action_type, _role, _people = staffed_action_type(at=now, people=2)
    privacy = DecisionRoleFactory(name="Privacy Officer")
    ApprovalPolicyFactory(action_types=[action_type], required_approvals=2, cosigner_roles=[privacy])

    (gap,) = gaps(GapKind.UNREACHABLE_QUORUM, at=now)

    assert "nobody certified can sign for Privacy Officer" in gap.detail


def test_a_disabled_policy_is_no_unreachable_quorum(now):
    action_type, _role, _people = staffed_action_type(at=now)
    ApprovalPolicyFactory(action_types=[action_type], required_approvals=2, enabled=False)

    assert gaps(GapKind.UNREACHABLE_QUORUM, at=now) == []


# --- Action types with no owner ------------------------------------------------------------


def test_action_type_without_an_owner_is_reported_with_a_link_to_assign_one(now):
    action_type = ActionTypeFactory(name="Isolate host")

    (gap,) = gaps(GapKind.UNOWNED_ACTION_TYPE, at=now)

    assert (gap.subject, gap.fix_url) == (
        "Isolate host",
        f"/admin/governance/ownershipassignment/add/?action_type={action_type.pk}",
    )


def test_assigning_an_owner_closes_the_unowned_gap(now):
    action_type = ActionTypeFactory()
    role, _ = staffed_role(at=now)

    services.ownership_assign(
        actor=None, action_type=action_type, owner_role=role, effective_from=now - timedelta(hours=1), reason="Owner"
    )

    assert gaps(GapKind.UNOWNED_ACTION_TYPE, at=now) == []


def test_system_owned_action_type_needs_no_owner(now):
    ActionTypeFactory(automation=True)

    assert gaps(GapKind.UNOWNED_ACTION_TYPE, at=now) == []


def test_action_type_whose_ownership_has_ended_is_reported(now):
    assignment = OwnershipAssignmentFactory(effective_from=now - timedelta(days=9), effective_to=now)

    (gap,) = gaps(GapKind.UNOWNED_ACTION_TYPE, at=now)

    assert gap.subject == assignment.action_type.name


def test_action_type_whose_ownership_starts_later_is_reported(now):
    assignment = OwnershipAssignmentFactory(effective_from=now + timedelta(days=1))

    (gap,) = gaps(GapKind.UNOWNED_ACTION_TYPE, at=now)

    assert gap.subject == assignment.action_type.name


def test_ownership_ending_within_the_horizon_without_a_successor_is_reported():
    action_type, role, _ = staffed_action_type(at=AT, name="Disable account")
    OwnershipAssignment.objects.filter(action_type=action_type).update(effective_to=AT + timedelta(days=3))

    (gap,) = gaps(GapKind.UNOWNED_ACTION_TYPE, at=AT)

    assert gap.detail.startswith(f"Owned now by {role.name}, but by nobody from 2026-01-10 10:00 UTC")


def test_a_successor_assignment_closes_the_future_unowned_gap():
    action_type, _role, _ = staffed_action_type(at=AT)
    OwnershipAssignment.objects.filter(action_type=action_type).update(effective_to=AT + timedelta(days=3))
    successor, _ = staffed_role(at=AT)

    services.ownership_assign(
        actor=None, action_type=action_type, owner_role=successor, effective_from=AT + timedelta(days=3), reason="Next"
    )

    assert gaps(GapKind.UNOWNED_ACTION_TYPE, at=AT) == []


# --- Owning roles with uncovered hours -------------------------------------------------------


def daytime_owner(*, at: datetime):
    """A role owning an action type, covered 09:00-17:00 UTC only, by one certified person."""
    role = DecisionRoleFactory(name="Shift lead")
    user = UserFactory()
    roster = RosterFactory(role=role, users=[user], coverage_start=time(9), coverage_end=time(17))
    certify(user, role, at=at)
    own(ActionTypeFactory(), role, since=at - timedelta(days=30))
    return role, roster, user


def test_owning_role_with_daytime_only_roster_is_reported_with_its_uncovered_hours():
    role, roster, _ = daytime_owner(at=AT)

    (gap,) = gaps(GapKind.UNCOVERED_ROLE, at=AT, horizon=timedelta(days=2))

    assert gap.subject == "Shift lead"
    assert gap.detail == (
        "Nobody on call for 32 h in 2 window(s) while it owns decisions; "
        "first 2026-01-07 17:00 UTC – 2026-01-08 09:00 UTC."
    )
    assert gap.fix_url == f"/admin/governance/roster/?role__id__exact={role.pk}"


def test_adding_a_night_roster_closes_the_uncovered_gap():
    role, _, _ = daytime_owner(at=AT)
    night = UserFactory()
    RosterFactory(role=role, users=[night], coverage_start=time(17), coverage_end=time(9))
    certify(night, role, at=AT)

    assert gaps(GapKind.UNCOVERED_ROLE, at=AT, horizon=timedelta(days=2)) == []


def test_an_override_in_the_uncovered_hours_closes_the_gap():
    evening = datetime(2026, 1, 7, 18, tzinfo=UTC)
    _, roster, user = daytime_owner(at=evening)

    # Overrides win even outside the roster's coverage window.
    RosterOverrideFactory(roster=roster, user=user, starts_at=evening, ends_at=evening + timedelta(hours=15))

    assert gaps(GapKind.UNCOVERED_ROLE, at=evening, horizon=timedelta(hours=15)) == []


def test_role_without_any_roster_is_reported_with_a_link_to_create_one(now):
    role = DecisionRoleFactory()
    OwnershipAssignmentFactory(owner_role=role)

    (gap,) = gaps(GapKind.UNCOVERED_ROLE, at=now)

    assert gap.fix_url == f"/admin/governance/roster/add/?role={role.pk}"
    assert gap.detail.startswith("Nobody on call for 336 h in 1 window(s)")


def test_deactivated_member_on_call_leaves_the_role_uncovered(now):
    _, role, (user,) = staffed_action_type(at=now)
    user.is_active = False
    user.save()

    assert subjects(GapKind.UNCOVERED_ROLE, at=now) == [role.name]


def test_adding_an_active_member_closes_the_gap_a_deactivated_one_left(now):
    _, role, (user,) = staffed_action_type(at=now)
    user.is_active = False
    user.save()
    roster = role.rosters.get()

    RosterMemberFactory(roster=roster, user=UserFactory(), position=0)
    roster.memberships.filter(user=user).delete()

    assert gaps(GapKind.UNCOVERED_ROLE, at=now) == []


def test_role_needs_cover_only_from_when_it_owns():
    role = DecisionRoleFactory()
    own(ActionTypeFactory(), role, since=AT + timedelta(days=10))

    (gap,) = gaps(GapKind.UNCOVERED_ROLE, at=AT)

    assert gap.detail == (
        "Nobody on call for 96 h in 1 window(s) while it owns decisions; "
        "first 2026-01-17 10:00 UTC – 2026-01-21 10:00 UTC."
    )


def test_role_owning_only_after_the_horizon_needs_no_cover_yet():
    own(ActionTypeFactory(), DecisionRoleFactory(), since=AT + timedelta(days=20))

    assert gaps(GapKind.UNCOVERED_ROLE, at=AT) == []


def test_deputy_role_without_a_roster_is_not_an_uncovered_owning_role(now):
    action_type, _, _ = staffed_action_type(at=now)
    OwnershipAssignment.objects.filter(action_type=action_type).update(deputy_role=DecisionRoleFactory())

    assert gaps(GapKind.UNCOVERED_ROLE, at=now) == []


def test_role_owning_only_system_owned_action_types_needs_no_cover(now):
    OwnershipAssignmentFactory(action_type=ActionTypeFactory(automation=True))

    assert gaps(GapKind.UNCOVERED_ROLE, at=now) == []


def berlin_rosters(*, night_end: time):
    role = DecisionRoleFactory(name="Tier-3 analyst")
    own(ActionTypeFactory(), role, since=datetime(2026, 9, 1, tzinfo=UTC))
    for start, end in ((time(8), time(20)), (time(20), night_end)):
        RosterFactory(
            role=role, users=[UserFactory()], time_zone="Europe/Berlin", coverage_start=start, coverage_end=end
        )


def test_day_and_night_rosters_cover_the_autumn_dst_change_without_a_gap():
    berlin_rosters(night_end=time(8))

    assert gaps(GapKind.UNCOVERED_ROLE, at=datetime(2026, 10, 24, 12, tzinfo=UTC), horizon=timedelta(days=2)) == []


def test_uncovered_local_hour_moves_in_utc_across_the_dst_change():
    berlin_rosters(night_end=time(7))

    (gap,) = gaps(GapKind.UNCOVERED_ROLE, at=datetime(2026, 10, 23, 12, tzinfo=UTC), horizon=timedelta(days=3))

    # 07:00-08:00 in Berlin: 05:00 UTC in summer time (24 Oct), 06:00 UTC in winter time (25, 26 Oct).
    assert gap.detail == (
        "Nobody on call for 3 h in 3 window(s) while it owns decisions; "
        "first 2026-10-24 05:00 UTC – 2026-10-24 06:00 UTC."
    )


# --- On-call members without a valid certification -------------------------------------------


def test_on_call_member_without_certification_is_reported_with_a_link_to_record_one(now):
    action_type, role, (user,) = staffed_action_type(at=now)
    user.certifications.all().delete()

    (gap,) = gaps(GapKind.UNCERTIFIED_ON_CALL, at=now)

    assert gap.subject == f"{user.get_full_name()} ({role.name})"
    assert "now without a valid certification" in gap.detail
    assert gap.fix_url == f"/admin/governance/certification/add/?user={user.pk}&role={role.pk}"


def test_recording_a_certification_closes_the_uncertified_gap(now):
    _, role, (user,) = staffed_action_type(at=now)
    user.certifications.all().delete()

    certify(user, role, at=now)

    assert gaps(GapKind.UNCERTIFIED_ON_CALL, at=now) == []


def test_certification_lapsing_mid_shift_is_reported_from_that_instant():
    role, _, user = daytime_owner(at=AT)
    user.certifications.update(valid_until=datetime(2026, 1, 8, 12, tzinfo=UTC))

    (gap,) = gaps(GapKind.UNCERTIFIED_ON_CALL, at=AT)

    assert "from 2026-01-08 12:00 UTC" in gap.detail


def test_revoked_certification_counts_as_none(now):
    _, _, (user,) = staffed_action_type(at=now)
    user.certifications.update(revoked_at=now - timedelta(days=1))

    assert len(gaps(GapKind.UNCERTIFIED_ON_CALL, at=now)) == 1


def test_override_by_an_uncertified_person_is_reported(now):
    _, role, _ = staffed_action_type(at=now)
    stand_in = UserFactory()
    RosterOverrideFactory(roster=role.rosters.get(), user=stand_in, starts_at=now + timedelta(days=2))

    (gap,) = gaps(GapKind.UNCERTIFIED_ON_CALL, at=now)

    assert gap.subject == f"{stand_in.get_full_name()} ({role.name})"


def test_certification_for_the_owned_action_type_suffices(now):
    action_type, _, (user,) = staffed_action_type(at=now)
    user.certifications.update(role=None, action_type=action_type)

    assert gaps(GapKind.UNCERTIFIED_ON_CALL, at=now) == []


def test_certification_for_one_of_two_owned_action_types_is_not_enough(now):
    action_type, role, (user,) = staffed_action_type(at=now)
    own(ActionTypeFactory(), role, since=now - timedelta(days=1))
    user.certifications.update(role=None, action_type=action_type)

    assert len(gaps(GapKind.UNCERTIFIED_ON_CALL, at=now)) == 1


def test_uncertified_member_of_a_role_nobody_asks_to_sign_is_not_reported(now):
    RosterFactory(users=[UserFactory()])

    assert gaps(GapKind.UNCERTIFIED_ON_CALL, at=now) == []


def test_uncertified_member_of_a_cosigner_role_is_reported(now):
    privacy = DecisionRoleFactory(name="Privacy officer")
    officer = UserFactory()
    RosterFactory(role=privacy, users=[officer])
    ApprovalPolicyFactory(cosigner_roles=[privacy], required_approvals=2, action_types=[ActionTypeFactory()])

    assert subjects(GapKind.UNCERTIFIED_ON_CALL, at=now) == [f"{officer.get_full_name()} (Privacy officer)"]


def test_uncertified_member_of_an_escalation_step_role_is_reported(now):
    manager = DecisionRoleFactory(name="SOC manager")
    RosterFactory(role=manager, users=[UserFactory()])
    chain = EscalationChainFactory(steps=[(manager, 600)])
    ApprovalPolicyFactory(escalation_chain=chain, max_blast_radius=Level.LOW, action_types=[ActionTypeFactory()])

    assert len(gaps(GapKind.UNCERTIFIED_ON_CALL, at=now)) == 1


# --- Certifications expiring -----------------------------------------------------------------


def test_certification_expiring_within_30_days_is_reported_with_a_link_to_renew_it(now):
    user = UserFactory(first_name="Katherine", last_name="Johnson")
    role = DecisionRoleFactory(name="Shift lead")
    cert = certify(user, role, at=now, days=10)

    (gap,) = gaps(GapKind.CERTIFICATION_EXPIRING, at=now)

    assert (gap.subject, gap.fix_url) == (
        "Katherine Johnson · Shift lead",
        f"/admin/governance/certification/{cert.pk}/change/",
    )


def test_renewing_the_certification_closes_the_expiring_gap(now):
    cert = certify(UserFactory(), DecisionRoleFactory(), at=now, days=10)

    cert.valid_until = now + timedelta(days=365)
    cert.save()

    assert gaps(GapKind.CERTIFICATION_EXPIRING, at=now) == []


def test_a_follow_on_certification_closes_the_expiring_gap(now):
    user, role = UserFactory(), DecisionRoleFactory()
    cert = certify(user, role, at=now, days=10)

    CertificationFactory(user=user, role=role, valid_from=cert.valid_until, valid_until=now + timedelta(days=400))

    assert gaps(GapKind.CERTIFICATION_EXPIRING, at=now) == []


def test_a_follow_on_certification_ending_within_30_days_too_is_reported_for_its_end(now):
    user, role = UserFactory(first_name="Ada", last_name="Lovelace"), DecisionRoleFactory(name="Shift lead")
    cert = certify(user, role, at=now, days=10)
    extension = CertificationFactory(
        user=user, role=role, valid_from=cert.valid_until, valid_until=now + timedelta(days=20)
    )

    (gap,) = gaps(GapKind.CERTIFICATION_EXPIRING, at=now)

    assert (gap.subject, gap.fix_url) == (
        "Ada Lovelace · Shift lead",
        f"/admin/governance/certification/{extension.pk}/change/",
    )
    assert f"Expires {extension.valid_until:%Y-%m-%d} (20 days)" in gap.detail


def test_overlapping_certifications_for_one_scope_ending_within_30_days_are_one_gap(now):
    user, role = UserFactory(), DecisionRoleFactory()
    certify(user, role, at=now, days=10)
    later = certify(user, role, at=now, days=20)

    (gap,) = gaps(GapKind.CERTIFICATION_EXPIRING, at=now)

    assert gap.fix_url == f"/admin/governance/certification/{later.pk}/change/"


def test_certification_lasting_beyond_30_days_is_not_reported(now):
    certify(UserFactory(), DecisionRoleFactory(), at=now, days=31)

    assert gaps(GapKind.CERTIFICATION_EXPIRING, at=now) == []


def test_expiring_certification_of_a_deactivated_person_is_not_reported(now):
    certify(UserFactory(is_active=False), DecisionRoleFactory(), at=now, days=10)

    assert gaps(GapKind.CERTIFICATION_EXPIRING, at=now) == []


# --- Policies letting a high blast radius through with one approver ---------------------------


def test_single_approver_policy_matching_high_blast_is_reported_with_a_link_to_it(now):
    action_type, _, _ = staffed_action_type(at=now, name="Isolate host")
    policy = ApprovalPolicyFactory(name="Containment", action_types=[action_type], min_blast_radius=Level.HIGH)

    (gap,) = gaps(GapKind.SINGLE_APPROVER_HIGH_BLAST, at=now)

    assert gap.subject == "Containment"
    assert gap.detail == "Can match a High–Critical blast radius (Isolate host) and needs a single approver."
    assert gap.fix_url == f"/admin/governance/approvalpolicy/{policy.pk}/change/"


def test_raising_the_required_approvals_closes_the_single_approver_gap(now):
    action_type, _, _ = staffed_action_type(at=now, people=2)
    policy = ApprovalPolicyFactory(action_types=[action_type])

    policy.required_approvals = 2
    services.approval_policy_save(
        actor=make_user_in_group(rbac.GOVERNANCE_LEAD),
        policy=policy,
        action_types=[action_type],
        cosigner_roles=[],
        reason="Two people for containment",
        at=now,
    )

    assert gaps(GapKind.SINGLE_APPROVER_HIGH_BLAST, at=now) == []


def test_single_approver_policy_capped_at_medium_blast_is_not_reported(now):
    ApprovalPolicyFactory(max_blast_radius=Level.MEDIUM)

    assert gaps(GapKind.SINGLE_APPROVER_HIGH_BLAST, at=now) == []


def test_policy_matching_only_system_owned_action_types_is_not_reported(now):
    ApprovalPolicyFactory(action_types=[ActionTypeFactory(automation=True)], allow_auto_approval=True)

    assert gaps(GapKind.SINGLE_APPROVER_HIGH_BLAST, at=now) == []


def test_policy_behind_an_earlier_catch_all_for_high_blast_is_not_reported(now):
    ActionTypeFactory()
    ApprovalPolicyFactory(priority=10, min_blast_radius=Level.HIGH, required_approvals=2)
    ApprovalPolicyFactory(priority=20, name="Default")

    assert gaps(GapKind.SINGLE_APPROVER_HIGH_BLAST, at=now) == []


def test_policy_behind_an_earlier_policy_for_a_superset_of_its_action_types_is_not_reported(now):
    a, b = ActionTypeFactory(), ActionTypeFactory()
    ApprovalPolicyFactory(priority=10, action_types=[a, b], required_approvals=2)
    ApprovalPolicyFactory(priority=20, action_types=[a])

    assert gaps(GapKind.SINGLE_APPROVER_HIGH_BLAST, at=now) == []


def test_policy_behind_an_earlier_policy_for_only_some_of_its_action_types_is_reported(now):
    listed, _other = ActionTypeFactory(), ActionTypeFactory()
    ApprovalPolicyFactory(priority=10, action_types=[listed], required_approvals=2)
    ApprovalPolicyFactory(priority=20, name="Default")

    assert subjects(GapKind.SINGLE_APPROVER_HIGH_BLAST, at=now) == ["Default"]


@pytest.mark.parametrize(
    "criteria",
    [
        {"min_severity": Level.HIGH},
        {"regulated_data": Criterion.YES},
        {"customer_impact": Criterion.NO},
        {"min_blast_radius": Level.CRITICAL},
    ],
    ids=["min-severity", "regulated-only", "no-customer-impact-only", "critical-only"],
)
def test_policy_behind_an_earlier_policy_missing_some_high_blast_decisions_is_reported(now, criteria):
    ActionTypeFactory()
    ApprovalPolicyFactory(priority=10, required_approvals=2, **criteria)
    ApprovalPolicyFactory(priority=20, name="Default")

    assert subjects(GapKind.SINGLE_APPROVER_HIGH_BLAST, at=now) == ["Default"]


def test_policy_behind_a_disabled_catch_all_is_reported(now):
    ActionTypeFactory()
    ApprovalPolicyFactory(priority=10, required_approvals=2, enabled=False)
    ApprovalPolicyFactory(priority=20, name="Default")

    assert subjects(GapKind.SINGLE_APPROVER_HIGH_BLAST, at=now) == ["Default"]


# --- Chains that approve production changes without a human -----------------------------------


def auto_approving_chain_for(action_type):
    chain = EscalationChainFactory(name="Automation review", final_outcome=AUTO_APPROVE)
    ApprovalPolicyFactory(action_types=[action_type], escalation_chain=chain, max_blast_radius=Level.LOW)
    return chain


def test_action_type_flipped_to_production_changing_behind_an_auto_approving_chain_is_reported(now):
    action_type = ActionTypeFactory(name="Tag ticket", changes_production_state=False)
    chain = auto_approving_chain_for(action_type)
    assert gaps(GapKind.CHAIN_WITHOUT_HUMAN, at=now) == []

    action_type.changes_production_state = True
    action_type.save()

    (gap,) = gaps(GapKind.CHAIN_WITHOUT_HUMAN, at=now)
    assert (gap.subject, gap.fix_url) == ("Automation review", f"/admin/governance/escalationchain/{chain.pk}/change/")
    assert "Tag ticket" in gap.detail


def test_making_the_chain_expire_closes_the_chain_gap(now):
    chain = auto_approving_chain_for(ActionTypeFactory())

    chain.final_outcome = EXPIRE
    chain.save()

    assert gaps(GapKind.CHAIN_WITHOUT_HUMAN, at=now) == []


def test_regulated_action_type_behind_an_auto_approving_chain_is_reported(now):
    auto_approving_chain_for(ActionTypeFactory(changes_production_state=False, touches_regulated_data=True))

    assert subjects(GapKind.CHAIN_WITHOUT_HUMAN, at=now) == ["Automation review"]


def test_auto_approving_chain_for_system_owned_action_types_is_not_reported(now):
    auto_approving_chain_for(ActionTypeFactory(automation=True))

    assert gaps(GapKind.CHAIN_WITHOUT_HUMAN, at=now) == []


def test_auto_approving_chain_used_only_by_a_disabled_policy_is_not_reported(now):
    chain = EscalationChainFactory(final_outcome=AUTO_APPROVE)
    ApprovalPolicyFactory(escalation_chain=chain, enabled=False, action_types=[ActionTypeFactory()])

    assert gaps(GapKind.CHAIN_WITHOUT_HUMAN, at=now) == []


# --- Fix links -------------------------------------------------------------------------------


def make_one_gap_of_each_kind(now: datetime) -> None:
    ActionTypeFactory()  # no owner
    OwnershipAssignmentFactory(owner_role=DecisionRoleFactory())  # owning role without a roster
    _, role, (user,) = staffed_action_type(at=now)
    user.certifications.update(valid_until=now + timedelta(days=5))  # expiring, then on call uncertified
    staffed = ActionTypeFactory()
    own(staffed, role, since=now - timedelta(days=1))
    daytime_owner(at=now)  # owning role with rosters that leave hours uncovered
    ApprovalPolicyFactory(action_types=[staffed])  # one approver for any blast radius
    auto_approving_chain_for(ActionTypeFactory())
    two_approvers, _role, _people = staffed_action_type(at=now)  # one roster, one person on call
    ApprovalPolicyFactory(action_types=[two_approvers], required_approvals=2)


def test_one_of_each_scenario_reports_every_kind(now):
    make_one_gap_of_each_kind(now)

    assert {g.kind for g in ownership_gaps(at=now)} == set(GapKind.LABELS)


def test_every_fix_link_opens_its_admin_page_for_a_superuser(admin_client, now):
    make_one_gap_of_each_kind(now)
    found = ownership_gaps(at=now)
    assert {g.fix_url.split("?")[0] for g in found if g.kind == GapKind.UNCOVERED_ROLE} == {
        "/admin/governance/roster/",
        "/admin/governance/roster/add/",
    }

    statuses = {g.fix_url: admin_client.get(g.fix_url).status_code for g in found}

    assert set(statuses.values()) == {200}, statuses


def test_the_assign_owner_link_prefills_the_action_type_and_its_form_closes_the_gap(admin_client, now):
    action_type = ActionTypeFactory()
    role, _ = staffed_role(at=now)
    (gap,) = gaps(GapKind.UNOWNED_ACTION_TYPE, at=now)
    start = timezone.localtime(now - timedelta(hours=1))

    data = admin_form_data(
        admin_client.get(gap.fix_url),
        owner_role=str(role.pk),
        effective_from_0=start.strftime("%Y-%m-%d"),
        effective_from_1=start.strftime("%H:%M:%S"),
        change_reason="Owner for the gap the review found",
    )
    response = admin_client.post(gap.fix_url, data)

    assert data["action_type"] == str(action_type.pk)
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert gaps(GapKind.UNOWNED_ACTION_TYPE, at=now) == []


def test_the_chain_link_opens_a_form_that_closes_the_chain_gap(admin_client, now):
    auto_approving_chain_for(ActionTypeFactory())
    (gap,) = gaps(GapKind.CHAIN_WITHOUT_HUMAN, at=now)

    data = admin_form_data(admin_client.get(gap.fix_url), final_outcome=EXPIRE, change_reason="Fail safe")
    response = admin_client.post(gap.fix_url, data)

    assert response.status_code == 302
    assert gaps(GapKind.CHAIN_WITHOUT_HUMAN, at=now) == []


# --- Grouping --------------------------------------------------------------------------------


def test_gaps_by_kind_lists_every_kind_critical_first_with_counts(now):
    ActionTypeFactory()
    ActionTypeFactory()

    groups = gaps_by_kind(ownership_gaps(at=now))

    assert [(g["kind"], g["critical"], g["count"]) for g in groups] == [
        (GapKind.UNOWNED_ACTION_TYPE, True, 2),
        (GapKind.UNCOVERED_ROLE, True, 0),
        (GapKind.UNCERTIFIED_ON_CALL, True, 0),
        (GapKind.UNREACHABLE_QUORUM, True, 0),
        (GapKind.CHAIN_WITHOUT_HUMAN, True, 0),
        (GapKind.CERTIFICATION_EXPIRING, False, 0),
        (GapKind.SINGLE_APPROVER_HIGH_BLAST, False, 0),
    ]


def test_gaps_by_kind_groups_a_frozen_reports_dicts_like_live_gaps(now):
    ActionTypeFactory()
    live = ownership_gaps(at=now)

    assert gaps_by_kind([g.as_dict() for g in live]) == gaps_by_kind(live)


# --- Admin index -----------------------------------------------------------------------------


def _kind_block(page: str, kind: str) -> str:
    match = re.search(rf'<div class="([^"]*)" data-kind="{kind}">(.*?)</div>', page, re.S)
    assert match, f"no block for {kind}"
    return match.group(0)


def test_admin_index_lists_a_gap_with_its_detail_and_fix_link(client, lead):
    action_type = ActionTypeFactory(name="Quarantine mailbox")

    page = client.get("/admin/").content.decode()

    block = _kind_block(page, GapKind.UNOWNED_ACTION_TYPE)
    assert "<strong>Quarantine mailbox</strong>: No role owns it now" in block
    assert (
        f'href="/admin/governance/ownershipassignment/add/?action_type={action_type.pk}">Assign an owner</a>' in block
    )


def test_admin_index_escapes_the_query_string_of_a_fix_link(client, lead, now):
    _, role, (user,) = staffed_action_type(at=now)
    user.certifications.all().delete()

    page = client.get("/admin/").content.decode()

    assert f'href="/admin/governance/certification/add/?user={user.pk}&amp;role={role.pk}"' in page


def test_admin_index_highlights_a_critical_kind_with_gaps_and_counts_it(client, lead):
    ActionTypeFactory()
    ActionTypeFactory()

    block = _kind_block(client.get("/admin/").content.decode(), GapKind.UNOWNED_ACTION_TYPE)

    assert block.startswith('<div class="cs-gap-kind cs-critical"')
    assert '<span class="cs-count">2</span> <strong class="cs-badge">critical</strong>' in block


def test_admin_index_says_none_for_every_kind_without_gaps(client, lead):
    page = client.get("/admin/").content.decode()

    for kind in GapKind.LABELS:
        block = _kind_block(page, kind)
        assert '<p class="cs-none">None.</p>' in block
        assert "cs-critical" not in block
    assert "Ownership gaps: 0</h2>" in page


def test_admin_index_shows_no_gaps_to_staff_without_roster_view(client):
    ActionTypeFactory(name="Quarantine mailbox")
    client.force_login(UserFactory(is_staff=True))

    page = client.get("/admin/").content.decode()

    assert "Ownership gaps" not in page
    assert "Quarantine mailbox" not in page


# --- Queries ---------------------------------------------------------------------------------


def make_staffed_soc(size: int, now: datetime) -> None:
    """``size`` owned action types, each role with two rosters (one of them uncertified and
    daytime only), overrides, and certifications some of which are expiring."""
    for i in range(size):
        action_type, role, _ = make_staffed_action_type(signers=2)
        RosterFactory(role=role, users=[UserFactory(), UserFactory()], coverage_start=time(9), coverage_end=time(17))
        RosterOverrideFactory(roster=role.rosters.first(), user=UserFactory())
        CertificationFactory(user=UserFactory(), role=role, valid_until=now + timedelta(days=i % 40 + 1))
        ApprovalPolicyFactory(action_types=[action_type], escalation_chain=EscalationChainFactory(steps=[(role, 60)]))
        ActionTypeFactory()


def test_ownership_gaps_runs_two_queries_whatever_the_size_of_the_configuration(django_assert_num_queries, now):
    make_staffed_soc(1, now)
    ownership_gaps(at=now)  # loads the governance snapshot, as any earlier request would
    with django_assert_num_queries(2):
        few = ownership_gaps(at=now)

    make_staffed_soc(30, now)
    ownership_gaps(at=now)
    with django_assert_num_queries(2):
        many = ownership_gaps(at=now)

    assert len(many) > len(few) > 0
