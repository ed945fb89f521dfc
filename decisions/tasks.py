"""Celery tasks: take ids, load rows, call a service. Every task is idempotent.

This module only registers tasks; services queue them by name through ``decisions.queueing``
and never import this module. The task names (``decisions.tasks.*``) are what beat and the
messages already in a broker carry: they stay as they are whatever the code's layout.
"""

from __future__ import annotations

import logging

from celery import Task, shared_task
from django.conf import settings
from django.db import OperationalError
from django.utils import timezone

from decisions import queueing
from decisions.breakglass import notices as break_glass_notices
from decisions.breakglass import sweep as break_glass_sweep
from decisions.escalation import sweep
from decisions.ledger import alerts, checkpoints, keys, sequencer
from decisions.ledger import verification as ledger_verification
from decisions.models import DecisionRequest, DecisionStatus
from decisions.outbound import notifications, webhooks
from decisions.outbox import relay
from decisions.review import cycle
from portal.celery import prune_embedded_broker as drop_delivered_messages

logger = logging.getLogger(__name__)


class DecisionTask(Task):
    """What every task here shares: acknowledged after it ran (a worker that dies mid-task
    leaves the message to be redelivered), JSON arguments, no result kept, short time limits."""

    acks_late = True
    reject_on_worker_lost = True
    ignore_result = True
    soft_time_limit = 30
    time_limit = 45


class WebhookNotAccepted(Exception):
    """The receiver did not answer 2xx; the task retries with backoff."""


class NotificationNotSent(Exception):
    """A channel failed; the task retries with backoff."""


@shared_task(bind=True, base=DecisionTask, max_retries=webhooks.MAX_ATTEMPTS - 1)
def deliver_verdict_webhook(self: Task, decision_id: int, outbox_id: int | None = None) -> None:
    """POST a terminal decision's verdict to its integration's webhook (Standard Webhooks).

    Retries 7 times with exponential backoff (2, 4, 8 … 128 s) while the receiver fails; each
    attempt is a decision event. A second delivery of this task after success is a no-op (and,
    with its outbox row, waits while another delivery of it is under way).
    """
    attempt = self.request.retries + 1
    result = webhooks.deliver_once(decision_id, attempt, outbox_id=outbox_id)
    if result is not None and not result.ok:
        raise self.retry(exc=WebhookNotAccepted(result.error or str(result.status)), countdown=2**attempt)


@shared_task(
    bind=True,
    base=DecisionTask,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
)
def escalate_when_due(self: Task, decision_id: int, step: int, token: str) -> None:
    """The fast path: escalate ``decision_id`` from ``step`` when its deadline has passed.

    A stale delivery (another step, another token, already decided) is a no-op; an early one
    re-queues itself for the rest of the wait. The periodic sweep does the same work for any
    deadline whose task was lost.
    """
    row = (
        DecisionRequest.objects.filter(pk=decision_id)
        .values_list("status", "current_step", "deadline_token", "deadline")
        .first()
    )
    if row is None:
        return
    status, current_step, current_token, deadline = row
    if status != DecisionStatus.PENDING or current_step != step or current_token != token or deadline is None:
        return
    if deadline > timezone.now():
        if self.request.is_eager:
            return  # run in-process (CELERY_TASK_ALWAYS_EAGER) it cannot wait; the sweep will do it
        self.apply_async(args=(decision_id, step, token), eta=queueing.deadline_eta(deadline))
        return
    sweep.escalate_due(decision_id=decision_id, step=step, token=token)


@shared_task(base=DecisionTask, reject_on_worker_lost=False, soft_time_limit=240, time_limit=300)
def sweep_overdue_decisions() -> int:
    """The safety net, run by celery beat every ESCALATION_SWEEP_SECONDS: escalate every
    overdue pending decision (lost tasks, restarts, broker outages)."""
    return sweep.sweep_overdue()


@shared_task(bind=True, base=DecisionTask, max_retries=3)
def notify_eligible(
    self: Task,
    channel: str,
    decision_id: int,
    step: int,
    role_id: int,
    user_ids: list[int],
    outbox_id: int | None = None,
) -> None:
    """Tell the people made eligible at ``step`` that a decision waits (email or chat webhook).

    Each attempt is a decision event; failures retry 3 times (10, 20, 40 s); a decision that
    moved on in the meantime is not announced again, nor one its outbox row says was sent.
    """
    final = self.request.retries >= (self.max_retries or 0)
    if not notifications.notify_once(channel, decision_id, step, role_id, user_ids, outbox_id=outbox_id, final=final):
        raise self.retry(exc=NotificationNotSent(channel), countdown=10 * 2**self.request.retries)


@shared_task(bind=True, base=DecisionTask, max_retries=3)
def notify_break_glass(self: Task, break_glass_id: int, kind: str, step: int, outbox_id: int | None = None) -> None:
    """Tell people about a break-glass: at once the skipped approvers and the leads (``used``), or
    when its review is overdue the role it escalated to (``overdue``). Each attempt is a decision
    event; failures retry 3 times (10, 20, 40 s); sent once per outbox row."""
    final = self.request.retries >= (self.max_retries or 0)
    if not break_glass_notices.notify_once(break_glass_id, kind, step, outbox_id=outbox_id, final=final):
        raise self.retry(exc=NotificationNotSent("email"), countdown=10 * 2**self.request.retries)


