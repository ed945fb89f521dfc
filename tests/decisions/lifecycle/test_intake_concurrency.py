"""The pending cap under concurrency, on PostgreSQL with real threads: far from the cap, one
integration's submissions run side by side (none waits for another's transaction); near it they
count alone, and together they never pass it."""

import threading

import pytest
from django.db import connection, transaction

from decisions.errors import PendingCapReached
from decisions.lifecycle import locks
from decisions.models import DecisionRequest, DecisionStatus
from tests.decisions.factories import make_integration, submit
from tests.governance.factories import ApprovalPolicyFactory, make_staffed_action_type
from tests.helpers import run_concurrently

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _integration(max_pending):
    action_type, *_ = make_staffed_action_type()
    ApprovalPolicyFactory(action_types=[action_type])
    integration = make_integration(action_type)
    integration.max_pending = max_pending
    integration.save(update_fields=["max_pending"])
    return action_type, integration


def _hold_limits_open(integration, action_type, checked: threading.Event, release: threading.Event) -> None:
    """In a thread: check the limits as a submission does, then keep its transaction open."""
    try:
        with transaction.atomic():
            locks.intake_limits(integration, action_type)
            checked.set()
            release.wait(timeout=20)
    finally:
        connection.close()


def _submit_in_thread(action_type, integration, done: threading.Event) -> threading.Thread:
    def run() -> None:
        try:
            submit(action_type, integration=integration)
            done.set()
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_far_from_the_cap_a_submission_does_not_wait_for_another_of_the_same_key():
    action_type, integration = _integration(max_pending=1000)
    checked, release, done = threading.Event(), threading.Event(), threading.Event()
    holder = threading.Thread(target=_hold_limits_open, args=(integration, action_type, checked, release))
    holder.start()
    assert checked.wait(timeout=10)

    submitter = _submit_in_thread(action_type, integration, done)
    finished_while_held = done.wait(timeout=10)
    release.set()
    holder.join(timeout=10)
    submitter.join(timeout=10)

    assert finished_while_held, "the second submission waited for the first one's transaction"
    assert DecisionRequest.objects.filter(integration=integration).count() == 1


def test_near_the_cap_a_submission_waits_for_those_in_flight():
    action_type, integration = _integration(max_pending=locks.CAP_SLOTS)
    checked, release, done = threading.Event(), threading.Event(), threading.Event()
    holder = threading.Thread(target=_hold_limits_open, args=(integration, action_type, checked, release))
    holder.start()
    assert checked.wait(timeout=10)

    submitter = _submit_in_thread(action_type, integration, done)
    finished_while_held = done.wait(timeout=1.5)
    release.set()
    holder.join(timeout=10)
    submitter.join(timeout=10)

    assert not finished_while_held, "near the cap, a submission counted while another was in flight"
    assert done.is_set()


@pytest.mark.parametrize(("already_pending", "cap"), [(0, 40), (30, 40), (0, 12)])
def test_concurrent_submissions_of_one_key_never_pass_the_pending_cap(monkeypatch, already_pending, cap):
    monkeypatch.setattr(locks, "CAP_SLOTS", 8)  # far (fast), near and across the line, with 16 threads
    action_type, integration = _integration(max_pending=10**6)
    for _ in range(already_pending):
        submit(action_type, integration=integration)
    integration.max_pending = cap
    integration.save(update_fields=["max_pending"])
    threads = 16 if already_pending else cap  # 0 pending: exactly the cap's worth, all side by side

    outcomes = run_concurrently(lambda _i: submit(action_type, integration=integration), threads=threads)

    created = [d for d, exc in outcomes if exc is None]
    refused = [exc for _d, exc in outcomes if exc is not None]
    pending = DecisionRequest.objects.filter(integration=integration, status=DecisionStatus.PENDING).count()
    assert all(isinstance(exc, PendingCapReached) for exc in refused)
    assert pending == min(cap, already_pending + threads)
    assert len(created) == pending - already_pending


def test_more_submissions_than_room_at_once_fill_the_cap_exactly(monkeypatch):
    monkeypatch.setattr(locks, "CAP_SLOTS", 4)
    action_type, integration = _integration(max_pending=10)

    outcomes = run_concurrently(lambda _i: submit(action_type, integration=integration), threads=20)

    refused = [exc for _d, exc in outcomes if exc is not None]
    assert DecisionRequest.objects.filter(integration=integration).count() == 10
    assert len(refused) == 10
    assert all(isinstance(exc, PendingCapReached) for exc in refused)
