"""The one place a decision's status changes.

A decision is born ``pending`` (the model's default) and ends once, in one of the terminal
statuses; nothing leaves a terminal status. Each terminal status says whether the integration
may act (``final_action`` set) or must not (``final_action`` empty), and when it was decided.
Auto-approval is refused for an action type that changes production state or touches regulated
data, whoever asks (routing lets only system-owned types through at intake, and the chain's end
only harmless ones; this is the last line).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from decisions.errors import DecisionClosed, InvalidInput
from decisions.models import DecisionRequest, DecisionStatus

S = DecisionStatus

ALLOWED: dict[str, frozenset[str]] = {
    S.PENDING: frozenset({S.AUTO_APPROVED, S.APPROVED, S.OVERRIDDEN, S.REJECTED, S.EXPIRED, S.CANCELLED}),
    S.AUTO_APPROVED: frozenset(),
    S.APPROVED: frozenset(),
    S.OVERRIDDEN: frozenset(),
    S.REJECTED: frozenset(),
    S.EXPIRED: frozenset(),
    S.CANCELLED: frozenset(),
}

# What the integration executes: the (possibly overridden) action, or nothing at all.
EXECUTES = frozenset({S.AUTO_APPROVED, S.APPROVED, S.OVERRIDDEN})


class InvalidTransition(DecisionClosed):
    code = "invalid_transition"


def may_change(current: str, to: str) -> bool:
    return to in ALLOWED.get(current, frozenset())


def decide(decision: DecisionRequest, to: str, *, at: datetime, final_action: dict[str, Any] | None) -> None:
    """Move ``decision`` (in memory; the caller saves it) from its status to ``to``, the verdict
    ``final_action`` and the instant ``at``. Raises InvalidTransition for a move the table does
    not allow, and InvalidInput when the final action does not fit the verdict."""
    current = decision.status
    if not may_change(current, to):
        raise InvalidTransition(f"A {DecisionStatus(current).label.lower()} decision cannot become {to}.")
    if (to in EXECUTES) != (final_action is not None):
        raise InvalidInput(f"A {to} decision {'carries' if to in EXECUTES else 'carries no'} final action.")
    if to == S.AUTO_APPROVED and (
        decision.action_type.changes_production_state or decision.action_type.touches_regulated_data
    ):
        raise InvalidTransition(
            f"{decision.action_type.name} changes production or touches regulated data: a person signs it."
        )
    decision.status = to
    decision.decided_at = at
    decision.final_action = final_action