@shared_task(base=DecisionTask, reject_on_worker_lost=False, soft_time_limit=240, time_limit=300)
def sweep_break_glass_reviews() -> int:
    """Run by beat every BREAK_GLASS_SWEEP_SECONDS: escalate every overdue break-glass review one
    step down its decision's chain (a second run finds nothing due). Returns how many moved."""
    return break_glass_sweep.sweep_overdue_reviews()


@shared_task(base=DecisionTask, reject_on_worker_lost=False, soft_time_limit=240, time_limit=300)
def relay_outbox() -> int:
    """Run by beat every OUTBOX_RELAY_SECONDS: publish the outbox rows that were not published
    after their commit (broker down, process killed) and deliver again those a killed worker
    left undone. Returns how many were published."""
    return relay.relay()


@shared_task(base=DecisionTask)
def publish_outbox(ids: list[int]) -> int:
    """The rows a web process handed over after its commit (``OUTBOX_DISPATCH=worker``): publish
    each one's task and stamp it, unless it was published already. Returns how many."""
    return relay.publish_handed_off(ids)


@shared_task(base=DecisionTask, reject_on_worker_lost=False, soft_time_limit=240, time_limit=300)
def prune_outbox() -> int:
    """Run by beat every hour: delete outbox rows published (and done) more than
    OUTBOX_RETENTION_DAYS ago. Returns how many."""
    return relay.prune()


# The freeze verifies the log incrementally (decisions.ledger), so it stays fast; the limits are
# generous because a schedule re-enabled after a long outage catches up many periods at once.
@shared_task(base=DecisionTask, reject_on_worker_lost=False, soft_time_limit=3300, time_limit=3600)
def freeze_due_reviews() -> int:
    """Run by celery beat every REVIEW_FREEZE_CHECK_SECONDS: freeze a ReviewReport for every
    period an enabled schedule is owed (the last complete one, and any missed during an outage),
    and tell the governance leads.

    The schedules (cadence, weekday, time zone) live in the database, edited in the admin; beat
    only decides how often they are looked at. A second run, or two beats, freeze nothing more:
    one report per schedule and period (unique constraint). Returns how many were frozen.
    """
    return len(cycle.freeze_due_reports())


@shared_task(bind=True, base=DecisionTask, max_retries=6, soft_time_limit=60, time_limit=90)
def notify_review_leads(self: Task, report_id: int) -> None:
    """Email the governance leads that a frozen review waits for their sign-off, once. A mail
    server that fails is retried with backoff (1, 2, 4 … 32 min); after that the beat's review
    check queues it again (``review.cycle.announce_unnotified``)."""
    try:
        cycle.announce(report_id)
    except OSError as exc:  # smtplib.SMTPException included
        logger.warning("review report %s: the leads could not be emailed (%s); retrying", report_id, exc)
        raise self.retry(exc=exc, countdown=60 * 2**self.request.retries) from exc


@shared_task(base=DecisionTask, reject_on_worker_lost=False, soft_time_limit=240, time_limit=300)
def sequence_ledger() -> int:
    """Run by beat every LEDGER_SEQUENCE_SECONDS: move written events into the log's tree."""
    return sequencer.sequence_pending()


@shared_task(base=DecisionTask, reject_on_worker_lost=False, soft_time_limit=240, time_limit=300)
def checkpoint_ledger() -> str:
    """Run by beat every LEDGER_CHECKPOINT_SECONDS: sign and publish a checkpoint of the log if
    it grew, then verify it incrementally (the evidence pack shows when it was last proven)."""
    checkpoint = None
    try:
        checkpoint = checkpoints.checkpoint_now()
    except checkpoints.LedgerInconsistent:
        logger.exception("the decision log no longer extends its last signed checkpoint: NOT signed")
    except keys.SigningKeyMissing:
        logger.error("no ledger signing key is configured: the decision log is NOT being checkpointed")
    verification = ledger_verification.verify_ledger()
    if not verification.intact:
        alerts.log_broken(verification)
    return f"checkpoint {checkpoint.tree_size if checkpoint else '-'}, intact {verification.intact}"


@shared_task(base=DecisionTask, reject_on_worker_lost=False, soft_time_limit=3300, time_limit=3600)
def verify_ledger(full: bool = False) -> bool:
    """Verify the log (beat runs it in full once a day, LEDGER_FULL_VERIFY_SECONDS)."""
    verification = ledger_verification.verify_ledger(full=full)
    if not verification.intact:
        alerts.log_broken(verification)
    return verification.intact


@shared_task(bind=True, base=DecisionTask, max_retries=6)
def publish_checkpoint(self: Task, checkpoint_id: int) -> None:
    """Deliver a checkpoint to the configured witnesses beyond the file: the auditors' inbox and
    a witness URL (Standard Webhooks signed). Retries with backoff while a channel fails."""
    if not alerts.publish(checkpoint_id):
        raise self.retry(countdown=30 * 2**self.request.retries)


@shared_task(base=DecisionTask, reject_on_worker_lost=False)
def prune_embedded_broker() -> int:
    """Run by beat on the embedded broker only: drop the messages it has already delivered (the
    SQLAlchemy transport keeps them), so var/broker.sqlite3 stops growing."""
    return drop_delivered_messages(str(settings.CELERY_BROKER_URL))
