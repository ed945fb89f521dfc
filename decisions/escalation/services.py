"""Escalation: one service moves a decision past a step, whoever calls it (deadline task,
sweep, a signer escalating by hand, a lead reassigning).

Exactly once per step: the decision row is locked, the move happens only if the decision is
still pending at the step the caller saw (compare-and-set on ``current_step``, and on the
deadline token for timed moves), and the unique (decision, from_step) escalation row refuses
a second move in the database itself.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from decisions.actors import Actor, Person
from decisions.errors import DecisionClosed, InvalidInput, NotAllowed
from decisions.lifecycle import stages
from decisions.lifecycle.eligibility import check_can_sign
from decisions.lifecycle.locks import lock_decision, try_lock_decision
from decisions.lifecycle.writes import DecisionWrites
from decisions.models import DecisionRequest, DecisionStatus, Escalation, EventKind
from governance.models import DecisionRole
from governance.selectors import certified_signers
from governance.snapshot import pinned_snapshot

REASSIGN = "decisions.reassign_decisionrequest"


def decision_escalate(
    *,
    decision_id: int,
    from_step: int,
    reason: str,
    actor: Actor = None,
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
            decision = try_lock_decision(decision_id) if skip_locked else lock_decision(decision_id)
            if decision is None:
                return False
            now = now or timezone.now()
            if not _due(decision, from_step=from_step, reason=reason, token=token, now=now):
                return False
            Escalation.objects.create(
                decision=decision,
                from_step=from_step,
                reason=reason,
                by=actor,
                note=note,
                at=now,
                lateness_ms=_lateness_ms(decision, now) if reason == Escalation.Reason.TIMEOUT else None,
            )
            plan = DecisionWrites(decision)
            stages.advance(plan, now=now, actor=actor, reason=Escalation.Reason(reason).label)
            plan.write()
            return True
    except IntegrityError:
        return False  # another caller escalated this step first; its move stands


def _due(decision: DecisionRequest, *, from_step: int, reason: str, token: str | None, now: datetime) -> bool:
    """Compare-and-set: still pending at the step the caller saw, with its token, and (timed
    moves) past the deadline."""
    if decision.status != DecisionStatus.PENDING or decision.current_step != from_step:
        return False
    if token is not None and token != decision.deadline_token:
        return False
    return not (reason == Escalation.Reason.TIMEOUT and decision.deadline is not None and decision.deadline > now)


def _lateness_ms(decision: DecisionRequest, now: datetime) -> int:
    assert decision.deadline is not None  # noqa: S101 - a pending decision always has one (a constraint)
    return int((now - decision.deadline).total_seconds() * 1000)


def decision_escalate_now(*, decision: DecisionRequest, actor: Person, reason: str) -> bool:
    """An eligible signer hands the decision to the next step at once, with a reason."""
    if not reason.strip():
        raise InvalidInput("Say why you escalate.", field="reason")
    check_can_sign(decision, actor, now=timezone.now())
    moved = decision_escalate(
        decision_id=decision.pk,
        from_step=decision.current_step,
        reason=Escalation.Reason.MANUAL,
        actor=actor,
        note=reason.strip(),
    )
    if not moved:
        raise DecisionClosed("The decision moved on while you were looking at it; reload it.")
    return moved


def decision_reassign(*, decision: DecisionRequest, actor: Any, role: DecisionRole, reason: str) -> DecisionRequest:
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
        plan = DecisionWrites(decision)
        with pinned_snapshot():
            signers = certified_signers(action_type=decision.action_type, role=role, at=now)
            if not signers:
                raise InvalidInput(f"Nobody is on call and certified as {role.name} now.", field="role")
            plan.log(
                EventKind.REASSIGNED,
                at=now,
                actor=actor,
                data={"to_role": {"id": role.pk, "name": role.name}, "reason": reason.strip()},
            )
            stages.open_stage(
                plan,
                step=decision.current_step,
                role=role,
                signers=signers,
                wait_seconds=decision.snapshot["time_to_act_seconds"],
                now=now,
                actor=actor,
                reason=f"reassigned: {reason.strip()}",
                permission=stages.certify_permission(),
            )
        plan.write()
    return decision
