"""Cancellation: the submitting integration withdraws a pending decision."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from decisions.actors import Actor
from decisions.errors import DecisionClosed
from decisions.lifecycle import stages
from decisions.lifecycle.eligibility import require_submitting_integration
from decisions.lifecycle.locks import lock_decision
from decisions.lifecycle.writes import DecisionWrites
from decisions.models import DecisionRequest, DecisionStatus, Integration


@transaction.atomic
def decision_cancel(
    *, decision: DecisionRequest, integration: Integration, actor: Actor, reason: str = ""
) -> DecisionRequest:
    """The submitting integration withdraws a pending decision. Locks the decision row. Side
    effects: the ``cancelled`` and ``revoked`` events, every grant revoked, the verdict webhook."""
    now = timezone.now()
    decision = lock_decision(decision.pk)
    require_submitting_integration(decision, integration)
    if decision.is_terminal:
        raise DecisionClosed(f"Only a pending decision can be cancelled; this one is {decision.status}.")
    plan = DecisionWrites(decision)
    stages.close(
        plan, status=DecisionStatus.CANCELLED, now=now, actor=actor, final_action=None, data={"reason": reason}
    )
    plan.write()
    return decision
