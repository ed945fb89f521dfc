"""What the API answers, typed: a decision and a sign-off (the raw JSON stays in ``raw``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PENDING = "pending"
# A verdict an agent may execute (``final_action``); every other closed status means: do not act.
GO_STATUSES = frozenset({"approved", "overridden", "auto_approved"})
AS_PROPOSED = frozenset({"approved", "auto_approved"})
STOP_STATUSES = frozenset({"rejected", "expired", "cancelled"})


@dataclass(frozen=True)
class Decision:
    id: str
    status: str
    action_type: str
    final_action: dict[str, Any] | None
    owner_role: dict[str, str] | None
    eligible_signers: int
    required_approvals: int
    approvals_received: int
    deadline: str | None
    decided_at: str | None
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_api(cls, body: dict[str, Any]) -> Decision:
        return cls(
            id=str(body["id"]),
            status=str(body["status"]),
            action_type=str(body.get("action_type", "")),
            final_action=body.get("final_action"),
            owner_role=body.get("owner_role"),
            eligible_signers=int(body.get("eligible_signers") or 0),
            required_approvals=int(body.get("required_approvals") or 0),
            approvals_received=int(body.get("approvals_received") or 0),
            deadline=body.get("deadline"),
            decided_at=body.get("decided_at"),
            raw=body,
        )

    @property
    def is_pending(self) -> bool:
        """Still waiting for people: do not act."""
        return self.status == PENDING

    @property
    def may_execute(self) -> bool:
        """True only for an approved (or overridden, or auto-approved) decision: then execute
        ``final_action``, which may differ from what was recommended (an override)."""
        return self.status in GO_STATUSES

    @property
    def approved_as_proposed(self) -> bool:
        """Approved (or auto-approved) without a change: ``final_action`` is what was recommended."""
        return self.status in AS_PROPOSED

    def agent_state(self) -> dict[str, Any]:
        """What an agent is told of the decision: ``final_action`` only when it may execute it."""
        return {
            "id": self.id,
            "status": self.status,
            "may_execute": self.may_execute,
            "final_action": self.final_action if self.may_execute else None,
        }


@dataclass(frozen=True)
class SignOff:
    id: str
    signer: str
    verdict: str
    reason_code: str
    rationale: str
    override_action: dict[str, Any] | None
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_api(cls, body: dict[str, Any]) -> SignOff:
        return cls(
            id=str(body["id"]),
            signer=str(body["signer"]),
            verdict=str(body["verdict"]),
            reason_code=str(body["reason_code"]),
            rationale=str(body["rationale"]),
            override_action=body.get("override_action"),
            raw=body,
        )
