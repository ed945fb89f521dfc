"""Routing: which policy a decision matches, who owns it and who may sign it now, frozen into
the decision's snapshot so that later configuration changes never rewrite history.

``requirements_for`` only reads (the cached governance snapshot); the snapshot's shape is
``decisions.lifecycle.snapshots``. ``route`` records what a new decision is to write into a
``DecisionWrites`` (events, grants, notifications, its deadline or its verdict); intake writes
it. The step moves after intake (open a stage, advance down the chain, close) are in
``decisions.lifecycle.stages``.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from decisions.lifecycle import stages, states
from decisions.lifecycle.snapshots import (
    Requirements,
    chain_entry,
    recommended_action,
    role_entry,
    signer_entry,
    snapshot_of,
)
from decisions.lifecycle.writes import DecisionWrites
from decisions.models import DecisionRequest, DecisionStatus, EventKind
from governance.models import OwnershipAssignment
from governance.selectors import certified_signers, current_owner, eligible_signers, match_policy
from governance.snapshot import pinned_snapshot


def requirements_for(decision: DecisionRequest) -> Requirements:
    match = match_policy(
        action_type=decision.action_type,
        severity=decision.severity,
        blast_radius=decision.blast_radius,
        ai_confidence=Decimal(decision.ai_confidence),
        regulated_data=decision.affects_regulated_data,
        customer_impact=decision.customer_impact,
    )
    if match is None:
        return Requirements.fail_safe()
    return Requirements.of(match.policy, match.reasons, list(match.policy.cosigner_roles.all()))


def route(plan: DecisionWrites, *, now: datetime, actor: Any) -> None:
    """Route the new decision of ``plan``: match the policy, resolve who may sign, freeze it all
    in the snapshot and record into ``plan`` the events, the grants, the notifications and the
    deadline (or the verdict, when it ends at once). Writes nothing itself: intake writes the
    plan. Every read sees one governance snapshot.

    A system-owned action type that the policy lets through is auto-approved; a stage with
    nobody eligible moves the decision down the chain at once (an ownership-gap event each time).
    """
    with pinned_snapshot():
        decision = plan.decision
        req = requirements_for(decision)
        owner = current_owner(action_type=decision.action_type, at=now)
        _freeze(decision, req, owner, now=now)
        if req.policy is None:
            plan.log(EventKind.NO_POLICY, at=now, actor=actor, data={"reason": req.reasons[0]})
        if decision.action_type.system_owned and req.policy is not None and req.policy.allow_auto_approval:
            _auto_approve(plan, req, now=now, actor=actor)
            return
        permission = stages.certify_permission()
        _route_cosigners(plan, req, now=now, actor=actor, permission=permission)
        _route_owner(plan, req, owner, now=now, actor=actor, permission=permission)


def _freeze(decision: DecisionRequest, req: Requirements, owner: OwnershipAssignment | None, *, now: datetime) -> None:
    decision.policy = req.policy
    decision.policy_version = req.policy.version if req.policy else None
    decision.owner_role = owner.owner_role if owner else None
    decision.required_approvals = req.required_approvals
    decision.snapshot = snapshot_of(req, owner, routed_at=now, chain=chain_entry(req.chain))


def _auto_approve(plan: DecisionWrites, req: Requirements, *, now: datetime, actor: Any) -> None:
    decision = plan.decision
    states.decide(decision, DecisionStatus.AUTO_APPROVED, at=now, final_action=recommended_action(decision))
    plan.log(
        EventKind.AUTO_APPROVED,
        at=now,
        actor=actor,
        data={
            "policy": decision.snapshot["policy"],
            "because": req.reasons,
            # What an auditor reads of the row, in the log too (decisions.ledger.state replays it).
            "status": decision.status,
            "final_action": decision.final_action,
            "owner_role": role_entry(decision.owner_role),
        },
    )
    plan.announce_verdict()


def _route_cosigners(plan: DecisionWrites, req: Requirements, *, now: datetime, actor: Any, permission: int) -> None:
    """Grant each co-signer role's on-call, certified people (a gap event for a role with none)."""
    decision = plan.decision
    for role in req.cosigner_roles:
        signers = certified_signers(action_type=decision.action_type, role=role, at=now)
        decision.snapshot["cosigners"].append(
            {"role": role_entry(role), "eligible": [signer_entry(s) for s in signers]}
        )
        if signers:
            plan.grant([s.user for s in signers], permission)
            plan.announce(0, role, [s.user for s in signers])
        else:
            plan.log(
                EventKind.OWNERSHIP_GAP,
                at=now,
                actor=actor,
                data={"role": role_entry(role), "slot": "co-signer", "reason": "nobody on call and certified"},
            )


def _route_owner(
    plan: DecisionWrites,
    req: Requirements,
    owner: OwnershipAssignment | None,
    *,
    now: datetime,
    actor: Any,
    permission: int,
) -> None:
    """Log the routing and open the owner's stage (step 0); no owner is a gap, and the chain goes on."""
    decision = plan.decision
    plan.log(
        EventKind.ROUTED,
        at=now,
        actor=actor,
        data={
            "policy": decision.snapshot["policy"],
            "because": req.reasons,
            "owner_role": role_entry(decision.owner_role),
            "required_approvals": req.required_approvals,
        },
    )
    owner_signers = eligible_signers(action_type=decision.action_type, at=now) if owner else []
    if owner is None:
        plan.log(
            EventKind.OWNERSHIP_GAP,
            at=now,
            actor=actor,
            data={"slot": "owner", "reason": f"{decision.action_type.name} has no current owner"},
        )
    role = owner_signers[0].role if owner_signers else (owner.owner_role if owner else None)
    stages.open_stage(
        plan,
        step=0,
        role=role,
        signers=owner_signers,
        wait_seconds=req.time_to_act_seconds,
        now=now,
        actor=actor,
        reason="routing",
        permission=permission,
    )
