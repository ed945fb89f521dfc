"""Overdue break-glass reviews escalate down the decision's frozen escalation chain, as the
escalation engine's sweep does for decisions: a periodic beat task claims the overdue rows a
batch at a time (``FOR UPDATE SKIP LOCKED``), moves each one step and writes it, in one short
transaction per batch, each row in a savepoint of its own (a row that fails is logged with its
id and skipped, the rest of the batch is kept). Each batch first writes the sweep's heartbeat
(``/readyz`` reports its age). Idempotent: a row is claimed only while its ``review_next_at``
has passed, and each move sets the next one (or clears it past the chain's end)."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from decisions.health.heartbeat import heartbeat_beat
from decisions.lifecycle.locks import try_lock_decision
from decisions.lifecycle.writes import DecisionWrites
from decisions.models import BreakGlass, EventKind, Heartbeat
from decisions.outbox import messages, store

logger = logging.getLogger(__name__)
SWEEP_BATCH = 100
MOVED_FIELDS = ["review_step", "review_next_at", "review_role_ids"]


def claim_overdue_reviews(batch_size: int) -> list[BreakGlass]:
    """Row-lock up to ``batch_size`` unreviewed uses whose review (or next escalation) is due,
    soonest first, skipping rows another transaction holds."""
    return list(
        BreakGlass.objects.select_for_update(skip_locked=True)
        .filter(reviewed_at__isnull=True, review_next_at__lte=timezone.now())
        .order_by("review_next_at", "pk")[:batch_size]
    )


def escalate_review(used: BreakGlass, plan: DecisionWrites) -> list[messages.Message]:
    """Move one overdue review a step down its decision's chain (in memory; the caller writes).
    Past the last step the governance leads are told and the escalation stops."""
    now = timezone.now()
    steps = (plan.decision.snapshot.get("chain") or {}).get("steps", [])
    step = used.review_step + 1
    if step <= len(steps):
        entry = steps[step - 1]
        used.review_role_ids = list(dict.fromkeys([*(used.review_role_ids or []), entry["role_id"]]))
        used.review_next_at = now + timedelta(seconds=entry["wait_seconds"])
        role = {"id": entry["role_id"], "name": entry["role"]}
    else:
        used.review_next_at = None
        role = None
    used.review_step = step
    plan.log(
        EventKind.BREAK_GLASS_ESCALATED,
        at=now,
        data={
            "break_glass": str(used.public_id),
            "review_step": step,
            "to_role": role,
            "to_leads": role is None,
            "review_due_at": used.review_due_at.isoformat(),
            "next_at": used.review_next_at.isoformat() if used.review_next_at else None,
        },
    )
    return messages.break_glass_notice(used.pk, messages.BREAK_GLASS_OVERDUE, step)


def _move(used: BreakGlass) -> bool:
    """Escalate one claimed row and write it (the caller's savepoint); False: its decision is
    held by another transaction (a review being recorded), left for the next run."""
    decision = try_lock_decision(used.decision_id)
    if decision is None:
        return False
    plan = DecisionWrites(decision)
    found = escalate_review(used, plan)
    plan.write(fields=["event_count", "last_event_hash", "updated_at"])
    used.save(update_fields=MOVED_FIELDS)
    store.record(found)
    return True


def sweep_batch(batch_size: int) -> int:
    """One batch; returns how many reviews it escalated. Each row runs in its own savepoint: one
    that fails is rolled back alone, logged with its break-glass id and left for the next run
    (it stays due), so it never takes the batch, nor every later run, down with it."""
    moved = 0
    with transaction.atomic():
        for used in claim_overdue_reviews(batch_size):
            try:
                with transaction.atomic():
                    moved += _move(used)
            except Exception:  # one bad row must not stop the sweep: logged, retried next run
                logger.exception("break-glass %s (id %s): escalating its review failed; skipped", used.public_id,
                                 used.pk)  # fmt: skip
    return moved


def sweep_overdue_reviews(*, batch_size: int = SWEEP_BATCH) -> int:
    """Escalate every overdue break-glass review, a batch at a time, each batch after the sweep's
    heartbeat. Returns how many moved."""
    total = 0
    while True:
        heartbeat_beat(name=Heartbeat.BREAK_GLASS_SWEEP)
        claimed = sweep_batch(batch_size)
        total += claimed
        if claimed < batch_size:
            return total
