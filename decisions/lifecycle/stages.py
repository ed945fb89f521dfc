"""Stage moves of a decision: open a stage (grant its people, set its deadline), advance down
the frozen escalation chain, apply the chain's final outcome, close with a verdict.

Each records into a ``DecisionWrites`` (the caller holds the decision's row lock, or is
inserting it, and writes the plan in its transaction); status changes go through
``decisions.lifecycle.states``.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from decisions.lifecycle import states
from decisions.lifecycle.eligibility import cosigner_role_ids, owner_slot_roles, quorum_met
from decisions.lifecycle.snapshots import recommended_action, role_entry, signer_entry
from decisions.lifecycle.writes import DecisionWrites
from decisions.models import CERTIFY, DecisionRequest, DecisionStatus, EventKind
from governance.models import DecisionRole, EscalationChain
from governance.selectors import Signer, certified_signers
from governance.snapshot import current_snapshot, pinned_snapshot


def certify_permission() -> int:
    """The id of decisions.certify_decisionrequest (from the cached snapshot)."""
    return current_snapshot().permission_id("decisions", CERTIFY)


def open_stage(
    plan: DecisionWrites,
    *,
    step: int,
    role: DecisionRole | None,
    signers: list[Signer],
    wait_seconds: int,
    now: datetime,
    actor: Any,
    reason: str,
    permission: int,
) -> None:
    """Record the stage, grant its people and set its deadline, or skip it when nobody qualifies."""
    decision = plan.decision
    decision.current_step = step
    decision.snapshot["stages"].append(
        {
            "step": step,
            "role": role_entry(role),
            "reason": reason,
            "at": now.isoformat(),
            "eligible": [signer_entry(s) for s in signers],
        }
    )
    if not signers:
        if role is not None:
            plan.log(
                EventKind.OWNERSHIP_GAP,
                at=now,
                actor=actor,
                data={"step": step, "role": role_entry(role), "reason": "nobody on call and certified"},
            )
        advance(plan, now=now, actor=actor, reason="nobody eligible", permission=permission)
        return
    assert role is not None  # noqa: S101 - signers always hold a role
    plan.grant([s.user for s in signers], permission)
    plan.announce(step, role, [s.user for s in signers])
    eligible = quorum_fillable(decision)
    if eligible is not None:
        # Waiting cannot help: even if everyone asked so far signed, the quorum's slots stay empty.
        plan.log(
            EventKind.OWNERSHIP_GAP,
            at=now,
            actor=actor,
            data={
                "step": step,
                "role": role_entry(role),
                "reason": "quorum cannot be met",
                "eligible_people": eligible,
                "required_approvals": decision.required_approvals,
            },
        )
        advance(plan, now=now, actor=actor, reason="quorum cannot be met", permission=permission)
        return
    decision.deadline = now + timedelta(seconds=wait_seconds)
    decision.deadline_token = secrets.token_hex(8)
    plan.set_deadline()
    plan.log(
        EventKind.GRANTED,
        at=now,
        actor=actor,
        data={
            "step": step,
            "role": role_entry(role),
            "users": [{"id": s.user.pk, "username": s.user.get_username(), "why": s.why()} for s in signers],
            "deadline": decision.deadline.isoformat(),
        },
    )


def quorum_fillable(decision: DecisionRequest) -> int | None:
    """None when the people made eligible so far (every stage and co-signer) could fill the
    quorum's slots if they all approved; otherwise how many distinct people that is."""
    entries = decision.eligible_entries
    people = [(e["user_id"], e["role_id"]) for e in entries]
    if quorum_met(
        approvals=people,
        required=decision.required_approvals,
        owner_roles=owner_slot_roles(decision),
        cosigner_roles=cosigner_role_ids(decision),
    ):
        return None
    return len({user for user, _role in people})


def advance(plan: DecisionWrites, *, now: datetime, actor: Any, reason: str, permission: int | None = None) -> None:
    """Move to the next step of the frozen chain; past the last step apply the final outcome.
    Every read sees one governance snapshot."""
    with pinned_snapshot():
        decision = plan.decision
        permission = permission or certify_permission()
        steps = decision.snapshot["chain"]["steps"]
        next_step = decision.current_step + 1
        if next_step > len(steps):
            apply_final_outcome(plan, now=now, actor=actor, reason=reason)
            return
        step = steps[next_step - 1]
        role = current_snapshot().roles[step["role_id"]]
        signers = certified_signers(action_type=decision.action_type, role=role, at=now)
        if decision.snapshot["stages"]:
            plan.log(
                EventKind.ESCALATED,
                at=now,
                actor=actor,
                data={"from_step": decision.current_step, "to_step": next_step, "role": step["role"], "reason": reason},
            )
        open_stage(
            plan,
            step=next_step,
            role=role,
            signers=signers,
            wait_seconds=step["wait_seconds"],
            now=now,
            actor=actor,
            reason=reason,
            permission=permission,
        )


def apply_final_outcome(plan: DecisionWrites, *, now: datetime, actor: Any, reason: str) -> None:
    """End of the chain: expire (the default, no action), reject, or, only for action types that
    change nothing in production and touch no regulated data, approve."""
    decision = plan.decision
    outcome = decision.snapshot["chain"]["final_outcome"]
    risky = decision.action_type.changes_production_state or decision.action_type.touches_regulated_data
    if outcome == EscalationChain.FinalOutcome.AUTO_APPROVE and not risky:
        status, final_action = DecisionStatus.AUTO_APPROVED, recommended_action(decision)
    elif outcome == EscalationChain.FinalOutcome.REJECT:
        status, final_action = DecisionStatus.REJECTED, None
    else:
        status, final_action = DecisionStatus.EXPIRED, None
    close(
        plan,
        status=status,
        now=now,
        actor=actor,
        final_action=final_action,
        data={"reason": reason, "final_outcome": outcome},
    )


def close_approved(plan: DecisionWrites, *, now: datetime, actor: Any, data: dict[str, Any]) -> None:
    """Close the decision as approved: overridden, with the override as its final action, when an
    override stands; else approved, with the recommended action."""
    decision = plan.decision
    overridden = decision.final_action is not None and decision.final_action.get("overridden")
    close(
        plan,
        status=DecisionStatus.OVERRIDDEN if overridden else DecisionStatus.APPROVED,
        now=now,
        actor=actor,
        final_action=decision.final_action if overridden else recommended_action(decision),
        data=data,
    )


CLOSING_EVENT: dict[str, str] = {
    DecisionStatus.EXPIRED: EventKind.EXPIRED,
    DecisionStatus.CANCELLED: EventKind.CANCELLED,
}


def close(
    plan: DecisionWrites,
    *,
    status: str,
    now: datetime,
    actor: Any,
    final_action: dict[str, Any] | None,
    data: dict[str, Any],
) -> None:
    """Make the decision terminal: the verdict, every grant revoked, both logged, the webhook."""
    decision = plan.decision
    states.decide(decision, status, at=now, final_action=final_action)
    plan.log(
        CLOSING_EVENT.get(status, EventKind.DECIDED),
        at=now,
        actor=actor,
        data={"status": status, "final_action": final_action, **data},
    )
    revoked = plan.revoke_all()
    plan.log(EventKind.REVOKED, at=now, actor=actor, data={"grants_revoked": revoked})
    plan.announce_verdict()
