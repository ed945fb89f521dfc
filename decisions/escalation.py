"""Escalation: one service moves a decision past a step, whoever calls it (deadline task,
sweep, a signer escalating by hand, a lead reassigning).

Exactly once per step: the decision row is locked, the move happens only if the decision is
still pending at the step the caller saw (compare-and-set on ``current_step``, and on the
deadline token for timed moves), and the unique (decision, from_step) escalation row refuses
a second move in the database itself.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from decisions import routing, tasks
from decisions.errors import DecisionClosed, InvalidInput, NotAllowed
from decisions.eventlog import append_event, buffered_writes, flush_pending_many
from decisions.models import DecisionRequest, DecisionStatus, Escalation, EventKind
from decisions.services import check_can_sign, lock_decision
from governance.models import DecisionRole
from governance.selectors import certified_signers
from governance.snapshot import pinned_snapshot

logger = logging.getLogger(__name__)

SWEEP_BATCH = 200


def decision_escalate(
    *,
    decision_id: int,
    from_step: int,
    reason: str,
    actor=None,
    note: str = "",
    token: str | None = None,
    now: datetime | None = None,
    skip_locked: bool = False,
) -> bool:
    """Move the decision from ``from_step`` to the next step of its frozen chain (or apply the
    chain's final outcome past the last one). True when this call moved it; False when it was
    not due, no longer pending, already past that step, or the token is stale (or, with
    ``skip_locked``, someone else holds the decision right now).

    Locks the decision row. Side effects: an Escalation row, events, grants for the newly
    eligible (earlier ones keep theirs), a new deadline and its task after commit; at the end
    of the chain the verdict, revoked grants and the webhook.
    """
    try:
        with transaction.atomic():
            decision = lock_decision(decision_id, skip_locked=skip_locked)
            if decision is None:
                return False
            now = now or timezone.now()
            if decision.status != DecisionStatus.PENDING or decision.current_step != from_step:
                return False
            if token is not None and token != decision.deadline_token:
                return False
            lateness = None
            if reason == Escalation.Reason.TIMEOUT:
                if decision.deadline > now:
                    return False
                lateness = int((now - decision.deadline).total_seconds() * 1000)
            Escalation.objects.create(
                decision=decision, from_step=from_step, reason=reason, by=actor, note=note, at=now, lateness_ms=lateness
            )
            routing.advance(decision, now=now, actor=actor, reason=Escalation.Reason(reason).label)
            decision.save()
            if decision.status == DecisionStatus.PENDING:
                tasks.schedule_deadline(decision)
            return True
    except IntegrityError:
        return False  # another caller escalated this step first; its move stands


def decision_escalate_now(*, decision: DecisionRequest, actor, reason: str) -> bool:
    """An eligible signer hands the decision to the next step at once, with a reason."""
    if not reason.strip():
        raise InvalidInput("Say why you escalate.", field="reason")
    check_can_sign(decision, actor, now=timezone.now())
    moved = decision_escalate(
        decision_id=decision.pk, from_step=decision.current_step, reason=Escalation.Reason.MANUAL, actor=actor,
        note=reason.strip(),
    )  # fmt: skip
    if not moved:
        raise DecisionClosed("The decision moved on while you were looking at it; reload it.")
    return moved


REASSIGN = "decisions.reassign_decisionrequest"


def decision_reassign(*, decision: DecisionRequest, actor, role: DecisionRole, reason: str) -> DecisionRequest:
    """A governance lead hands a pending decision to another role, with a reason.

    The role's on-call, certified people are granted (earlier ones keep their grants) and get
    the policy's time to act from now; the chain continues from the current step afterwards.
    Locks the decision row; logged as a ``reassigned`` event; notifies after commit.
    """
    if not actor.has_perm(REASSIGN):
        raise NotAllowed("Only a governance lead can reassign a decision.")
    if not reason.strip():
        raise InvalidInput("Say why you reassign.", field="reason")
    with transaction.atomic():
        decision = lock_decision(decision.pk)
        if decision.status != DecisionStatus.PENDING:
            raise DecisionClosed(f"Only a pending decision can be reassigned; this one is {decision.status}.")
        now = timezone.now()
        with pinned_snapshot():
            signers = certified_signers(action_type=decision.action_type, role=role, at=now)
            if not signers:
                raise InvalidInput(f"Nobody is on call and certified as {role.name} now.", field="role")
            append_event(
                decision,
                kind=EventKind.REASSIGNED,
                at=now,
                actor=actor,
                data={"to_role": {"id": role.pk, "name": role.name}, "reason": reason.strip()},
            )
            routing.open_stage(
                decision,
                step=decision.current_step,
                role=role,
                signers=signers,
                wait_seconds=decision.snapshot["time_to_act_seconds"],
                now=now,
                actor=actor,
                reason=f"reassigned: {reason.strip()}",
                permission=routing.certify_permission(),
            )
        decision.save()
        tasks.schedule_deadline(decision)
    return decision


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

    Each batch is one short transaction: ``SELECT … FOR UPDATE SKIP LOCKED`` claims up to
    ``batch_size`` overdue rows (rows a deadline task, a signer or another sweep holds are
    skipped, never waited for), each decision is moved in memory exactly as
    ``decision_escalate`` would, and the batch is written with a handful of bulk statements.
    The (decision, step) unique escalation rows still refuse any second move. Returns the
    moves made.
    """
    moved = 0
    while True:
        claimed = _sweep_batch(batch_size)
        moved += claimed
        if claimed < batch_size:
            return moved


def escalate_due(*, decision_id: int, step: int, token: str) -> None:
    """What a deadline task does once its deadline has passed: escalate every overdue decision
    it can claim, in one batch (when many deadlines fall together, the first tasks clear them
    and the rest find nothing left to do), then its own decision if the batch did not include
    it. Exactly once per step still holds: both are the compare-and-set moves above."""
    _sweep_batch(SWEEP_BATCH)
    decision_escalate(decision_id=decision_id, from_step=step, reason=Escalation.Reason.TIMEOUT, token=token)


def _sweep_batch(batch_size: int) -> int:
    with transaction.atomic():
        decisions = list(
            DecisionRequest.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("action_type", "integration", "owner_role")
            .filter(status=DecisionStatus.PENDING, deadline__lte=timezone.now())
            .order_by("deadline")[:batch_size]
        )
        if not decisions:
            return 0
        escalations = []
        with pinned_snapshot(), buffered_writes():
            for decision in decisions:
                now = timezone.now()
                escalations.append(
                    Escalation(
                        decision=decision,
                        from_step=decision.current_step,
                        reason=Escalation.Reason.TIMEOUT,
                        at=now,
                        lateness_ms=int((now - decision.deadline).total_seconds() * 1000),
                    )
                )
                routing.advance(decision, now=now, actor=None, reason=Escalation.Reason.TIMEOUT.label)
                decision.updated_at = now
        Escalation.objects.bulk_create(escalations)
        flush_pending_many(decisions)
        routing.flush_pending_grants_many(decisions)
        DecisionRequest.objects.bulk_update(decisions, SWEPT_FIELDS)
        for decision in decisions:
            if decision.status == DecisionStatus.PENDING:
                tasks.schedule_deadline(decision)
    return len(decisions)
