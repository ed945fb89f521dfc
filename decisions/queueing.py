"""Queueing Celery tasks after commit, by name: the services' only way to the task queue.

Services never import ``decisions.tasks`` (tasks import services, never the reverse); they name
the task here and the registered task is looked up when the message is sent. A rolled-back
transaction sends nothing; a broker that cannot be reached never fails the request that
changed the decision (the database holds the state, and the periodic sweep catches up).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.utils import timezone

if TYPE_CHECKING:
    from celery import Task

    from decisions.models import DecisionRequest
    from governance.models import DecisionRole

logger = logging.getLogger(__name__)

# The names beat and messages already in a broker use: they never change with the code's layout.
ESCALATE_WHEN_DUE = "decisions.tasks.escalate_when_due"
SWEEP_OVERDUE_DECISIONS = "decisions.tasks.sweep_overdue_decisions"
DELIVER_VERDICT_WEBHOOK = "decisions.tasks.deliver_verdict_webhook"
NOTIFY_ELIGIBLE = "decisions.tasks.notify_eligible"
FREEZE_DUE_REVIEWS = "decisions.tasks.freeze_due_reviews"
NOTIFY_REVIEW_LEADS = "decisions.tasks.notify_review_leads"
SEQUENCE_LEDGER = "decisions.tasks.sequence_ledger"
CHECKPOINT_LEDGER = "decisions.tasks.checkpoint_ledger"
PUBLISH_CHECKPOINT = "decisions.tasks.publish_checkpoint"
VERIFY_LEDGER = "decisions.tasks.verify_ledger"
PRUNE_EMBEDDED_BROKER = "decisions.tasks.prune_embedded_broker"


def task(name: str) -> Task:
    """The registered task called ``name`` (``decisions.apps`` imports the task module)."""
    return current_app.tasks[name]


@dataclass(frozen=True)
class Enqueue:
    """An on-commit callback that queues one task (inspectable in tests)."""

    task_name: str
    args: tuple[Any, ...]
    countdown: float | None = None
    eta: datetime | None = None

    @property
    def task(self) -> Task:
        return task(self.task_name)

    def __call__(self) -> None:
        try:
            options: dict[str, Any] = {"retry": False}
            if self.countdown is not None:
                options["countdown"] = self.countdown
            if self.eta is not None:
                options["eta"] = self.eta
            self.task.apply_async(args=self.args, **options)
        except Exception:  # kombu raises several kinds; any of them means "not queued"
            logger.warning("could not queue %s%r; the sweep will catch up", self.task_name, self.args, exc_info=True)


def enqueue_after_commit(
    task_name: str, *args: Any, countdown: float | None = None, eta: datetime | None = None
) -> None:
    """Queue the task called ``task_name`` once the current transaction commits (nothing if it
    rolls back)."""
    transaction.on_commit(Enqueue(task_name, args, countdown, eta))


def deadline_eta(deadline: datetime) -> datetime:
    """The deadline itself (exact, whenever the message is sent), or the end of one hop.

    The countdown is capped (ESCALATION_MAX_COUNTDOWN_SECONDS) well below the broker's
    visibility timeout: a long wait is re-queued in hops rather than parked in the broker.
    """
    return min(deadline, timezone.now() + timedelta(seconds=settings.ESCALATION_MAX_COUNTDOWN_SECONDS))


def schedule_deadline(decision: DecisionRequest) -> None:
    """After commit, queue the fast-path task for ``decision``'s current deadline (nothing when
    ESCALATION_DEADLINE_TASKS is off: the sweep alone escalates)."""
    if not settings.ESCALATION_DEADLINE_TASKS or decision.deadline is None:
        return
    enqueue_after_commit(
        ESCALATE_WHEN_DUE,
        decision.pk,
        decision.current_step,
        decision.deadline_token,
        eta=deadline_eta(decision.deadline),
    )


def announce_eligible(decision: DecisionRequest, step: int, role: DecisionRole, users: Iterable[Any]) -> None:
    """After commit, notify ``users`` (eligible in ``role`` at ``step``) on the channels that
    apply: email for those with an address (their opt-out is checked when sending), the role's
    chat webhook when it has one. No channel, no task."""
    users = list(users)
    user_ids = sorted({u.pk for u in users if u.email})
    if user_ids:
        enqueue_after_commit(NOTIFY_ELIGIBLE, "email", decision.pk, step, role.pk, user_ids)
    if role.chat_webhook_url:
        enqueue_after_commit(NOTIFY_ELIGIBLE, "chat", decision.pk, step, role.pk, sorted({u.pk for u in users}))


def announce_verdict(decision: DecisionRequest) -> None:
    """After commit, POST the verdict to the integration's webhook, when it has one."""
    if decision.integration.webhook_url:
        enqueue_after_commit(DELIVER_VERDICT_WEBHOOK, decision.pk)
