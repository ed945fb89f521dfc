"""Governance selectors against the database: who is on call, who owns, who may sign."""

from datetime import UTC, date, datetime, time, timedelta

import pytest

from governance.models import Roster
from governance.rostering import RosterPlan
from governance.selectors import (
    certifications_expiring,
    current_owner,
    eligible_signers,
    on_call,
    role_coverage_gaps,
)
from tests.governance.factories import (
    ActionTypeFactory,
    CertificationFactory,
    DecisionRoleFactory,
    OwnershipAssignmentFactory,
    RosterFactory,
    RosterOverrideFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

# A Wednesday: on the factories' weekly roster (Monday 2026-01-05 09:00 UTC) the first member is on call.
AT = datetime(2026, 1, 7, 12, tzinfo=UTC)


def users(*names: str) -> list:
    return [UserFactory(username=name) for name in names]


def certify(user, *, role=None, action_type=None, valid_from=None, valid_until=None, revoked_at=None):
    """A certification valid from a month before ``AT`` to a month after, unless told."""
    return CertificationFactory(
        user=user,
        role=role,
        action_type=action_type,
        valid_from=valid_from or AT - timedelta(days=30),
        valid_until=valid_until or AT + timedelta(days=30),
        revoked_at=revoked_at,
    )


def owned_action_type(*, owner_role, deputy_role=None, **action_fields):
    action_type = ActionTypeFactory(**action_fields)
    OwnershipAssignmentFactory(
        action_type=action_type, owner_role=owner_role, deputy_role=deputy_role, effective_from=AT - timedelta(days=30)
    )
    return action_type


def names(people) -> list[str]:
    return sorted(p.user.username for p in people)


# --- on_call ----------------------------------------------------------------------------------------------------


def test_on_call_lists_one_person_per_roster_of_the_role():
    role = DecisionRoleFactory()
    RosterFactory(role=role, name="Day desk", users=users("ann", "bob"))
    RosterFactory(role=role, name="Night desk", users=users("cy", "dan"))

    found = on_call(role=role, at=AT)

    assert sorted((p.user.username, p.roster.name, p.source) for p in found) == [
        ("ann", "Day desk", "rotation"),
        ("cy", "Night desk", "rotation"),
    ]


def test_on_call_ignores_rosters_of_other_roles():
    role = DecisionRoleFactory()
    RosterFactory(role=role, users=users("ann"))
    RosterFactory(role=DecisionRoleFactory(), users=users("bob"))

    assert names(on_call(role=role, at=AT)) == ["ann"]


def test_on_call_lists_a_person_on_two_rosters_of_the_role_once():
    role = DecisionRoleFactory()
    (ann,) = users("ann")
    RosterFactory(role=role, users=[ann])
    RosterFactory(role=role, users=[ann])

    assert names(on_call(role=role, at=AT)) == ["ann"]


def test_on_call_excludes_an_inactive_user():
    role = DecisionRoleFactory()
    ann, bob = users("ann", "bob")
    ann.is_active = False
    ann.save()
    RosterFactory(role=role, users=[ann])
    RosterFactory(role=role, users=[bob])

    assert names(on_call(role=role, at=AT)) == ["bob"]


def test_on_call_reports_a_person_covering_by_override():
    role = DecisionRoleFactory()
    roster = RosterFactory(role=role, users=users("ann", "bob"))
    RosterOverrideFactory(
        roster=roster, user=UserFactory(username="cover"), starts_at=AT, ends_at=AT + timedelta(days=1)
    )

    assert [(p.user.username, p.source) for p in on_call(role=role, at=AT)] == [("cover", "override")]


def test_on_call_ignores_an_override_that_has_ended():
    role = DecisionRoleFactory()
    roster = RosterFactory(role=role, users=users("ann"))
    RosterOverrideFactory(
        roster=roster, user=UserFactory(username="cover"), starts_at=AT - timedelta(hours=8), ends_at=AT
    )

    assert names(on_call(role=role, at=AT)) == ["ann"]


def test_on_call_is_empty_for_a_role_without_rosters():
    assert on_call(role=DecisionRoleFactory(), at=AT) == []


@pytest.mark.parametrize("rosters", [1, 5])
def test_on_call_reads_one_query_once_the_snapshot_is_warm(rosters, django_assert_num_queries):
    role = DecisionRoleFactory()
    for _ in range(rosters):
        roster = RosterFactory(role=role, users=[UserFactory(), UserFactory()])
        RosterOverrideFactory(roster=roster, starts_at=AT, ends_at=AT + timedelta(hours=1))
    on_call(role=role, at=AT)

    with django_assert_num_queries(1):
        found = on_call(role=role, at=AT)

    assert len(found) == rosters


# --- current_owner ----------------------------------------------------------------------------------------------


def test_current_owner_is_the_assignment_in_force():
    assignment = OwnershipAssignmentFactory(effective_from=AT - timedelta(days=1), effective_to=AT + timedelta(days=1))

    assert current_owner(action_type=assignment.action_type, at=AT) == assignment


def test_current_owner_starts_at_effective_from():
    assignment = OwnershipAssignmentFactory(effective_from=AT)

    assert current_owner(action_type=assignment.action_type, at=AT - timedelta(microseconds=1)) is None
    assert current_owner(action_type=assignment.action_type, at=AT) == assignment


def test_current_owner_ends_at_effective_to():
    assignment = OwnershipAssignmentFactory(effective_from=AT - timedelta(days=1), effective_to=AT)

    assert current_owner(action_type=assignment.action_type, at=AT) is None


def test_current_owner_is_none_in_a_gap_between_assignments():
    action_type = ActionTypeFactory()
    OwnershipAssignmentFactory(
        action_type=action_type, effective_from=AT - timedelta(days=9), effective_to=AT - timedelta(days=2)
    )
    OwnershipAssignmentFactory(action_type=action_type, effective_from=AT + timedelta(days=2))

    assert current_owner(action_type=action_type, at=AT) is None


def test_current_owner_is_the_successor_from_the_handover():
    action_type = ActionTypeFactory()
    OwnershipAssignmentFactory(action_type=action_type, effective_from=AT - timedelta(days=9), effective_to=AT)
    successor = OwnershipAssignmentFactory(action_type=action_type, effective_from=AT)

    assert current_owner(action_type=action_type, at=AT) == successor


# --- eligible_signers -------------------------------------------------------------------------------------------


def test_eligible_signer_is_on_call_and_certified_for_the_owning_role():
    role = DecisionRoleFactory()
    (ann,) = users("ann")
    RosterFactory(role=role, users=[ann])
    certify(ann, role=role)
    action_type = owned_action_type(owner_role=role)

    signers = eligible_signers(action_type=action_type, at=AT)

    assert [(s.user, s.role, s.via_deputy) for s in signers] == [(ann, role, False)]


def test_certified_member_who_is_not_on_call_is_not_eligible():
    role = DecisionRoleFactory()
    ann, bob = users("ann", "bob")
    RosterFactory(role=role, users=[ann, bob])
    certify(ann, role=role)
    certify(bob, role=role)
    action_type = owned_action_type(owner_role=role)

    assert names(eligible_signers(action_type=action_type, at=AT)) == ["ann"]


def test_on_call_member_without_certification_is_not_eligible():
    role = DecisionRoleFactory()
    RosterFactory(role=role, users=users("ann"))
    action_type = owned_action_type(owner_role=role)

    assert eligible_signers(action_type=action_type, at=AT) == []


def test_expired_certification_does_not_count():
    role = DecisionRoleFactory()
    (ann,) = users("ann")
    RosterFactory(role=role, users=[ann])
    certify(ann, role=role, valid_until=AT)
    action_type = owned_action_type(owner_role=role)

    assert eligible_signers(action_type=action_type, at=AT) == []


def test_revoked_certification_does_not_count():
    role = DecisionRoleFactory()
    (ann,) = users("ann")
    RosterFactory(role=role, users=[ann])
    certify(ann, role=role, revoked_at=AT)
    action_type = owned_action_type(owner_role=role)

    assert eligible_signers(action_type=action_type, at=AT) == []


def test_certification_revoked_later_still_counts_now():
    role = DecisionRoleFactory()
    (ann,) = users("ann")
    RosterFactory(role=role, users=[ann])
    certify(ann, role=role, revoked_at=AT + timedelta(hours=1))
    action_type = owned_action_type(owner_role=role)

    assert names(eligible_signers(action_type=action_type, at=AT)) == ["ann"]


def test_certification_not_yet_valid_does_not_count():
    role = DecisionRoleFactory()
    (ann,) = users("ann")
    RosterFactory(role=role, users=[ann])
    certify(ann, role=role, valid_from=AT + timedelta(microseconds=1))
    action_type = owned_action_type(owner_role=role)

    assert eligible_signers(action_type=action_type, at=AT) == []


def test_certification_for_the_action_type_counts_instead_of_the_role():
    role = DecisionRoleFactory()
    (ann,) = users("ann")
    RosterFactory(role=role, users=[ann])
    action_type = owned_action_type(owner_role=role)
    cert = certify(ann, action_type=action_type)

    assert [(s.user, s.certification) for s in eligible_signers(action_type=action_type, at=AT)] == [(ann, cert)]


def test_certification_for_another_role_or_action_type_does_not_count():
    role = DecisionRoleFactory()
    (ann,) = users("ann")
    RosterFactory(role=role, users=[ann])
    certify(ann, role=DecisionRoleFactory())
    certify(ann, action_type=ActionTypeFactory())
    action_type = owned_action_type(owner_role=role)

    assert eligible_signers(action_type=action_type, at=AT) == []


def test_signer_carries_the_certification_that_lasts_longest():
    role = DecisionRoleFactory()
    (ann,) = users("ann")
    RosterFactory(role=role, users=[ann])
    action_type = owned_action_type(owner_role=role)
    certify(ann, role=role, valid_until=AT + timedelta(days=3))
    longest = certify(ann, action_type=action_type, valid_until=AT + timedelta(days=90))

    assert [s.certification for s in eligible_signers(action_type=action_type, at=AT)] == [longest]


def test_person_covering_by_override_is_eligible_when_certified():
    role = DecisionRoleFactory()
    roster = RosterFactory(role=role, users=users("ann"))
    (cover,) = users("cover")
    RosterOverrideFactory(roster=roster, user=cover, starts_at=AT, ends_at=AT + timedelta(hours=8))
    certify(cover, role=role)
    action_type = owned_action_type(owner_role=role)

    assert [(s.user, s.source) for s in eligible_signers(action_type=action_type, at=AT)] == [(cover, "override")]


def test_deputy_role_signs_when_nobody_in_the_owning_role_is_eligible():
    owner, deputy = DecisionRoleFactory(), DecisionRoleFactory()
    ann, dee = users("ann", "dee")
    RosterFactory(role=owner, users=[ann])  # on call, but not certified
    RosterFactory(role=deputy, users=[dee])
    certify(dee, role=deputy)
    action_type = owned_action_type(owner_role=owner, deputy_role=deputy)

    signers = eligible_signers(action_type=action_type, at=AT)

    assert [(s.user, s.role, s.via_deputy) for s in signers] == [(dee, deputy, True)]


def test_deputy_role_is_not_asked_when_the_owning_role_has_an_eligible_signer():
    owner, deputy = DecisionRoleFactory(), DecisionRoleFactory()
    ann, dee = users("ann", "dee")
    RosterFactory(role=owner, users=[ann])
    RosterFactory(role=deputy, users=[dee])
    certify(ann, role=owner)
    certify(dee, role=deputy)
    action_type = owned_action_type(owner_role=owner, deputy_role=deputy)

    assert names(eligible_signers(action_type=action_type, at=AT)) == ["ann"]


def test_nobody_is_eligible_for_an_action_type_without_a_current_owner():
    role = DecisionRoleFactory()
    (ann,) = users("ann")
    RosterFactory(role=role, users=[ann])
    certify(ann, role=role)
    action_type = ActionTypeFactory()
    OwnershipAssignmentFactory(action_type=action_type, owner_role=role, effective_from=AT + timedelta(days=1))

    assert eligible_signers(action_type=action_type, at=AT) == []


def test_signer_explains_why_they_may_sign():
    owner, deputy = DecisionRoleFactory(name="Incident Commander"), DecisionRoleFactory(name="Shift Lead")
    RosterFactory(role=owner, users=users("ann"))
    (dee,) = users("dee")
    RosterFactory(role=deputy, name="Shift leads EMEA", users=[dee])
    certify(dee, role=deputy, valid_until=datetime(2026, 6, 30, tzinfo=UTC))
    action_type = owned_action_type(owner_role=owner, deputy_role=deputy)

    (signer,) = eligible_signers(action_type=action_type, at=AT)

    assert signer.why() == (
        "on call for Shift Lead (deputy role) via roster Shift leads EMEA on the rotation; certified until 2026-06-30"
    )


# --- certifications_expiring ------------------------------------------------------------------------------------


def test_certifications_expiring_within_the_window_soonest_first():
    later = certify(UserFactory(), role=DecisionRoleFactory(), valid_until=AT + timedelta(days=20))
    sooner = certify(UserFactory(), role=DecisionRoleFactory(), valid_until=AT + timedelta(days=2))

    assert list(certifications_expiring(at=AT, within=timedelta(days=30))) == [sooner, later]


def test_certifications_expiring_omit_those_lasting_beyond_the_window():
    certify(UserFactory(), role=DecisionRoleFactory(), valid_until=AT + timedelta(days=31))

    assert list(certifications_expiring(at=AT, within=timedelta(days=30))) == []


def test_certifications_expiring_omit_expired_revoked_and_future_ones():
    role = DecisionRoleFactory()
    certify(UserFactory(), role=role, valid_until=AT)
    certify(UserFactory(), role=role, valid_until=AT + timedelta(days=2), revoked_at=AT - timedelta(days=1))
    certify(UserFactory(), role=role, valid_from=AT + timedelta(days=1), valid_until=AT + timedelta(days=2))

    assert list(certifications_expiring(at=AT, within=timedelta(days=30))) == []


# --- role_coverage_gaps -----------------------------------------------------------------------------------------


def test_role_coverage_gaps_between_day_and_night_rosters():
    role = DecisionRoleFactory()
    RosterFactory(role=role, users=users("ann"), coverage_start=time(8, 0), coverage_end=time(20, 0))
    RosterFactory(role=role, users=users("bob"), coverage_start=time(22, 0), coverage_end=time(6, 0))

    gaps = role_coverage_gaps(role=role, start=AT, end=AT + timedelta(days=1))

    assert gaps == [
        (datetime(2026, 1, 7, 20, tzinfo=UTC), datetime(2026, 1, 7, 22, tzinfo=UTC)),
        (datetime(2026, 1, 8, 6, tzinfo=UTC), datetime(2026, 1, 8, 8, tzinfo=UTC)),
    ]


def test_role_coverage_gaps_checks_an_unsaved_change_to_a_roster():
    role = DecisionRoleFactory()
    (ann,) = users("ann")
    roster = RosterFactory(role=role, users=[ann])
    changed = Roster.objects.get(pk=roster.pk)
    changed.coverage_start, changed.coverage_end = time(9, 0), time(17, 0)

    gaps = role_coverage_gaps(
        role=role, start=AT, end=AT + timedelta(days=1), replace=RosterPlan(roster=changed, members=[ann])
    )

    assert gaps == [(datetime(2026, 1, 7, 17, tzinfo=UTC), datetime(2026, 1, 8, 9, tzinfo=UTC))]


def test_role_coverage_gaps_whole_period_for_a_role_without_rosters():
    gaps = role_coverage_gaps(role=DecisionRoleFactory(), start=AT, end=AT + timedelta(days=1))

    assert gaps == [(AT, AT + timedelta(days=1))]


def test_role_coverage_gaps_counts_an_unsaved_new_roster():
    role = DecisionRoleFactory()
    (ann,) = users("ann")
    new = Roster(role=role, name="New desk", rotation_start=date(2026, 1, 5))

    gaps = role_coverage_gaps(
        role=role, start=AT, end=AT + timedelta(days=1), replace=RosterPlan(roster=new, members=[ann])
    )

    assert gaps == []
