"""The sweep: the safety net that escalates every overdue pending decision, a batch at a time
(lost tasks, restarts, broker outages), and what a deadline task does once it is due."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from decisions.escalation.services import decision_escalate
from decisions.health.heartbeat import heartbeat_beat
from decisions.lifecycle import stages
from decisions.lifecycle.locks import claim_overdue
from decisions.lifecycle.writes import DecisionWrites, queue_side_effects, write_rows
from decisions.models import DecisionRequest, Escalation
from governance.snapshot import pinned_snapshot

SWEEP_BATCH = 200

SWEPT_FIELDS = [
    "status",
    "current_step",
    "deadline",
    "deadline_token",
    "snapshot",
    "final_action",
    "decided_at",
    "event_count",
    "last_event_hash",
    "updated_at",
]


def sweep_overdue(*, batch_size: int = SWEEP_BATCH) -> int:
    """Escalate every pending decision whose deadline has passed, a batch at a time.

    Each batch is one short transaction: ``claim_overdue`` (``SELECT … FOR UPDATE SKIP
    LOCKED``) claims up to ``batch_size`` overdue rows (rows a deadline task, a signer or another
    sweep holds are skipped, never waited for), each decision is moved in memory exactly as
    ``decision_escalate`` would, and the batch is written with a handful of bulk statements.
    The (decision, step) unique escalation rows still refuse any second move. Each batch first
    writes the sweep's heartbeat (the banners and /readyz read it). Returns the moves made.
    """
    moved = 0
    while True:
        heartbeat_beat()
        claimed = sweep_batch(batch_size)
        moved += claimed
        if claimed < batch_size:
            return moved


def escalate_due(*, decision_id: int, step: int, token: str) -> None:
    """What a deadline task does once its deadline has passed: escalate every overdue decision
    it can claim, in one batch (when many deadlines fall together, the first tasks clear them
    and the rest find nothing left to do), then its own decision if the batch did not include
    it. Exactly once per step still holds: both are the compare-and-set moves above."""
    sweep_batch(SWEEP_BATCH)
    decision_escalate(decision_id=decision_id, from_step=step, reason=Escalation.Reason.TIMEOUT, token=token)


def sweep_batch(batch_size: int) -> int:
    """One batch of the sweep (see ``sweep_overdue``); returns how many decisions it moved."""
    with transaction.atomic():
        decisions = claim_overdue(batch_size)
        if not decisions:
            return 0
        escalations, plans = [], []
        with pinned_snapshot():
            for decision in decisions:
                now = timezone.now()
                assert decision.deadline is not None  # noqa: S101 - claimed because it has one
                escalations.append(
                    Escalation(
                        decision=decision,
                        from_step=decision.current_step,
                        reason=Escalation.Reason.TIMEOUT,
                        at=now,
                        lateness_ms=int((now - decision.deadline).total_seconds() * 1000),
                    )
                )
                plan = DecisionWrites(decision)
                stages.advance(plan, now=now, actor=None, reason=Escalation.Reason.TIMEOUT.label)
                decision.updated_at = now
                plans.append(plan)
        Escalation.objects.bulk_create(escalations)
        write_rows(plans)
        DecisionRequest.objects.bulk_update(decisions, SWEPT_FIELDS)
        queue_side_effects(plans)
    return len(decisions)
