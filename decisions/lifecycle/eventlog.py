"""Each decision's hash-chained log: build the next event, verify one decision's chain.

Each event's hash is SHA-256 over the canonical JSON of its content (decision id, sequence
number, kind, instant, actor, data) and the previous event's hash (``decisions.verifier``, the
same code the offline receipt verifier runs). The decision row keeps the count and the newest
hash. Every event is also a leaf of the one log over all decisions (``decisions.ledger``), whose
signed checkpoints prove completeness and order against someone with database access.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder

from decisions.models import DecisionEvent, DecisionRequest
from decisions.verifier import GENESIS, event_hash

__all__ = [
    "GENESIS",
    "Break",
    "content_matches",
    "event_hash",
    "next_event",
    "to_json_data",
    "verify_all",
    "verify_decision",
]


def to_json_data(data: dict[str, Any]) -> dict[str, Any]:
    """Normalise to plain JSON (UUIDs, decimals and datetimes as strings) so a reload hashes the same."""
    return _as_jsonb_returns_it(json.loads(json.dumps(data, cls=DjangoJSONEncoder)))


def _as_jsonb_returns_it(value: Any) -> Any:
    """PostgreSQL's jsonb gives a float like 1e+16 back as the integer 10000000000000000 and -0.0
    as 0.0; store those as it returns them, or the reloaded event would no longer match its hash."""
    if isinstance(value, float) and value.is_integer() and (value == 0 or abs(value) >= 1e16):
        return int(value) if value else 0.0
    if isinstance(value, dict):
        return {key: _as_jsonb_returns_it(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_as_jsonb_returns_it(item) for item in value]
    return value


def next_event(
    decision: DecisionRequest, *, kind: str, at: datetime, actor: Any = None, data: dict[str, Any] | None = None
) -> DecisionEvent:
    """The decision's next event, hash-chained onto its head, not saved yet. The decision's
    ``event_count`` and ``last_event_hash`` move here, in memory: the caller holds the decision's
    row lock (or is inserting it) and saves both (``lifecycle.writes`` does, in one transaction)."""
    payload = to_json_data(data or {})
    seq = decision.event_count + 1
    prev = decision.last_event_hash or GENESIS
    digest = event_hash(
        decision_public_id=str(decision.public_id),
        seq=seq,
        kind=kind,
        at=at,
        actor_id=actor.pk if actor is not None else None,
        data=payload,
        prev_hash=prev,
    )
    event = DecisionEvent(
        decision=decision, seq=seq, kind=kind, at=at, actor=actor, data=payload, prev_hash=prev, hash=digest
    )
    decision.event_count = seq
    decision.last_event_hash = digest
    return event


@dataclass(frozen=True)
class Break:
    decision_public_id: str
    seq: int | None
    problem: str

    def __str__(self) -> str:
        where = f"event #{self.seq}" if self.seq is not None else "the log's head"
        return f"decision {self.decision_public_id}, {where}: {self.problem}"


def content_matches(event: DecisionEvent, *, decision_public_id: str) -> bool:
    """True when ``event``'s stored content still hashes to its stored hash."""
    recomputed = event_hash(
        decision_public_id=decision_public_id,
        seq=event.seq,
        kind=event.kind,
        at=event.at,
        actor_id=event.actor_id,
        data=event.data,
        prev_hash=event.prev_hash,
    )
    return recomputed == event.hash


def verify_decision(decision: DecisionRequest, events: list[DecisionEvent]) -> Break | None:
    """The first break in one decision's chain, or None when it is intact."""
    prev = GENESIS
    expected_seq = 1
    pid = str(decision.public_id)
    for event in events:
        if event.seq != expected_seq:
            return Break(pid, expected_seq, f"missing (found #{event.seq} next): an event was deleted")
        if event.prev_hash != prev:
            return Break(pid, event.seq, "does not link to the previous event")
        if not content_matches(event, decision_public_id=pid):
            return Break(pid, event.seq, "content does not match its hash: the event was edited")
        prev = event.hash
        expected_seq += 1
    if decision.event_count != expected_seq - 1 or (decision.last_event_hash or GENESIS) != prev:
        return Break(pid, None, f"the decision records {decision.event_count} events, the log has {expected_seq - 1}")
    return None


def verify_all(batch_size: int = 500, *, decision_ids: Iterable[int] | None = None) -> Iterator[Break]:
    """Every break across all decisions (or those of ``decision_ids``), streamed in batches
    (constant memory)."""
    last_id = 0
    scope = (
        DecisionRequest.objects.all() if decision_ids is None else DecisionRequest.objects.filter(pk__in=decision_ids)
    )
    while True:
        decisions = list(scope.filter(id__gt=last_id).order_by("id")[:batch_size])
        if not decisions:
            return
        by_decision: dict[int, list[DecisionEvent]] = {d.id: [] for d in decisions}
        for event in DecisionEvent.objects.filter(decision_id__in=by_decision).order_by("decision_id", "seq"):
            by_decision[event.decision_id].append(event)
        for decision in decisions:
            found = verify_decision(decision, by_decision[decision.id])
            if found is not None:
                yield found
        last_id = decisions[-1].id
