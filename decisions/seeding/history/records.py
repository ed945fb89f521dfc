"""What one simulated decision is made of: its timeline of stages, the decision as a record of
its column values, and the rows written with it (events, sign-offs, escalations, outcome)."""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from datetime import datetime
from types import SimpleNamespace
from typing import Any, TypeAlias

from decisions.models import DecisionRequest
from governance.models import DecisionRole
from governance.selectors import Signer

# One event of the decision log: (seq, kind, at, actor_id, data, prev_hash, hash).
Event: TypeAlias = tuple[int, str, datetime, int | None, dict[str, Any], str, str]
# Each co-signer role with the people who may sign for it at submission.
Cosigners: TypeAlias = list[tuple[DecisionRole, list[Signer]]]


@dataclass
class Stage:
    """One step of a decision's timeline: who could sign, from when to when.

    A stage somebody could take has a deadline, the escalation task's lateness past it and the
    deadline token; a stage nobody could take has none of them and lasts no time."""

    step: int
    role: DecisionRole | None
    start: datetime
    signers: list[Signer]
    reason: str
    end: datetime  # when the decision moved on (escalation), or the chain's final outcome for the last
    escalation: str  # Escalation.Reason of that move
    deadline: datetime | None = None
    lateness_ms: int | None = None
    token: str = ""


_DECISION_DEFAULTS = {
    f.attname: f.get_default()
    for f in DecisionRequest._meta.concrete_fields
    if not f.primary_key and not (f.has_default() and callable(f.default))
}


def decision_record(**fields: Any) -> SimpleNamespace:
    """A decision as its column values (by attname) plus ``action_type`` and ``owner_role``:
    what the simulation reads and ``history.writer`` inserts. A model instance costs ten times
    more to build; the writer makes them only where bulk_create needs them."""
    return SimpleNamespace(**{**_DECISION_DEFAULTS, "proposed_chain": [], "owner_role": None, **fields})


@dataclass
class Rows:
    """One decision and everything written with it."""

    decision: SimpleNamespace
    events: list[Event] = field(default_factory=list)
    # Sign-offs, escalations and the outcome as their fields (model instances cost more to build).
    signoffs: list[SimpleNamespace] = field(default_factory=list)
    escalations: list[SimpleNamespace] = field(default_factory=list)
    outcome: SimpleNamespace | None = None


def step_at(stages: list[Stage], at: datetime) -> int:
    """The stage a decision is at, at ``at`` (a stage nobody could take lasts no time)."""
    return bisect.bisect_right([s.start for s in stages], at) - 1
