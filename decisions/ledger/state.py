"""What an auditor reads, checked against the log: a decision's status, final action, owner
role and decision time, its sign-offs (verdict, reason code, rationale, voided or not) and its
outcome are replayed from its events and compared with the rows.

``replay`` derives the state from one decision's events; ``compare`` names every row that
disagrees. ``sql_mismatches`` runs the same comparison for every decision at once in a few
PostgreSQL queries; elsewhere it replays in Python.

The incremental verification replays only what may have changed: on PostgreSQL every row
written since a transaction (its ``xmin`` is newer: no SQL can fake it, a superuser's edit with
the triggers off included), and, should any row have disappeared (the counts of decisions,
sign-offs and outcomes no longer match their events'), every row at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import connection

from decisions.models import DecisionEvent, DecisionRequest, DecisionStatus, EventKind, Outcome, SignOff

CLOSING = {EventKind.DECIDED, EventKind.EXPIRED, EventKind.CANCELLED, EventKind.AUTO_APPROVED}
UNKNOWN: Any = object()  # not recorded by the log (events written before it recorded the field)


@dataclass
class LoggedSignOff:
    signer_id: int | None
    verdict: str
    reason_code: str
    rationale: str
    voided: bool = False


@dataclass
class LoggedState:
    """A decision as its events tell it."""

    status: str = DecisionStatus.PENDING
    final_action: Any = None
    owner_role_id: Any = UNKNOWN
    decided_at: datetime | None = None
    signoffs: dict[str, LoggedSignOff] = field(default_factory=dict)
    outcome: dict[str, Any] | None = None


def _close(state: LoggedState, event: DecisionEvent) -> None:
    data = event.data or {}
    state.status = data.get("status", DecisionStatus.AUTO_APPROVED if event.kind == EventKind.AUTO_APPROVED else "")
    state.final_action = (
        data.get("final_action", UNKNOWN) if event.kind == EventKind.AUTO_APPROVED else data.get("final_action")
    )
    if event.kind == EventKind.AUTO_APPROVED and "owner_role" in data:
        state.owner_role_id = (data["owner_role"] or {}).get("id")
    state.decided_at = event.at


def replay(events: Iterable[DecisionEvent]) -> LoggedState:
    """The state one decision's events (in order) lead to."""
    state = LoggedState()
    for event in events:
        data = event.data or {}
        if event.kind == EventKind.ROUTED:
            state.owner_role_id = (data.get("owner_role") or {}).get("id")
        elif event.kind in CLOSING:
            _close(state, event)
        elif event.kind == EventKind.SIGNED:
            state.signoffs[str(data.get("signoff"))] = LoggedSignOff(
                signer_id=event.actor_id,
                verdict=data.get("verdict", ""),
                reason_code=data.get("reason_code", ""),
                rationale=data.get("rationale", ""),
            )
        elif event.kind == EventKind.APPROVALS_VOIDED:
            voided = set(data.get("signers", []))
            for signoff in state.signoffs.values():
                if signoff.signer_id in voided and not signoff.voided:
                    signoff.voided = True
        elif event.kind == EventKind.OUTCOME_REPORTED:
            state.outcome = {k: data.get(k) for k in ("kind", "reverted", "notes")}
    return state


def _label(status: str) -> str:
    return status or "no status"


def compare(
    decision: DecisionRequest, signoffs: list[SignOff], outcome: Outcome | None, logged: LoggedState
) -> list[str]:
    """Every way the rows of ``decision`` disagree with ``logged`` (an empty list: none)."""
    where = f"decision {decision.public_id}"
    found = []
    if decision.status != logged.status:
        found.append(f"{where}: row says {_label(decision.status)}, log says {_label(logged.status)}")
    if logged.final_action is not UNKNOWN and decision.final_action != logged.final_action:
        found.append(f"{where}: its final action differs from the one the log records")
    if logged.owner_role_id is not UNKNOWN and decision.owner_role_id != logged.owner_role_id:
        found.append(f"{where}: row says owner role {decision.owner_role_id}, log says {logged.owner_role_id}")
    if logged.decided_at is not None and decision.decided_at != logged.decided_at:
        found.append(f"{where}: row says decided at {decision.decided_at}, log says {logged.decided_at}")
    rows = {str(s.public_id): s for s in signoffs}
    for public_id, row in rows.items():
        entry = logged.signoffs.get(public_id)
        if entry is None:
            found.append(f"sign-off {public_id} of {where}: not in the log")
            continue
        for name in ("verdict", "reason_code", "rationale"):
            if getattr(row, name) != getattr(entry, name):
                found.append(f"sign-off {public_id} of {where}: row says {name} {getattr(row, name)!r}, log says "
                             f"{getattr(entry, name)!r}")  # fmt: skip
        if (row.voided_at is not None) != entry.voided:
            found.append(f"sign-off {public_id} of {where}: row says {'voided' if row.voided_at else 'live'}, "
                         f"log says {'voided' if entry.voided else 'live'}")  # fmt: skip
    for public_id in sorted(set(logged.signoffs) - set(rows)):
        found.append(f"sign-off {public_id} of {where}: in the log, not in the database")
    row_outcome = {"kind": outcome.kind, "reverted": outcome.reverted, "notes": outcome.notes} if outcome else None
    if row_outcome != logged.outcome:
        found.append(f"{where}: its outcome row {row_outcome} differs from the log's {logged.outcome}")
    return found


