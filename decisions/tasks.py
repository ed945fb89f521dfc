"""Celery tasks: take ids, load rows, call a service. Every task is idempotent."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from celery import shared_task
from django.conf import settings
from django.db import OperationalError, transaction
from django.utils import timezone

from decisions import webhooks
from decisions.models import DecisionRequest, DecisionStatus

logger = logging.getLogger(__name__)


class WebhookNotAccepted(Exception):
    """The receiver did not answer 2xx; the task retries with backoff."""


@shared_task(
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=webhooks.MAX_ATTEMPTS - 1,
    ignore_result=True,
    soft_time_limit=30,
    time_limit=45,
)
def deliver_verdict_webhook(self, decision_id: int) -> None:
    """POST a terminal decision's verdict to its integration's webhook (Standard Webhooks).

    Retries 7 times with exponential backoff (2, 4, 8 … 128 s) while the receiver fails; each
    attempt is a decision event. A second delivery of this task after success is a no-op.
    """
    attempt = self.request.retries + 1
    result = webhooks.deliver(decision_id, attempt)
    if result is not None and not result.ok:
        raise self.retry(exc=WebhookNotAccepted(result.error or str(result.status)), countdown=2**attempt)


@dataclass(frozen=True)
class Enqueue:
    """An on-commit callback that queues one task (inspectable in tests)."""

    task: object
    args: tuple
    countdown: float | None = None
    eta: datetime | None = None

    def __call__(self) -> None:
        try:
            self.task.apply_async(args=self.args, countdown=self.countdown, eta=self.eta, retry=False)
        except Exception:  # kombu raises several kinds; any of them means "not queued"
            logger.warning("could not queue %s%r; the sweep will catch up", self.task.name, self.args, exc_info=True)


def enqueue_after_commit(task, *args, countdown: float | None = None, eta: datetime | None = None) -> None:
    """Queue ``task`` once the current transaction commits (nothing if it rolls back).

    A broker that cannot be reached never fails the request that changed the decision: the
    database holds the state, and the periodic sweep picks up what was not queued.
    """
    transaction.on_commit(Enqueue(task, args, countdown, eta))


def schedule_deadline(decision) -> None:
    """After commit, queue the fast-path task for ``decision``'s current deadline.

    The countdown is capped (ESCALATION_MAX_COUNTDOWN_SECONDS) well below the broker's
    visibility timeout: a long wait is re-queued in hops rather than parked in the broker.
    """
    if not settings.ESCALATION_DEADLINE_TASKS:
        return  # sweep-only operation
    enqueue_after_commit(
        escalate_when_due, decision.pk, decision.current_step, decision.deadline_token, eta=_eta(decision.deadline)
    )


def _eta(deadline: datetime) -> datetime:
    """The deadline itself (exact, whenever the message is sent), or the end of one hop."""
    return min(deadline, timezone.now() + timedelta(seconds=settings.ESCALATION_MAX_COUNTDOWN_SECONDS))


@shared_task(
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
    soft_time_limit=30,
    time_limit=45,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
)
def escalate_when_due(self, decision_id: int, step: int, token: str) -> None:
    """The fast path: escalate ``decision_id`` from ``step`` when its deadline has passed.

    A stale delivery (another step, another token, already decided) is a no-op; an early one
    re-queues itself for the rest of the wait. The periodic sweep does the same work for any
    deadline whose task was lost.
    """
    from decisions import escalation

    row = (
        DecisionRequest.objects.filter(pk=decision_id)
        .values_list("status", "current_step", "deadline_token", "deadline")
        .first()
    )
    if row is None:
        return
    status, current_step, current_token, deadline = row
    if status != DecisionStatus.PENDING or current_step != step or current_token != token:
        return
    remaining = (deadline - timezone.now()).total_seconds()
    if remaining > 0:
        if self.request.is_eager:
            return  # run in-process (CELERY_TASK_ALWAYS_EAGER) it cannot wait; the sweep will do it
        self.apply_async(args=(decision_id, step, token), eta=_eta(deadline))
        return
    escalation.escalate_due(decision_id=decision_id, step=step, token=token)


@shared_task(acks_late=True, ignore_result=True, soft_time_limit=240, time_limit=300)
def sweep_overdue_decisions() -> int:
    """The safety net, run by celery beat every ESCALATION_SWEEP_SECONDS: escalate every
    overdue pending decision (lost tasks, restarts, broker outages)."""
    from decisions import escalation

    return escalation.sweep_overdue()


class NotificationNotSent(Exception):
    """A channel failed; the task retries with backoff."""


@shared_task(
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
    max_retries=3,
    soft_time_limit=30,
    time_limit=45,
)
def notify_eligible(self, channel: str, decision_id: int, step: int, role_id: int, user_ids: list[int]) -> None:
    """Tell the people made eligible at ``step`` that a decision waits (email or chat webhook).

    Each attempt is a decision event; failures retry 3 times (10, 20, 40 s); a decision that
    moved on in the meantime is not announced again.
    """
    from decisions import notifications

    if not notifications.notify(channel, decision_id, step, role_id, user_ids):
        raise self.retry(exc=NotificationNotSent(channel), countdown=10 * 2**self.request.retries)


def announce_eligible(decision, step: int, role, users: list) -> None:
    """After commit, notify ``users`` (eligible in ``role`` at ``step``) on the channels that
    apply: email for those with an address (their opt-out is checked when sending), the role's
    chat webhook when it has one. No channel, no task."""
    user_ids = sorted({u.pk for u in users if u.email})
    if user_ids:
        enqueue_after_commit(notify_eligible, "email", decision.pk, step, role.pk, user_ids)
    if role.chat_webhook_url:
        enqueue_after_commit(notify_eligible, "chat", decision.pk, step, role.pk, sorted({u.pk for u in users}))


# Verifying the whole decision log takes ~19 s per 300,000 events on PostgreSQL: the limits leave
# room for tens of millions of events (see README, "Periodic review").
@shared_task(acks_late=True, ignore_result=True, soft_time_limit=3300, time_limit=3600)
def freeze_due_reviews() -> int:
    """Run by celery beat every REVIEW_FREEZE_CHECK_SECONDS: freeze a ReviewReport for every
    period an enabled schedule is owed (the last complete one, and any missed during an outage),
    and tell the governance leads.

    The schedules (cadence, weekday, time zone) live in the database, edited in the admin; beat
    only decides how often they are looked at. A second run, or two beats, freeze nothing more:
    one report per schedule and period (unique constraint). Returns how many were frozen.
    """
    from decisions import review_cycle

    return len(review_cycle.freeze_due_reports())


@shared_task(
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
    max_retries=6,
    soft_time_limit=60,
    time_limit=90,
)
def notify_review_leads(self, report_id: int) -> None:
    """Email the governance leads that a frozen review waits for their sign-off, once. A mail
    server that fails is retried with backoff (1, 2, 4 … 32 min); after that the beat's review
    check queues it again (``review_cycle.announce_unnotified``)."""
    from decisions import review_cycle

    try:
        review_cycle.announce(report_id)
    except OSError as exc:  # smtplib.SMTPException included
        logger.warning("review report %s: the leads could not be emailed (%s); retrying", report_id, exc)
        raise self.retry(exc=exc, countdown=60 * 2**self.request.retries) from exc
