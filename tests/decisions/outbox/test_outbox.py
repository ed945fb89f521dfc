"""The outbox: every side effect is a row written with the change that causes it, published
after the commit; what a broker outage or a dead process left unpublished the relay publishes,
and an effect done once is done once however often its message arrives."""

import subprocess
import sys
import threading
from datetime import timedelta

import pytest
from celery._state import _task_stack
from django.core import mail
from django.db import connection, transaction
from django.utils import timezone

from decisions import queueing
from decisions.models import DecisionStatus, EventKind, OutboxMessage
from decisions.outbound import notifications
from decisions.outbox import relay, store
from decisions.tasks import notify_eligible
from portal.celery import app as celery_app
from tests.decisions.factories import make_integration, submit
from tests.decisions.scenarios import approve
from tests.e2e.harness import free_port, reset_producer_pools
from tests.governance.factories import ApprovalPolicyFactory, make_staffed_action_type
from tests.webhook_receiver import Receiver

pytestmark = pytest.mark.django_db


@pytest.fixture
def staffed_with_chat():
    """An action type whose owner role has one emailable signer and a chat webhook."""
    with Receiver() as chat:
        action_type, role, (signer,) = make_staffed_action_type()
        role.chat_webhook_url = chat.url
        role.save(update_fields=["chat_webhook_url"])
        ApprovalPolicyFactory(action_types=[action_type])
        yield action_type, signer, chat


@pytest.fixture
def broker_down(monkeypatch):
    """Tasks are published for real, to a port nothing listens on."""
    url = f"redis://127.0.0.1:{free_port()}/0"
    monkeypatch.setenv("CELERY_BROKER_URL", url)
    conf = celery_app.conf
    saved = (conf.task_always_eager, conf.broker_url)
    conf.task_always_eager, conf.broker_url = False, url
    reset_producer_pools()
    yield
    conf.task_always_eager, conf.broker_url = saved
    reset_producer_pools()


def _rows(*names):
    return list(OutboxMessage.objects.filter(task_name__in=names).order_by("pk"))


def _due_now(settings):
    settings.OUTBOX_RELAY_AFTER_SECONDS = 0


def test_a_submission_writes_its_side_effects_as_rows_published_after_the_commit(
    staffed_with_chat, django_capture_on_commit_callbacks
):
    action_type, signer, chat = staffed_with_chat

    with django_capture_on_commit_callbacks() as callbacks:
        decision = submit(action_type)
        rows = _rows(queueing.ESCALATE_WHEN_DUE, queueing.NOTIFY_ELIGIBLE)
        assert [(r.task_name, r.args[0]) for r in rows] == [
            (queueing.NOTIFY_ELIGIBLE, "email"),
            (queueing.NOTIFY_ELIGIBLE, "chat"),
            (queueing.ESCALATE_WHEN_DUE, decision.pk),
        ]
        assert all(r.published_at is None for r in rows)
        assert mail.outbox == []
    for callback in callbacks:
        callback()

    assert all(r.published_at is not None for r in _rows(queueing.ESCALATE_WHEN_DUE, queueing.NOTIFY_ELIGIBLE))
    assert [m.to for m in mail.outbox] == [[signer.email]]
    assert len(chat.received) == 1


def test_a_rolled_back_submission_leaves_no_row_and_sends_nothing(staffed_with_chat):
    action_type, _signer, chat = staffed_with_chat

    with pytest.raises(RuntimeError, match="roll back"):
        _submit_and_roll_back(action_type)

    assert not OutboxMessage.objects.exists()
    assert mail.outbox == []
    assert chat.received == []


def _submit_and_roll_back(action_type) -> None:
    with transaction.atomic():
        submit(action_type)
        raise RuntimeError("roll back")


@pytest.mark.postgres
def test_with_the_broker_down_the_rows_wait_and_the_relay_sends_every_notification_once(
    staffed_with_chat, broker_down, settings, django_capture_on_commit_callbacks
):
    action_type, signer, chat = staffed_with_chat
    with django_capture_on_commit_callbacks(execute=True):
        decision = submit(action_type)

    assert OutboxMessage.objects.filter(published_at__isnull=True).count() == 3
    assert store.backlog()[0] == 3
    assert mail.outbox == []

    celery_app.conf.task_always_eager = True  # the broker is back (its tasks run here)
    _due_now(settings)
    assert relay.relay() == 3
    assert relay.relay() == 0

    assert store.backlog() == (0, 0.0)
    assert [m.to for m in mail.outbox] == [[signer.email]]
    assert len(chat.received) == 1
    assert decision.events.filter(kind=EventKind.NOTIFIED).count() == 2


