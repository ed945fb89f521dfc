"""Corrections: the submitting integration changes a pending decision's payload."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from decisions.actors import Actor
from decisions.errors import DecisionClosed, InvalidInput
from decisions.lifecycle.eligibility import require_submitting_integration
from decisions.lifecycle.locks import lock_decision
from decisions.lifecycle.signoffs import void_live_signoffs
from decisions.lifecycle.writes import DecisionWrites
from decisions.models import DecisionRequest, EventKind, Integration

# Fields an integration may correct on a pending decision; routing attributes are frozen.
MUTABLE_FIELDS = ("title", "recommendation", "target", "evidence", "proposed_chain", "incident_ref")


@transaction.atomic
def decision_update_payload(
    *, decision: DecisionRequest, integration: Integration, actor: Actor, changes: dict[str, Any]
) -> DecisionRequest:
    """The integration corrects a pending decision. Approvals already given are void (they
    approved something else); the change is an event. Routing attributes cannot change.

    Locks the decision row. Side effects: the ``payload_changed`` event, voided sign-offs and
    their ``approvals_voided`` event; a pending override's action is dropped."""
    now = timezone.now()
    decision = lock_decision(decision.pk)
    require_submitting_integration(decision, integration)
    if decision.is_terminal:
        raise DecisionClosed(f"Only a pending decision can change; this one is {decision.status}.")
    frozen = sorted(set(changes) - set(MUTABLE_FIELDS))
    if frozen:
        raise InvalidInput(
            f"{', '.join(frozen)} decide routing and cannot change; cancel and submit a new decision.",
            field=frozen[0],
        )
    changed = {k: v for k, v in changes.items() if getattr(decision, k) != v}
    if not changed:
        return decision
    before = {k: getattr(decision, k) for k in changed}
    for key, value in changed.items():
        setattr(decision, key, value)
    decision.payload_version += 1
    plan = DecisionWrites(decision)
    plan.log(
        EventKind.PAYLOAD_CHANGED,
        at=now,
        actor=actor,
        data={
            "fields": sorted(changed),
            "before": before,
            "after": changed,
            "payload_version": decision.payload_version,
        },
    )
    voided = void_live_signoffs(decision, now=now, reason="the payload changed after this sign-off")
    if voided:
        plan.log(
            EventKind.APPROVALS_VOIDED,
            at=now,
            actor=actor,
            data={"signers": voided, "reason": "payload changed", "payload_version": decision.payload_version},
        )
    if decision.final_action and decision.final_action.get("overridden"):
        decision.final_action = None
    plan.write()
    return decision
