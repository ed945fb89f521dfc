"""How routing freezes what it found into a decision's snapshot: the people (with why they were
asked), the roles, the escalation chain, the action to execute. Pure functions: the snapshot is
plain JSON, stored with the decision, and later configuration changes never rewrite it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings

from decisions.models import DecisionRequest
from governance.identity.stepup import step_up_of
from governance.models import ApprovalPolicy, DecisionRole, EscalationChain, OwnershipAssignment
from governance.selectors import Signer


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


def signer_entry(signer: Signer) -> dict[str, Any]:
    """One eligible person as the snapshot freezes them (with why they were asked)."""
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


def role_entry(role: DecisionRole | None) -> dict[str, Any] | None:
    if role is None:
        return None
    return {"id": role.pk, "slug": role.slug, "name": role.name}


def chain_entry(chain: EscalationChain | None) -> dict[str, Any]:
    """The escalation chain as the snapshot freezes it (no chain: expire, no action)."""
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
            "role": role_entry(owner.owner_role) if owner else None,
            "deputy": role_entry(owner.deputy_role) if owner else None,
            "assignment": str(owner.public_id) if owner else None,
        },
        "required_approvals": req.required_approvals,
        "cosigner_roles": [role_entry(r) for r in req.cosigner_roles],
        "time_to_act_seconds": req.time_to_act_seconds,
        "step_up": step_up_of(req.policy),
        "chain": chain,
        # Frozen like the rest: a policy changed later never lets an older decision break glass.
        "break_glass": {
            "allowed": bool(req.policy and req.policy.allows_break_glass),
            "review_hours": req.policy.break_glass_review_hours if req.policy else None,
        },
        "stages": [],
        "cosigners": [],
    }


def recommended_action(decision: DecisionRequest) -> dict[str, Any]:
    """What the integration executes when the recommendation is approved as it stands."""
    return {
        "action_type": decision.action_type.slug,
        "target": decision.target,
        "recommendation": decision.recommendation,
        "chain": decision.proposed_chain,
    }
