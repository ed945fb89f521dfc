"""The Celery tasks by name, and the deadline countdown's cap.

Services never import ``decisions.tasks`` (tasks import services, never the reverse) and never
publish themselves: they write the side effect into the outbox (``decisions.outbox``), which
names the task here and publishes it after the commit. The registered task is looked up when
the message is sent.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from celery import current_app
from django.conf import settings
from django.utils import timezone

if TYPE_CHECKING:
    from celery import Task

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
RELAY_OUTBOX = "decisions.tasks.relay_outbox"
PUBLISH_OUTBOX = "decisions.tasks.publish_outbox"
PRUNE_EMBEDDED_BROKER = "decisions.tasks.prune_embedded_broker"
PRUNE_OUTBOX = "decisions.tasks.prune_outbox"
NOTIFY_BREAK_GLASS = "decisions.tasks.notify_break_glass"
SWEEP_BREAK_GLASS_REVIEWS = "decisions.tasks.sweep_break_glass_reviews"


def task(name: str) -> Task:
    """The registered task called ``name`` (``decisions.apps`` imports the task module)."""
    return current_app.tasks[name]


def deadline_eta(deadline: datetime) -> datetime:
    """The deadline itself (exact, whenever the message is sent), or the end of one hop.

    The countdown is capped (ESCALATION_MAX_COUNTDOWN_SECONDS) well below the broker's
    visibility timeout: a long wait is re-queued in hops rather than parked in the broker.
    """
    return min(deadline, timezone.now() + timedelta(seconds=settings.ESCALATION_MAX_COUNTDOWN_SECONDS))