def test_the_relay_leaves_rows_the_dispatcher_may_still_publish(staffed_with_chat, broker_down, settings):
    action_type, *_ = staffed_with_chat
    submit(action_type)
    celery_app.conf.task_always_eager = True
    settings.OUTBOX_RELAY_AFTER_SECONDS = 60

    assert relay.relay() == 0
    assert relay.relay(now=timezone.now() + timedelta(seconds=61)) == 3


def test_a_second_delivery_of_a_notification_sends_nothing(staffed_with_chat, django_capture_on_commit_callbacks):
    action_type, _signer, _chat = staffed_with_chat
    with django_capture_on_commit_callbacks(execute=True):
        submit(action_type)
    (email,) = _rows(queueing.NOTIFY_ELIGIBLE)[:1]

    notify_eligible.apply(args=email.args, kwargs={"outbox_id": email.pk})

    assert len(mail.outbox) == 1
    email.refresh_from_db()
    assert email.done_at is not None


@pytest.mark.postgres
def test_two_deliveries_at_once_send_one_email(staffed_with_chat, broker_down, transactional_db):
    action_type, *_ = staffed_with_chat
    submit(action_type)
    email = OutboxMessage.objects.get(task_name=queueing.NOTIFY_ELIGIBLE, args__0="email")
    barrier = threading.Barrier(2)
    results = []

    def deliver() -> None:
        try:
            barrier.wait()
            results.append(notifications.notify_once(*email.args, outbox_id=email.pk))
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert results == [True, True]
    assert len(mail.outbox) == 1


def test_a_delivery_a_killed_worker_left_undone_is_published_again_a_bounded_number_of_times(
    staffed_with_chat, broker_down, settings
):
    action_type, *_ = staffed_with_chat
    submit(action_type)
    OutboxMessage.objects.update(published_at=timezone.now() - timedelta(hours=1), publications=1)
    settings.OUTBOX_MAX_PUBLICATIONS = 2
    settings.OUTBOX_REDELIVER_SECONDS = 60
    celery_app.conf.task_always_eager = True
    later = timezone.now() + timedelta(hours=2)

    assert relay.relay(now=later) == 2  # email and chat, to be done once; the deadline task is not
    assert relay.relay(now=later + timedelta(hours=1)) == 0  # done now
    OutboxMessage.objects.update(done_at=None)
    assert relay.relay(now=later + timedelta(hours=2)) == 0  # published twice already


def test_the_verdict_webhook_of_a_sign_off_is_a_row_done_once(django_capture_on_commit_callbacks):
    with Receiver() as receiver:
        action_type, _role, (signer,) = make_staffed_action_type()
        ApprovalPolicyFactory(action_types=[action_type])
        integration = make_integration(action_type)
        integration.webhook_url = receiver.url
        integration.save(update_fields=["webhook_url"])
        decision = submit(action_type, integration=integration)
        with django_capture_on_commit_callbacks(execute=True):
            approve(decision, signer)
        (row,) = _rows(queueing.DELIVER_VERDICT_WEBHOOK)
        relay.publish_and_mark([row])  # the relay's duplicate, say

    decision.refresh_from_db()
    assert decision.status == DecisionStatus.APPROVED
    assert len(receiver.received) == 1
    row.refresh_from_db()
    assert (row.publications, row.done_at is not None) == (2, True)


def test_backlog_counts_the_unpublished_rows_and_the_age_of_the_oldest(staffed_with_chat, broker_down):
    action_type, *_ = staffed_with_chat
    submit(action_type)
    OutboxMessage.objects.update(created_at=timezone.now() - timedelta(seconds=90))

    count, age = store.backlog()

    assert count == 3
    assert 90 <= age < 120


