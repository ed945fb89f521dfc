"""The Celery task names that beat and messages already in a broker carry never change with the
code's layout, and a message queued by the earlier layout still runs."""

import pytest
from celery import current_app
from django.conf import settings

from decisions import queueing
from decisions.models import DecisionStatus
from tests.decisions.scenarios import pending

pytestmark = pytest.mark.django_db

NAMES_IN_BROKERS = {
    "decisions.tasks.deliver_verdict_webhook",
    "decisions.tasks.escalate_when_due",
    "decisions.tasks.sweep_overdue_decisions",
    "decisions.tasks.notify_eligible",
    "decisions.tasks.freeze_due_reviews",
    "decisions.tasks.notify_review_leads",
    "decisions.tasks.sequence_ledger",
    "decisions.tasks.checkpoint_ledger",
    "decisions.tasks.publish_checkpoint",
    "decisions.tasks.verify_ledger",
    "decisions.tasks.relay_outbox",
    "decisions.tasks.publish_outbox",
    "decisions.tasks.prune_embedded_broker",
    "decisions.tasks.prune_outbox",
    "decisions.tasks.notify_break_glass",
    "decisions.tasks.sweep_break_glass_reviews",
}


def test_every_task_name_a_broker_may_hold_is_registered():
    assert set(current_app.tasks) >= NAMES_IN_BROKERS


def test_the_queueing_names_are_the_registered_names():
    named = {v for k, v in vars(queueing).items() if k.isupper() and isinstance(v, str) and v.startswith("decisions.")}

    assert named == NAMES_IN_BROKERS


def test_beat_runs_tasks_by_their_stable_names():
    assert {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()} <= NAMES_IN_BROKERS


def test_a_deadline_message_in_the_earlier_layouts_shape_still_escalates():
    decision, _signers = pending()
    decision.deadline = decision.created_at  # already due
    decision.save(update_fields=["deadline"])

    # (decision id, step, deadline token): the positional arguments the earlier layout queued.
    current_app.tasks["decisions.tasks.escalate_when_due"].apply(
        args=[decision.pk, decision.current_step, decision.deadline_token]
    )

    decision.refresh_from_db()
    assert decision.status == DecisionStatus.EXPIRED