def check_decisions(decision_ids: Iterable[int], *, batch: int = 500) -> Iterator[str]:
    """Replay and compare the given decisions (by pk), a batch at a time."""
    ids = sorted(set(decision_ids))
    for start in range(0, len(ids), batch):
        chunk = ids[start : start + batch]
        decisions = {d.pk: d for d in DecisionRequest.objects.filter(pk__in=chunk)}
        events: dict[int, list[DecisionEvent]] = {pk: [] for pk in chunk}
        for event in DecisionEvent.objects.filter(decision_id__in=chunk).order_by("decision_id", "seq"):
            events[event.decision_id].append(event)
        signoffs: dict[int, list[SignOff]] = {pk: [] for pk in chunk}
        for signoff in SignOff.objects.filter(decision_id__in=chunk):
            signoffs[signoff.decision_id].append(signoff)
        outcomes = {o.decision_id: o for o in Outcome.objects.filter(decision_id__in=chunk)}
        for pk in chunk:
            decision = decisions.get(pk)
            if decision is None:
                continue  # named by the tree checks (its events' leaves remain)
            yield from compare(decision, signoffs[pk], outcomes.get(pk), replay(events[pk]))


_DECISIONS_SQL = """
WITH closing AS (
    SELECT DISTINCT ON (decision_id) decision_id, kind, data, at
    FROM decisions_decisionevent
    WHERE kind IN ('decided', 'expired', 'cancelled', 'auto_approved')
    ORDER BY decision_id, seq
)
SELECT d.public_id::text, d.status, c.kind, c.data ->> 'status'
FROM decisions_decisionrequest d
LEFT JOIN closing c ON c.decision_id = d.id
WHERE (c.kind IS NULL AND d.status <> 'pending')
   OR (c.kind IS NOT NULL AND d.status IS DISTINCT FROM COALESCE(c.data ->> 'status', 'auto_approved'))
   OR (c.kind IS NOT NULL AND d.decided_at IS DISTINCT FROM c.at)
   OR (c.kind IS NOT NULL AND jsonb_exists(c.data, 'final_action')
       AND COALESCE(d.final_action, 'null'::jsonb) IS DISTINCT FROM c.data -> 'final_action')
"""
_SIGNOFFS_SQL = """
SELECT s.public_id::text, d.public_id::text, (e.id IS NULL)
FROM decisions_signoff s
JOIN decisions_decisionrequest d ON d.id = s.decision_id
LEFT JOIN decisions_decisionevent e
       ON e.kind = 'signed' AND e.data ->> 'signoff' = s.public_id::text AND e.decision_id = s.decision_id
WHERE e.id IS NULL
   OR e.data ->> 'verdict' IS DISTINCT FROM s.verdict
   OR e.data ->> 'reason_code' IS DISTINCT FROM s.reason_code
   OR e.data ->> 'rationale' IS DISTINCT FROM s.rationale
UNION ALL
SELECT e.data ->> 'signoff', d.public_id::text, NULL
FROM decisions_decisionevent e
JOIN decisions_decisionrequest d ON d.id = e.decision_id
LEFT JOIN decisions_signoff s ON s.public_id::text = e.data ->> 'signoff'
WHERE e.kind = 'signed' AND s.id IS NULL
"""
_OUTCOMES_SQL = """
SELECT d.public_id::text
FROM decisions_outcome o
JOIN decisions_decisionrequest d ON d.id = o.decision_id
LEFT JOIN decisions_decisionevent e ON e.decision_id = o.decision_id AND e.kind = 'outcome_reported'
WHERE e.id IS NULL
   OR e.data ->> 'kind' IS DISTINCT FROM o.kind
   OR (e.data ->> 'reverted')::boolean IS DISTINCT FROM o.reverted
   OR e.data ->> 'notes' IS DISTINCT FROM o.notes
UNION ALL
SELECT d.public_id::text
FROM decisions_decisionevent e
JOIN decisions_decisionrequest d ON d.id = e.decision_id
LEFT JOIN decisions_outcome o ON o.decision_id = e.decision_id
WHERE e.kind = 'outcome_reported' AND o.id IS NULL
"""