def test_old_published_rows_are_pruned_and_undone_ones_kept(staffed_with_chat, settings):
    action_type, *_ = staffed_with_chat
    submit(action_type)
    long_ago = timezone.now() - timedelta(days=settings.OUTBOX_RETENTION_DAYS + 1)
    OutboxMessage.objects.update(published_at=long_ago, done_at=long_ago)
    OutboxMessage.objects.filter(args__0="chat").update(done_at=None)

    assert relay.prune() == 2
    assert list(OutboxMessage.objects.values_list("args__0", flat=True)) == ["chat"]


@pytest.mark.postgres
def test_the_background_dispatcher_publishes_after_the_commit(staffed_with_chat, settings, transactional_db):
    action_type, signer, chat = staffed_with_chat
    settings.OUTBOX_DISPATCH = "thread"
    try:
        submit(action_type)
        relay.dispatcher.stop()  # drains what it was handed
    finally:
        relay.dispatcher.stop()

    assert OutboxMessage.objects.filter(published_at__isnull=True).count() == 0
    assert [m.to for m in mail.outbox] == [[signer.email]]
    assert len(chat.received) == 1


def _unpublished():
    return list(OutboxMessage.objects.filter(published_at__isnull=True).order_by("pk"))


def test_the_workers_half_of_a_hand_off_publishes_each_row_once_and_stamps_it(
    staffed_with_chat, django_capture_on_commit_callbacks
):
    action_type, signer, chat = staffed_with_chat
    with django_capture_on_commit_callbacks():  # the rows are written; their dispatch is dropped
        submit(action_type)
    ids = [row.pk for row in _unpublished()]

    assert relay.publish_handed_off(ids) == 3  # email, chat, deadline

    rows = OutboxMessage.objects.filter(pk__in=ids)
    assert all(row.published_at is not None and row.publications == 1 for row in rows)
    assert [m.to for m in mail.outbox] == [[signer.email]]
    assert len(chat.received) == 1


def test_a_second_delivery_of_a_hand_off_publishes_nothing_again(staffed_with_chat, django_capture_on_commit_callbacks):
    action_type, signer, chat = staffed_with_chat
    with django_capture_on_commit_callbacks():
        submit(action_type)
    ids = [row.pk for row in _unpublished()]
    relay.publish_handed_off(ids)

    assert relay.publish_handed_off(ids) == 0
    assert OutboxMessage.objects.filter(publications__gt=1).count() == 0
    assert len(mail.outbox) == 1


def test_a_hand_off_the_broker_refuses_leaves_the_rows_to_the_relay(
    staffed_with_chat, broker_down, django_capture_on_commit_callbacks
):
    action_type, *_ = staffed_with_chat
    with django_capture_on_commit_callbacks():
        submit(action_type)
    rows = _unpublished()

    assert relay.hand_off(rows) is False
    assert len(_unpublished()) == len(rows) == 3


def test_an_unknown_outbox_dispatch_mode_is_refused_at_start():
    result = subprocess.run(  # noqa: S603 - this interpreter, fixed arguments
        [sys.executable, "-c", "import django; django.setup()"],
        env={
            **__import__("os").environ,
            "DJANGO_SETTINGS_MODULE": "portal.settings.base",
            "OUTBOX_DISPATCH": "threads",
        },
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "OUTBOX_DISPATCH must be worker, thread or inline" in result.stderr


@pytest.fixture
def handed(monkeypatch, settings, broker_down):
    """What the dispatcher is given (rows, hand off or not), with OUTBOX_DISPATCH=worker."""
    settings.OUTBOX_DISPATCH = "worker"
    given: list[tuple[int, bool]] = []
    monkeypatch.setattr(relay.dispatcher, "submit", lambda rows, hand_off=False: given.append((len(rows), hand_off)))
    return given


def test_a_requests_side_effects_are_handed_to_a_worker(staffed_with_chat, handed, django_capture_on_commit_callbacks):
    action_type, *_ = staffed_with_chat
    with django_capture_on_commit_callbacks(execute=True):
        submit(action_type)

    assert handed == [(3, True)]


def test_a_tasks_side_effects_are_published_by_the_worker_running_it(
    staffed_with_chat, handed, django_capture_on_commit_callbacks
):
    action_type, *_ = staffed_with_chat
    _task_stack.push(notify_eligible)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            submit(action_type)
    finally:
        _task_stack.pop()

    assert handed == [(3, False)]
