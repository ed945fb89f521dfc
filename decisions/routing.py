"""Routing and step moves: who may sign a decision now, frozen into its snapshot.

Pure helpers (no writes) plus the functions the services call under the decision's row lock.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model

from decisions import eventlog, tasks
from decisions.eventlog import append_event
from decisions.models import CERTIFY, DecisionRequest, DecisionRequestUserObjectPermission, DecisionStatus, EventKind
from governance.models import ActionType, ApprovalPolicy, DecisionRole, EscalationChain, OwnershipAssignment
from governance.selectors import Signer, certified_signers, current_owner, eligible_signers, match_policy
from governance.snapshot import current_snapshot, pinned_snapshot

User = get_user_model()


def _signer_entry(signer: Signer) -> dict[str, Any]:
    return {
        "user_id": signer.user.pk,
        "username": signer.user.get_username(),
        "name": signer.user.get_full_name() or signer.user.get_username(),
        "role_id": signer.role.pk,
        "role": signer.role.name,
        "roster": signer.roster.name,
        "source": signer.source,
        "certification_id": signer.certification.pk,
        "via_deputy": signer.via_deputy,
        "why": signer.why(),
    }


def _role_entry(role: DecisionRole | None) -> dict[str, Any] | None:
    if role is None:
        return None
    return {"id": role.pk, "slug": role.slug, "name": role.name}


@dataclass(frozen=True)
class Requirements:
    """What the matched policy (or the fail-safe default) demands of a decision."""

    policy: Any
    reasons: list[str]
    required_approvals: int
    cosigner_roles: list[DecisionRole]
    time_to_act_seconds: int
    chain: EscalationChain | None

    @classmethod
    def fail_safe(cls) -> Requirements:
        """No policy matched: the owner signs, in the default time, without a chain."""
        return cls(
            policy=None,
            reasons=["no approval policy matched: the fail-safe default applies (the owner signs)"],
            required_approvals=1,
            cosigner_roles=[],
            time_to_act_seconds=settings.DEFAULT_TIME_TO_ACT_SECONDS,
            chain=None,
        )

    @classmethod
    def of(cls, policy: ApprovalPolicy, reasons: list[str], cosigner_roles: list[DecisionRole]) -> Requirements:
        return cls(
            policy=policy,
            reasons=reasons,
            required_approvals=policy.required_approvals,
            cosigner_roles=cosigner_roles,
            time_to_act_seconds=policy.time_to_act_seconds,
            chain=policy.escalation_chain,
        )


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


def snapshot_of(
    req: Requirements, owner: OwnershipAssignment | None, *, routed_at: datetime, chain: dict[str, Any]
) -> dict[str, Any]:
    """The frozen routing snapshot of a new decision, before its stages are resolved."""
    return {
        "routed_at": routed_at.isoformat(),
        "policy": (
            {
                "id": req.policy.pk,
                "public_id": str(req.policy.public_id),
                "name": req.policy.name,
                "priority": req.policy.priority,
                "version": req.policy.version,
            }
            if req.policy
            else None
        ),
        "matched_because": req.reasons,
        "owner": {
            "role": _role_entry(owner.owner_role) if owner else None,
            "deputy": _role_entry(owner.deputy_role) if owner else None,
            "assignment": str(owner.public_id) if owner else None,
        },
        "required_approvals": req.required_approvals,
        "cosigner_roles": [_role_entry(r) for r in req.cosigner_roles],
        "time_to_act_seconds": req.time_to_act_seconds,
        "chain": chain,
        "stages": [],
        "cosigners": [],
    }


def _chain_entry(chain: EscalationChain | None) -> dict[str, Any]:
    if chain is None:
        return {"id": None, "name": None, "final_outcome": EscalationChain.FinalOutcome.EXPIRE, "steps": []}
    steps = sorted(chain.steps.all(), key=lambda s: s.position)
    return {
        "id": chain.pk,
        "name": chain.name,
        "final_outcome": chain.final_outcome,
        "steps": [
            {"position": s.position, "role_id": s.role_id, "role": s.role.name, "wait_seconds": s.wait_seconds}
            for s in steps
        ],
    }


def grant(decision: DecisionRequest, users: list[Any], permission_id: int) -> None:
    """Give ``users`` the certify permission on ``decision`` (guardian's direct FK table).

    One bulk insert; a grant the person already holds is left as it is. For a decision not
    inserted yet (intake) the grants wait on it for ``flush_pending_grants``.
    """
    rows = [
        DecisionRequestUserObjectPermission(content_object=decision, permission_id=permission_id, user=u)
        for u in {u.pk: u for u in users}.values()
    ]
    if decision.pk is None or eventlog.writes_are_buffered():
        decision.__dict__.setdefault("_pending_grants", []).extend(rows)
    else:
        DecisionRequestUserObjectPermission.objects.bulk_create(rows, ignore_conflicts=True)


def _announce_eligible(decision: DecisionRequest, step: int, role: DecisionRole, users: list[Any]) -> None:
    """Notify the newly eligible after commit; for a decision not inserted yet, after its insert."""
    if decision.pk is None:
        decision.__dict__.setdefault("_announce_eligible", []).append((step, role, users))
    else:
        tasks.announce_eligible(decision, step, role, users)


def flush_pending_grants_many(decisions: list[DecisionRequest]) -> None:
    """Write the grants kept on saved decisions during ``eventlog.buffered_writes`` (one insert)."""
    rows = [row for d in decisions for row in d.__dict__.pop("_pending_grants", [])]
    if rows:
        DecisionRequestUserObjectPermission.objects.bulk_create(rows, ignore_conflicts=True)


def flush_pending_grants(decision: DecisionRequest) -> None:
    """Write what routing decided for a decision that has just been inserted: its grants, and
    (when it ended at once) the verdict webhook, queued after commit."""
    rows = decision.__dict__.pop("_pending_grants", [])
    if rows:
        DecisionRequestUserObjectPermission.objects.bulk_create(rows, ignore_conflicts=True)
    for step, role, users in decision.__dict__.pop("_announce_eligible", []):
        tasks.announce_eligible(decision, step, role, users)
    if decision.__dict__.pop("_announce_on_insert", False):
        _announce_verdict(decision)


def revoke_all(decision: DecisionRequest) -> int:
    pending = len(decision.__dict__.pop("_pending_grants", []))
    if decision.pk is None:
        return pending
    deleted, _ = DecisionRequestUserObjectPermission.objects.filter(content_object=decision).delete()
    return deleted + pending


def certify_permission() -> int:
    """The id of decisions.certify_decisionrequest (from the cached snapshot)."""
    return current_snapshot().permission_id("decisions", CERTIFY)


def route(decision: DecisionRequest, *, now: datetime, actor) -> None:
    """See ``_route``; every read sees one governance snapshot."""
    with pinned_snapshot():
        _route(decision, now=now, actor=actor)


def _route(decision: DecisionRequest, *, now: datetime, actor) -> None:
    """Match the policy, resolve who may sign, freeze it all in the snapshot, grant, set the deadline.

    Runs under the caller's transaction with the decision freshly inserted. A system-owned
    action type that the policy lets through is auto-approved; nobody eligible moves the
    decision down the chain at once (an ownership-gap event each time).
    """
    req = requirements_for(decision)
    action_type: ActionType = decision.action_type
    owner = current_owner(action_type=action_type, at=now)
    decision.policy = req.policy
    decision.policy_version = req.policy.version if req.policy else None
    decision.owner_role = owner.owner_role if owner else None
    decision.required_approvals = req.required_approvals
    decision.snapshot = snapshot_of(req, owner, routed_at=now, chain=_chain_entry(req.chain))
    if req.policy is None:
        append_event(decision, kind=EventKind.NO_POLICY, at=now, actor=actor, data={"reason": req.reasons[0]})

    if action_type.system_owned and req.policy is not None and req.policy.allow_auto_approval:
        decision.status = DecisionStatus.AUTO_APPROVED
        decision.decided_at = now
        decision.final_action = recommended_action(decision)
        append_event(
            decision,
            kind=EventKind.AUTO_APPROVED,
            at=now,
            actor=actor,
            data={"policy": decision.snapshot["policy"], "because": req.reasons},
        )
        return

    permission = certify_permission()
    for role in req.cosigner_roles:
        signers = certified_signers(action_type=action_type, role=role, at=now)
        decision.snapshot["cosigners"].append(
            {"role": _role_entry(role), "eligible": [_signer_entry(s) for s in signers]}
        )
        if signers:
            grant(decision, [s.user for s in signers], permission)
            _announce_eligible(decision, 0, role, [s.user for s in signers])
        else:
            append_event(
                decision,
                kind=EventKind.OWNERSHIP_GAP,
                at=now,
                actor=actor,
                data={"role": _role_entry(role), "slot": "co-signer", "reason": "nobody on call and certified"},
            )

    append_event(
        decision,
        kind=EventKind.ROUTED,
        at=now,
        actor=actor,
        data={
            "policy": decision.snapshot["policy"],
            "because": req.reasons,
            "owner_role": _role_entry(decision.owner_role),
            "required_approvals": req.required_approvals,
        },
    )
    owner_signers = eligible_signers(action_type=action_type, at=now) if owner else []
    if owner is None:
        append_event(
            decision,
            kind=EventKind.OWNERSHIP_GAP,
            at=now,
            actor=actor,
            data={"slot": "owner", "reason": f"{action_type.name} has no current owner"},
        )
    role = owner_signers[0].role if owner_signers else (owner.owner_role if owner else None)
    open_stage(
        decision,
        step=0,
        role=role,
        signers=owner_signers,
        wait_seconds=req.time_to_act_seconds,
        now=now,
        actor=actor,
        reason="routing",
        permission=permission,
    )


def open_stage(
    decision: DecisionRequest,
    *,
    step: int,
    role: DecisionRole | None,
    signers: list[Signer],
    wait_seconds: int,
    now: datetime,
    actor,
    reason: str,
    permission,
) -> None:
    """Record the stage, grant its people and set its deadline, or skip it when nobody qualifies."""
    decision.current_step = step
    decision.snapshot["stages"].append(
        {
            "step": step,
            "role": _role_entry(role),
            "reason": reason,
            "at": now.isoformat(),
            "eligible": [_signer_entry(s) for s in signers],
        }
    )
    if not signers:
        if role is not None:
            append_event(
                decision,
                kind=EventKind.OWNERSHIP_GAP,
                at=now,
                actor=actor,
                data={"step": step, "role": _role_entry(role), "reason": "nobody on call and certified"},
            )
        advance(decision, now=now, actor=actor, reason="nobody eligible", permission=permission)
        return
    grant(decision, [s.user for s in signers], permission)
    _announce_eligible(decision, step, role, [s.user for s in signers])
    decision.deadline = now + timedelta(seconds=wait_seconds)
    decision.deadline_token = secrets.token_hex(8)
    append_event(
        decision,
        kind=EventKind.GRANTED,
        at=now,
        actor=actor,
        data={
            "step": step,
            "role": _role_entry(role),
            "users": [{"id": s.user.pk, "username": s.user.get_username(), "why": s.why()} for s in signers],
            "deadline": decision.deadline.isoformat(),
        },
    )


def advance(decision: DecisionRequest, *, now: datetime, actor, reason: str, permission=None) -> None:
    """Move to the next step of the frozen chain; past the last step apply the final outcome."""
    with pinned_snapshot():
        _advance(decision, now=now, actor=actor, reason=reason, permission=permission)


def _advance(decision: DecisionRequest, *, now: datetime, actor, reason: str, permission=None) -> None:
    permission = permission or certify_permission()
    steps = decision.snapshot["chain"]["steps"]
    next_step = decision.current_step + 1
    if next_step > len(steps):
        apply_final_outcome(decision, now=now, actor=actor, reason=reason)
        return
    step = steps[next_step - 1]
    role = current_snapshot().roles[step["role_id"]]
    signers = certified_signers(action_type=decision.action_type, role=role, at=now)
    if decision.snapshot["stages"]:
        append_event(
            decision,
            kind=EventKind.ESCALATED,
            at=now,
            actor=actor,
            data={"from_step": decision.current_step, "to_step": next_step, "role": step["role"], "reason": reason},
        )
    open_stage(
        decision,
        step=next_step,
        role=role,
        signers=signers,
        wait_seconds=step["wait_seconds"],
        now=now,
        actor=actor,
        reason=reason,
        permission=permission,
    )


def recommended_action(decision: DecisionRequest) -> dict[str, Any]:
    return {
        "action_type": decision.action_type.slug,
        "target": decision.target,
        "recommendation": decision.recommendation,
        "chain": decision.proposed_chain,
    }


def apply_final_outcome(decision: DecisionRequest, *, now: datetime, actor, reason: str) -> None:
    """End of the chain: expire (the default, no action), reject, or, only for action types that
    change nothing in production and touch no regulated data, approve."""
    outcome = decision.snapshot["chain"]["final_outcome"]
    risky = decision.action_type.changes_production_state or decision.action_type.touches_regulated_data
    if outcome == EscalationChain.FinalOutcome.AUTO_APPROVE and not risky:
        status, final_action = DecisionStatus.AUTO_APPROVED, recommended_action(decision)
    elif outcome == EscalationChain.FinalOutcome.REJECT:
        status, final_action = DecisionStatus.REJECTED, None
    else:
        status, final_action = DecisionStatus.EXPIRED, None
    close(
        decision,
        status=status,
        now=now,
        actor=actor,
        final_action=final_action,
        data={"reason": reason, "final_outcome": outcome},
    )


def close(decision: DecisionRequest, *, status: str, now: datetime, actor, final_action, data: dict) -> None:
    """Make the decision terminal: verdict, revoke every grant, log it."""
    decision.status = status
    decision.decided_at = now
    decision.final_action = final_action
    kind = {DecisionStatus.EXPIRED: EventKind.EXPIRED, DecisionStatus.CANCELLED: EventKind.CANCELLED}.get(
        status, EventKind.DECIDED
    )
    append_event(
        decision, kind=kind, at=now, actor=actor, data={"status": status, "final_action": final_action, **data}
    )
    revoked = revoke_all(decision)
    append_event(decision, kind=EventKind.REVOKED, at=now, actor=actor, data={"grants_revoked": revoked})
    _announce_verdict(decision)


def _announce_verdict(decision: DecisionRequest) -> None:
    """Queue the verdict webhook after commit; for a decision not inserted yet, after its insert."""
    if decision.pk is None:
        decision.__dict__["_announce_on_insert"] = True
    elif decision.integration.webhook_url:
        tasks.enqueue_after_commit(tasks.deliver_verdict_webhook, decision.pk)