def sql_mismatches() -> list[str]:
    """Every decision, sign-off and outcome row that disagrees with the log, in a few queries
    (PostgreSQL; elsewhere every decision is replayed)."""
    if connection.vendor != "postgresql":
        return list(check_decisions(DecisionRequest.objects.values_list("pk", flat=True)))
    found = []
    with connection.cursor() as cursor:
        cursor.execute(_DECISIONS_SQL)
        for public_id, status, kind, logged in cursor.fetchall():
            said = "pending" if kind is None else (logged or "auto_approved")
            found.append(f"decision {public_id}: row says {status}, log says {said} (or its verdict differs)")
        cursor.execute(_SIGNOFFS_SQL)
        for signoff, decision, missing in cursor.fetchall():
            if missing is None:
                found.append(f"sign-off {signoff} of decision {decision}: in the log, not in the database")
            elif missing:
                found.append(f"sign-off {signoff} of decision {decision}: not in the log")
            else:
                found.append(f"sign-off {signoff} of decision {decision}: its verdict differs from the log's")
        cursor.execute(_OUTCOMES_SQL)
        found.extend(f"decision {public_id}: its outcome differs from the log's" for (public_id,) in cursor.fetchall())
    return found


_CHANGED_SQL = """
SELECT id FROM decisions_decisionrequest WHERE age(xmin) <= %(delta)s
UNION ALL SELECT decision_id FROM decisions_signoff WHERE age(xmin) <= %(delta)s
UNION ALL SELECT decision_id FROM decisions_outcome WHERE age(xmin) <= %(delta)s
"""
_PARITY_SQL = """
SELECT (SELECT count(*) FROM decisions_decisionrequest),
       (SELECT count(*) FROM decisions_decisionevent WHERE kind = 'received'),
       (SELECT count(*) FROM decisions_signoff),
       (SELECT count(*) FROM decisions_decisionevent WHERE kind = 'signed'),
       (SELECT count(*) FROM decisions_outcome),
       (SELECT count(*) FROM decisions_decisionevent WHERE kind = 'outcome_reported')
"""
_MISSING_DECISIONS_SQL = """
SELECT DISTINCT l.decision_public_id::text
FROM decisions_ledgerleaf l
LEFT JOIN decisions_decisionrequest d ON d.public_id = l.decision_public_id
WHERE d.id IS NULL
  AND NOT EXISTS (SELECT 1 FROM decisions_archiveddecision a WHERE a.decision_public_id = l.decision_public_id)
"""
MAX_DELTA = 2**31 - 1  # xids wrap at 2^32: beyond this age, every row is read


def current_xid() -> int:
    """This transaction's id (PostgreSQL), or 0 where there is none to record."""
    if connection.vendor != "postgresql":
        return 0
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_current_xact_id()::text::bigint")
        return int(cursor.fetchone()[0])


def snapshot_horizon() -> int:
    """The oldest transaction still running when this one's snapshot was taken (PostgreSQL; 0
    elsewhere): every row written by a transaction below it was visible to this run, so the next
    run need only read rows whose xmin is at or above it. (The run's own id would miss a
    transaction that started before it and committed after its snapshot.)"""
    if connection.vendor != "postgresql":
        return 0
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
        return int(cursor.fetchone()[0])


def changed_since(xid: int) -> set[int] | None:
    """Decisions whose row, sign-offs or outcome were written since transaction ``xid``, or None
    when that cannot be told (not PostgreSQL, no earlier run, or too long ago): then read all."""
    now = current_xid()
    if not xid or not now or now - xid > MAX_DELTA:
        return None
    with connection.cursor() as cursor:
        cursor.execute(_CHANGED_SQL, {"delta": now - xid})
        return {pk for (pk,) in cursor.fetchall()}


def parity_problems() -> list[str]:
    """Rows missing or added where the log says otherwise, by count (PostgreSQL)."""
    with connection.cursor() as cursor:
        cursor.execute(_PARITY_SQL)
        decisions, received, signoffs, signed, outcomes, reported = cursor.fetchone()
        found = []
        if decisions != received:
            found.append(f"{decisions} decision rows, {received} decisions in the log")
            cursor.execute(_MISSING_DECISIONS_SQL)
            found.extend(f"decision {pk}: in the log, not in the database" for (pk,) in cursor.fetchall())
        if signoffs != signed:
            found.append(f"{signoffs} sign-off rows, {signed} sign-offs in the log")
        if outcomes != reported:
            found.append(f"{outcomes} outcome rows, {reported} outcomes in the log")
    return found
