"""Outcomes: later feedback on a decision (was the recommendation right, was it reverted)."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from decisions.actors import Person
from decisions.errors import DecisionClosed, NotAllowed, OutcomeAlreadyReported
from decisions.lifecycle.eligibility import is_integration_account
from decisions.lifecycle.locks import lock_decision
from decisions.lifecycle.writes import DecisionWrites
from decisions.models import DecisionRequest, DecisionStatus, EventKind, Outcome, SignOff
from governance import rbac


def may_report_outcome(decision: DecisionRequest, actor: Person) -> bool:
    """The submitting integration, or an analyst: someone who signed the decision or was asked
    to, or any member of the Analyst group. Read-only roles never write."""
    if actor.pk == decision.integration.service_account_id:
        return True
    if is_integration_account(actor):
        return False
    involved = SignOff.objects.filter(decision=decision, signer=actor).exists() or any(
        e["user_id"] == actor.pk for e in decision.eligible_entries
    )
    return involved or actor.groups.filter(name=rbac.ANALYST).exists()


@transaction.atomic
def decision_report_outcome(
    *, decision: DecisionRequest, actor: Person, kind: str, reverted: bool = False, notes: str = ""
) -> Outcome:
    """Later feedback (true/false positive, benign; reverted). Once per decision, once it has
    a verdict (see ``may_report_outcome`` for who). Locks the decision row. Side effects: the
    Outcome row and the ``outcome_reported`` event."""
    now = timezone.now()
    decision = lock_decision(decision.pk)
    if not may_report_outcome(decision, actor):
        raise NotAllowed("Only the submitting integration or an analyst reports outcomes.")
    if decision.status == DecisionStatus.PENDING:
        raise DecisionClosed("Report an outcome once the decision has a verdict.")
    if Outcome.objects.filter(decision=decision).exists():
        raise OutcomeAlreadyReported("An outcome was already reported for this decision.")
    outcome = Outcome.objects.create(decision=decision, kind=kind, reverted=reverted, notes=notes, reported_by=actor)
    plan = DecisionWrites(decision)
    plan.log(EventKind.OUTCOME_REPORTED, at=now, actor=actor, data={"kind": kind, "reverted": reverted, "notes": notes})
    plan.write()
    return outcome
