"""Exactly one owner per action type at any instant: the services, the selector and the database."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from governance.models import OwnershipAssignment
from governance.selectors import current_owner
from governance.services import ownership_assign, ownership_save
from tests.governance.factories import ActionTypeFactory, DecisionRoleFactory, OwnershipAssignmentFactory, UserFactory
from tests.helpers import run_concurrently

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def _assign(action_type, owner_role, start, end=None, **kwargs):
    return ownership_assign(
        actor=None,
        action_type=action_type,
        owner_role=owner_role,
        effective_from=start,
        effective_to=end,
        reason="test",
        **kwargs,
    )


@pytest.mark.django_db
def test_ownership_assign_creates_assignment():
    action_type = ActionTypeFactory()
    role = DecisionRoleFactory()
    deputy = DecisionRoleFactory()

    assignment = _assign(action_type, role, T0, deputy_role=deputy)

    stored = OwnershipAssignment.objects.get(pk=assignment.pk)
    assert (stored.action_type, stored.owner_role, stored.deputy_role) == (action_type, role, deputy)
    assert (stored.effective_from, stored.effective_to) == (T0, None)
    assert current_owner(action_type=action_type, at=T0 + DAY) == stored


@pytest.mark.django_db
def test_ownership_assign_rejects_overlap_with_bounded_assignment():
    action_type = ActionTypeFactory(name="Isolate host")
    OwnershipAssignmentFactory(
        action_type=action_type,
        owner_role=DecisionRoleFactory(name="Shift Lead"),
        effective_from=T0,
        effective_to=T0 + 10 * DAY,
    )

    with pytest.raises(ValidationError) as excinfo:
        _assign(action_type, DecisionRoleFactory(), T0 + 5 * DAY)

    [message] = excinfo.value.message_dict["effective_from"]
    assert "Isolate host already has an owner in this period" in message
    assert "Shift Lead from 2026-03-02 09:00 UTC to 2026-03-12 09:00 UTC" in message
    assert "exactly one owner at any instant" in message
    assert OwnershipAssignment.objects.filter(action_type=action_type).count() == 1


@pytest.mark.django_db
def test_ownership_assign_rejects_bounded_period_around_existing_one():
    action_type = ActionTypeFactory()
    OwnershipAssignmentFactory(action_type=action_type, effective_from=T0 + 2 * DAY, effective_to=T0 + 3 * DAY)

    with pytest.raises(ValidationError, match="already has an owner in this period"):
        _assign(action_type, DecisionRoleFactory(), T0, T0 + 10 * DAY)


@pytest.mark.django_db
def test_ownership_assign_hands_over_open_ended_assignment_at_new_start():
    action_type = ActionTypeFactory()
    old_role, new_role = DecisionRoleFactory(), DecisionRoleFactory()
    previous = OwnershipAssignmentFactory(action_type=action_type, owner_role=old_role, effective_from=T0)

    new = _assign(action_type, new_role, T0 + 10 * DAY)

    previous.refresh_from_db()
    assert previous.effective_to == T0 + 10 * DAY
    assert new.effective_to is None
    assert current_owner(action_type=action_type, at=T0 + 10 * DAY - timedelta(seconds=1)).owner_role == old_role
    assert current_owner(action_type=action_type, at=T0 + 10 * DAY).owner_role == new_role


@pytest.mark.django_db
def test_bounded_hand_over_returns_ownership_to_the_previous_owner_afterwards():
    action_type = ActionTypeFactory()
    old_role, cover_role = DecisionRoleFactory(), DecisionRoleFactory()
    OwnershipAssignmentFactory(action_type=action_type, owner_role=old_role, effective_from=T0)

    _assign(action_type, cover_role, T0 + 10 * DAY, T0 + 17 * DAY)

    assert current_owner(action_type=action_type, at=T0 + 12 * DAY).owner_role == cover_role
    resumed = current_owner(action_type=action_type, at=T0 + 17 * DAY)
    assert resumed.owner_role == old_role
    assert resumed.effective_to is None


@pytest.mark.django_db
def test_ownership_assign_rejects_hand_over_starting_with_the_open_ended_assignment():
    action_type = ActionTypeFactory()
    OwnershipAssignmentFactory(action_type=action_type, effective_from=T0)

    with pytest.raises(ValidationError, match="already has an owner in this period"):
        _assign(action_type, DecisionRoleFactory(), T0)


@pytest.mark.django_db
def test_ownership_assign_rejects_open_ended_assignment_before_a_later_open_ended_one():
    action_type = ActionTypeFactory()
    OwnershipAssignmentFactory(action_type=action_type, effective_from=T0 + 10 * DAY)

    with pytest.raises(ValidationError, match="already has an owner in this period"):
        _assign(action_type, DecisionRoleFactory(), T0)


@pytest.mark.django_db
def test_ownership_assign_allows_gap_between_assignments():
    action_type = ActionTypeFactory()
    _assign(action_type, DecisionRoleFactory(), T0, T0 + DAY)

    later = _assign(action_type, DecisionRoleFactory(), T0 + 3 * DAY, T0 + 4 * DAY)

    assert OwnershipAssignment.objects.filter(action_type=action_type).count() == 2
    assert current_owner(action_type=action_type, at=T0 + 3 * DAY) == later


@pytest.mark.django_db
def test_ownership_assign_allows_adjacent_periods():
    action_type = ActionTypeFactory()
    first = _assign(action_type, DecisionRoleFactory(), T0, T0 + DAY)

    second = _assign(action_type, DecisionRoleFactory(), T0 + DAY, T0 + 2 * DAY)

    assert current_owner(action_type=action_type, at=T0 + DAY - timedelta(microseconds=1)) == first
    assert current_owner(action_type=action_type, at=T0 + DAY) == second


@pytest.mark.django_db
def test_current_owner_is_none_in_a_gap():
    action_type = ActionTypeFactory()
    OwnershipAssignmentFactory(action_type=action_type, effective_from=T0, effective_to=T0 + DAY)
    OwnershipAssignmentFactory(action_type=action_type, effective_from=T0 + 3 * DAY, effective_to=None)

    assert current_owner(action_type=action_type, at=T0 + 2 * DAY) is None


@pytest.mark.django_db
def test_current_owner_is_none_before_the_first_assignment():
    action_type = ActionTypeFactory()
    OwnershipAssignmentFactory(action_type=action_type, effective_from=T0)

    assert current_owner(action_type=action_type, at=T0 - timedelta(seconds=1)) is None


@pytest.mark.django_db
def test_ownership_assign_rejects_end_before_start():
    with pytest.raises(ValidationError) as excinfo:
        _assign(ActionTypeFactory(), DecisionRoleFactory(), T0, T0 - DAY)

    assert "effective_to" in excinfo.value.message_dict


@pytest.mark.django_db
def test_ownership_assign_rejects_deputy_equal_to_owner():
    role = DecisionRoleFactory()

    with pytest.raises(ValidationError) as excinfo:
        _assign(ActionTypeFactory(), role, T0, deputy_role=role)

    assert "deputy_role" in excinfo.value.message_dict


@pytest.mark.django_db
def test_ownership_save_creates_assignment_without_overlap():
    action_type = ActionTypeFactory()
    OwnershipAssignmentFactory(action_type=action_type, effective_from=T0, effective_to=T0 + DAY)
    assignment = OwnershipAssignment(
        action_type=action_type, owner_role=DecisionRoleFactory(), effective_from=T0 + DAY, effective_to=None
    )

    ownership_save(actor=None, assignment=assignment, reason="test")

    assert assignment.pk is not None


@pytest.mark.django_db
def test_ownership_save_rejects_overlap():
    action_type = ActionTypeFactory()
    OwnershipAssignmentFactory(action_type=action_type, effective_from=T0, effective_to=T0 + 10 * DAY)
    assignment = OwnershipAssignment(
        action_type=action_type, owner_role=DecisionRoleFactory(), effective_from=T0 + DAY, effective_to=T0 + 2 * DAY
    )

    with pytest.raises(ValidationError, match="already has an owner in this period"):
        ownership_save(actor=None, assignment=assignment, reason="test")

    assert assignment.pk is None


@pytest.mark.django_db
def test_ownership_save_does_not_hand_over_an_open_ended_assignment():
    action_type = ActionTypeFactory()
    previous = OwnershipAssignmentFactory(action_type=action_type, effective_from=T0)
    assignment = OwnershipAssignment(action_type=action_type, owner_role=DecisionRoleFactory(), effective_from=T0 + DAY)

    with pytest.raises(ValidationError, match="already has an owner in this period"):
        ownership_save(actor=None, assignment=assignment, reason="test")

    previous.refresh_from_db()
    assert previous.effective_to is None


@pytest.mark.django_db
def test_ownership_save_rejects_extending_an_assignment_into_the_next():
    action_type = ActionTypeFactory()
    first = OwnershipAssignmentFactory(action_type=action_type, effective_from=T0, effective_to=T0 + DAY)
    OwnershipAssignmentFactory(action_type=action_type, effective_from=T0 + 2 * DAY, effective_to=T0 + 3 * DAY)
    first.effective_to = T0 + 2 * DAY + timedelta(hours=1)

    with pytest.raises(ValidationError, match="already has an owner in this period"):
        ownership_save(actor=None, assignment=first, reason="test")


@pytest.mark.django_db
def test_ownership_save_may_change_an_assignment_without_conflicting_with_itself():
    assignment = OwnershipAssignmentFactory(effective_from=T0, effective_to=T0 + DAY)
    assignment.effective_to = T0 + 2 * DAY

    ownership_save(actor=None, assignment=assignment, reason="extend")

    assignment.refresh_from_db()
    assert assignment.effective_to == T0 + 2 * DAY


@pytest.mark.django_db
def test_full_clean_rejects_second_open_ended_assignment():
    action_type = ActionTypeFactory()
    OwnershipAssignmentFactory(action_type=action_type, effective_from=T0)
    second = OwnershipAssignment(action_type=action_type, owner_role=DecisionRoleFactory(), effective_from=T0 + DAY)

    with pytest.raises(ValidationError, match="already has an open-ended owner"):
        second.full_clean()


@pytest.mark.django_db
def test_database_refuses_second_open_ended_assignment():
    action_type = ActionTypeFactory()
    OwnershipAssignmentFactory(action_type=action_type, effective_from=T0)

    with pytest.raises(IntegrityError), transaction.atomic():
        OwnershipAssignmentFactory(action_type=action_type, effective_from=T0 + 100 * DAY)


@pytest.mark.django_db
def test_database_allows_open_ended_assignments_for_different_action_types():
    OwnershipAssignmentFactory(effective_from=T0)
    OwnershipAssignmentFactory(effective_from=T0)

    assert OwnershipAssignment.objects.filter(effective_to__isnull=True).count() == 2


@pytest.mark.django_db
def test_database_refuses_period_ending_before_it_starts():
    with pytest.raises(IntegrityError), transaction.atomic():
        OwnershipAssignmentFactory(effective_from=T0, effective_to=T0)


@pytest.mark.django_db
def test_database_refuses_deputy_equal_to_owner():
    role = DecisionRoleFactory()

    with pytest.raises(IntegrityError), transaction.atomic():
        OwnershipAssignmentFactory(owner_role=role, deputy_role=role)


@pytest.mark.postgres
@pytest.mark.django_db
def test_postgres_refuses_overlapping_bounded_periods_saved_past_the_service():
    action_type = ActionTypeFactory()
    OwnershipAssignmentFactory(action_type=action_type, effective_from=T0, effective_to=T0 + 10 * DAY)

    with pytest.raises(IntegrityError, match="ownership_no_overlap"), transaction.atomic():
        OwnershipAssignmentFactory(action_type=action_type, effective_from=T0 + 5 * DAY, effective_to=T0 + 6 * DAY)


@pytest.mark.postgres
@pytest.mark.django_db
def test_postgres_refuses_bounded_period_inside_an_open_ended_one_saved_past_the_service():
    action_type = ActionTypeFactory()
    OwnershipAssignmentFactory(action_type=action_type, effective_from=T0)

    with pytest.raises(IntegrityError, match="ownership_no_overlap"), transaction.atomic():
        OwnershipAssignmentFactory(action_type=action_type, effective_from=T0 + 5 * DAY, effective_to=T0 + 6 * DAY)


@pytest.mark.postgres
@pytest.mark.django_db
def test_postgres_allows_adjacent_periods_saved_past_the_service():
    action_type = ActionTypeFactory()
    OwnershipAssignmentFactory(action_type=action_type, effective_from=T0, effective_to=T0 + DAY)
    OwnershipAssignmentFactory(action_type=action_type, effective_from=T0 + DAY, effective_to=None)

    assert OwnershipAssignment.objects.filter(action_type=action_type).count() == 2


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_overlapping_assignments_leave_exactly_one_owner():
    action_type = ActionTypeFactory()
    roles = [DecisionRoleFactory() for _ in range(8)]
    actor = UserFactory()

    def assign(index):
        # Bounded and pairwise overlapping, so none of them is a hand-over of another.
        start = T0 + index * timedelta(hours=1)
        return ownership_assign(
            actor=actor,
            action_type=action_type,
            owner_role=roles[index],
            effective_from=start,
            effective_to=start + DAY,
            reason="race",
        )

    outcomes = run_concurrently(assign, threads=8)

    winners = [result for result, error in outcomes if error is None]
    errors = [error for _result, error in outcomes if error is not None]
    assert len(winners) == 1
    assert all(isinstance(error, ValidationError | IntegrityError) for error in errors), errors
    assert list(OwnershipAssignment.objects.filter(action_type=action_type)) == winners


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_ownership_saves_leave_exactly_one_owner():
    action_type = ActionTypeFactory()
    roles = [DecisionRoleFactory() for _ in range(8)]

    def save(index):
        start = T0 + index * timedelta(hours=1)
        assignment = OwnershipAssignment(
            action_type=action_type, owner_role=roles[index], effective_from=start, effective_to=start + DAY
        )
        return ownership_save(actor=None, assignment=assignment, reason="race")

    outcomes = run_concurrently(save, threads=8)

    winners = [result for result, error in outcomes if error is None]
    errors = [error for _result, error in outcomes if error is not None]
    assert len(winners) == 1
    assert all(isinstance(error, ValidationError | IntegrityError) for error in errors), errors
    assert list(OwnershipAssignment.objects.filter(action_type=action_type)) == winners
