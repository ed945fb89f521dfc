"""Overdue break-glass reviews escalate down the decision's frozen escalation chain, as the
escalation engine's sweep does for decisions: a periodic beat task claims the overdue rows a
batch at a time (``FOR UPDATE SKIP LOCKED``), moves each one step and writes it, in one short
transaction per batch. Idempotent: a row is claimed only while its ``review_next_at`` has
passed, and each move sets the next one (or clears it past the chain's end)."""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from decisions.lifecycle.locks import try_lock_decision
from decisions.lifecycle.writes import DecisionWrites
from decisions.models import BreakGlass, EventKind
from decisions.outbox import messages, store

SWEEP_BATCH = 100


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


def sweep_batch(batch_size: int) -> int:
    """One batch; returns how many reviews it escalated. A decision another transaction holds
    (a review being recorded) is left for the next run rather than waited for."""
    with transaction.atomic():
        claimed = claim_overdue_reviews(batch_size)
        moved, found = [], []
        for used in claimed:
            decision = try_lock_decision(used.decision_id)
            if decision is None:
                continue
            plan = DecisionWrites(decision)
            found += escalate_review(used, plan)
            plan.write(fields=["event_count", "last_event_hash", "updated_at"])
            moved.append(used)
        if moved:
            BreakGlass.objects.bulk_update(moved, ["review_step", "review_next_at", "review_role_ids"])
        store.record(found)
    return len(moved)


def sweep_overdue_reviews(*, batch_size: int = SWEEP_BATCH) -> int:
    """Escalate every overdue break-glass review, a batch at a time. Returns how many moved."""
    total = 0
    while True:
        claimed = sweep_batch(batch_size)
        total += claimed
        if claimed < batch_size:
            return total
