"""Sign-off: one person's verdict (approve, override, reject) under the decision's row lock."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from decisions.errors import AlreadySigned, InvalidInput, StepUpRequired
from decisions.lifecycle import stages
from decisions.lifecycle.eligibility import (
    SigningRight,
    check_can_sign,
    cosigner_role_ids,
    live_approvals,
    owner_slot_roles,
    quorum_met,
)
from decisions.lifecycle.locks import lock_decision
from decisions.lifecycle.signoffs import void_live_signoffs
from decisions.lifecycle.snapshots import recommended_action
from decisions.lifecycle.writes import DecisionWrites
from decisions.models import REASONS_BY_VERDICT, DecisionRequest, DecisionStatus, EventKind, SignOff, Verdict
from governance.identity.context import UNKNOWN, AuthContext
from governance.identity.stepup import step_up_refusal


def validate_verdict(*, verdict: str, reason_code: str, rationale: str, override_action: dict[str, Any] | None) -> None:
    """The verdict's own rules, before any lock: a known verdict, a reason code that fits it, a
    rationale, and a changed action exactly when it is an override."""
    if verdict not in Verdict.values:
        raise InvalidInput(f"Unknown verdict {verdict!r}: use approve, override or reject.", field="verdict")
    if reason_code not in REASONS_BY_VERDICT[verdict]:
        allowed = ", ".join(sorted(REASONS_BY_VERDICT[verdict]))
        raise InvalidInput(
            f"Reason code {reason_code!r} does not fit {verdict}; use one of: {allowed}.", field="reason_code"
        )
    if not rationale or not rationale.strip():
        raise InvalidInput("A rationale is required for every verdict.", field="rationale")
    if verdict == Verdict.OVERRIDE and not override_action:
        raise InvalidInput("An override must carry the changed action.", field="override_action")
    if verdict != Verdict.OVERRIDE and override_action:
        raise InvalidInput("Only an override carries a changed action.", field="override_action")


@transaction.atomic
def decision_sign_off(
    *,
    decision: DecisionRequest,
    actor: Any,
    verdict: str,
    reason_code: str,
    rationale: str,
    override_action: dict[str, Any] | None = None,
    auth: AuthContext | None = None,
    now: datetime | None = None,
) -> SignOff:
    """One person's verdict. Locks the decision row, so concurrent sign-offs are serialised:
    never two verdicts, never a lost approval.

    ``auth`` is how and when the signer authenticated (unknown if not given); it is recorded on
    the sign-off and its event, and must satisfy the step-up the policy asked for (``StepUpRequired``
    otherwise: a personal API token never does).

    - reject: a single eligible reject ends the decision (fail safe);
    - override: replaces the action to execute; approvals of the previous action are void;
    - approve / override count toward the quorum (distinct people, owner and co-signer roles).
    On a verdict every grant is revoked. Side effects: the sign-off, its ``signed`` event,
    voided approvals (override), and on a verdict the closing events and the verdict webhook.
    """
    now = now or timezone.now()
    validate_verdict(verdict=verdict, reason_code=reason_code, rationale=rationale, override_action=override_action)
    decision = lock_decision(decision.pk)
    right = check_can_sign(decision, actor, now=now)
    auth = auth or UNKNOWN
    refusal = step_up_refusal(decision.snapshot.get("step_up"), auth, now=now)
    if refusal is not None:
        raise StepUpRequired(refusal)
    if override_action and override_action.get("action_type", decision.action_type.slug) != decision.action_type.slug:
        raise InvalidInput(
            "An override changes how the action is carried out (its target or parameters), not which action it "
            "is: reject, and have a new decision of the other action type routed to its owner.",
            field="override_action",
        )
    if SignOff.objects.filter(decision=decision, signer=actor, voided_at__isnull=True).exists():
        raise AlreadySigned("You have already signed this decision; one person counts once.")
    plan = DecisionWrites(decision)
    signoff = _record(plan, actor, right, verdict, reason_code, rationale.strip(), override_action, auth, now=now)
    if verdict == Verdict.REJECT:
        stages.close(
            plan, status=DecisionStatus.REJECTED, now=now, actor=actor, final_action=None, data={"by": actor.pk}
        )
    else:
        if verdict == Verdict.OVERRIDE:
            _override(plan, signoff, override_action or {}, actor=actor, now=now)
        _close_if_quorum(plan, actor=actor, now=now)
    plan.write()
    return signoff


def _record(
    plan: DecisionWrites,
    actor: Any,
    right: SigningRight,
    verdict: str,
    reason_code: str,
    rationale: str,
    override_action: dict[str, Any] | None,
    auth: AuthContext,
    *,
    now: datetime,
) -> SignOff:
    decision = plan.decision
    signoff = SignOff.objects.create(
        decision=decision,
        signer=actor,
        signed_as_id=right.role_id,
        eligible_role_ids=right.eligible_role_ids,
        verdict=verdict,
        reason_code=reason_code,
        rationale=rationale,
        override_action=override_action,
        step=decision.current_step,
        payload_version=decision.payload_version,
        certification_id_at_signing=right.certification_id,
        auth_context=auth.as_data(),
    )
    plan.log(
        EventKind.SIGNED,
        at=now,
        actor=actor,
        data={
            "signoff": str(signoff.public_id),
            "verdict": verdict,
            "reason_code": reason_code,
            "rationale": signoff.rationale,
            "signed_as_role_id": right.role_id,
            "override_action": override_action,
            "step": decision.current_step,
            "auth": auth.as_data(),
        },
    )
    return signoff


def _override(
    plan: DecisionWrites, signoff: SignOff, override_action: dict[str, Any], *, actor: Any, now: datetime
) -> None:
    """The overridden action becomes what to execute; approvals of the previous action are void."""
    decision = plan.decision
    voided = void_live_signoffs(decision, now=now, reason="the action was overridden", except_pk=signoff.pk)
    decision.final_action = {**recommended_action(decision), **override_action, "overridden": True}
    if voided:
        plan.log(
            EventKind.APPROVALS_VOIDED,
            at=now,
            actor=actor,
            data={"signers": voided, "reason": "the action was overridden"},
        )


def _close_if_quorum(plan: DecisionWrites, *, actor: Any, now: datetime) -> None:
    decision = plan.decision
    approvals = live_approvals(decision)
    if not quorum_met(
        approvals=approvals,
        required=decision.required_approvals,
        owner_roles=owner_slot_roles(decision),
        cosigner_roles=cosigner_role_ids(decision),
    ):
        return
    stages.close_approved(plan, now=now, actor=actor, data={"approvals": len({u for u, _ in approvals})})
