"""Verifying the log against its signed checkpoints, incrementally or in full.

Incremental (the default, what beat, the evidence pack and the review freeze run), from the
newest checkpoint an earlier run proved intact (``m`` leaves) to the newest witnessed one (``n``):

1. every witnessed checkpoint is signed by a trusted key, sizes never shrink, and the database's
   copies agree with the witness;
2. the tree in the database has the signed root at ``n`` and extends ``m`` (consistency proof);
3. leaves ``m .. n-1``: each event exists, its content still hashes to its hash, it links to its
   decision's previous event, and its leaf is the hash of it;
4. events not yet in a checkpoint: their decisions' chains, event by event;
5. counts: every event is a leaf or pending (or was removed by a retention run: its leaf stays,
   it must match the hash the run archived, and the run's manifest must carry a valid
   signature by the ledger key), every leaf position is filled;
6. every decision's, sign-off's and outcome's row against the log (a few SQL queries), and a
   full replay of the decisions touched since ``m``;
7. a random sample of older leaves re-hashed from their events (a content edit that leaves
   every hash in place is found by the next full run for sure, by this sample probably).

Full: the same from leaf 0, every checkpoint against the next, every event re-hashed, every
decision replayed. Each run is recorded (``LedgerVerification``) and names what it found.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max, Q
from django.utils import timezone

from decisions.ledger import archive, keys, state
from decisions.ledger.checkpoints import (
    LedgerInconsistent,
    Witnessed,
    check_extends,
    verify_signature,
    witnessed,
)
from decisions.ledger.sequencer import BATCH
from decisions.ledger.tree import StoredTree
from decisions.lifecycle.eventlog import content_matches, verify_all
from decisions.models import (
    ArchivedEvent,
    DecisionEvent,
    DecisionRequest,
    LedgerCheckpoint,
    LedgerHead,
    LedgerLeaf,
    LedgerPending,
    LedgerVerification,
    RetentionRun,
    VerificationMode,
)
from decisions.verifier import GENESIS, leaf_hash

SAMPLE = 256
MAX_PROBLEMS = 100
MAX_NAMED = 20


@dataclass
class Run:
    """What one verification has found so far."""

    mode: str
    problems: list[str] = field(default_factory=list)
    events_checked: int = 0
    archived: int = 0  # leaves whose events a retention run removed (and that still verify)
    touched: set[int] = field(default_factory=set)  # decision pks whose events were read

    def add(self, problem: str) -> None:
        self.problems.append(problem)

    def extend(self, problems: Iterable[str]) -> None:
        self.problems.extend(problems)


def last_proven() -> LedgerVerification | None:
    """The newest verification that found the log intact."""
    return LedgerVerification.objects.filter(intact=True).order_by("-started_at", "-id").first()


def verify_ledger(*, full: bool = False, record: bool = True, sample: int = SAMPLE) -> LedgerVerification:
    """Verify the log (see the module docstring); returns the run, saved when ``record``.

    A verification reads many tables while the services keep writing: a decision signed between
    the read of its events and the read of its row would look altered. So each pass reads one
    snapshot where it can (PostgreSQL, REPEATABLE READ, when not already inside a transaction),
    and a pass that finds problems is repeated after ``LEDGER_VERIFY_RECHECK_SECONDS``: only what
    both passes find is reported (a tampered row stays tampered; a race does not repeat), or, when
    both fail with differently worded findings, the second pass's."""
    first = _verify_pass(full=full, sample=sample)
    if first.intact:
        verification = first
    else:
        time.sleep(settings.LEDGER_VERIFY_RECHECK_SECONDS)
        verification = _verify_pass(full=full, sample=sample)
        if not verification.intact:
            both = set(first.problems)
            # Broken twice but worded differently (counts that moved between the passes): report
            # the second pass's findings rather than none.
            verification.problems = [p for p in verification.problems if p in both] or verification.problems
    if record:
        verification.save()
    return verification


def _verify_pass(*, full: bool, sample: int) -> LedgerVerification:
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return _verify_once(full=full, sample=sample)
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        return _verify_once(full=full, sample=sample)


def _verify_once(*, full: bool, sample: int) -> LedgerVerification:
    started = timezone.now()
    clock = time.perf_counter()
    xid = state.snapshot_horizon()
    run = Run(mode=VerificationMode.FULL if full else VerificationMode.INCREMENTAL)
    history = _signed_history(run)
    _compare_database_copies(run, history)
    head_size = LedgerHead.objects.filter(id=1).values_list("size", flat=True).first() or 0
    newest = history[-1] if history else None
    tree = StoredTree(head_size)
    base = _base(run, history, full=full)
    _check_tree(run, tree, history, base, full=full)
    checked_to = newest.tree_size if newest else 0
    if full:
        run.extend(str(found) for found in verify_all())
        run.events_checked = DecisionEvent.objects.count()
        _check_leaves(run, 0, head_size, rehash=False)
    else:
        _check_leaves(run, base.tree_size if base else 0, head_size, rehash=True)
        _check_unsequenced(run)
        _sample_older(run, base.tree_size if base else 0, sample)
    unsequenced, events = _check_counts(run, head_size, checked_to)
    _check_runs(run, last_proven(), full=full)
    if full:
        run.extend(state.check_decisions(DecisionRequest.objects.values_list("pk", flat=True)))
    else:
        _check_state_since(run, last_proven())
    return LedgerVerification(
        mode=run.mode,
        started_at=started,
        duration_ms=int((time.perf_counter() - clock) * 1000),
        intact=not run.problems,
        problems=run.problems[:MAX_PROBLEMS],
        checkpoint_size=checked_to,
        checkpoint_root=newest.checkpoint["root_hash"] if newest else "",
        from_size=0 if full or base is None else min(base.tree_size, checked_to),
        events_checked=run.events_checked,
        decisions=DecisionRequest.objects.count(),
        events=events,
        unsequenced=unsequenced,
        xid=xid,
    )


def _signed_history(run: Run) -> list[Witnessed]:
    """The witness's checkpoints with a valid signature by a trusted key, in order."""
    trusted = keys.trusted_keys()
    history: list[Witnessed] = []
    for witness in witnessed():
        problem = verify_signature(witness, trusted)
        if problem:
            run.add(problem)
            continue
        if history and witness.tree_size < history[-1].tree_size:
            run.add(f"{witness}: smaller than the {history[-1]} before it")
            continue
        history.append(witness)
    return history


def _compare_database_copies(run: Run, history: list[Witnessed]) -> None:
    """The database's copy of the checkpoints and the witness hold the same ones."""
    stored = {(c.tree_size, c.root_hash): c for c in LedgerCheckpoint.objects.all()}
    witnessed_states = {(w.tree_size, w.checkpoint["root_hash"]) for w in history}
    for witness in history:
        if (witness.tree_size, witness.checkpoint["root_hash"]) not in stored:
            run.add(f"{witness}: missing from the database's copy of the checkpoints")
    for state_, checkpoint in sorted(stored.items()):
        if state_ not in witnessed_states:
            run.add(
                f"{checkpoint}: in the database but not in the witness (the witness was truncated, or is not "
                "the one this log publishes to)"
            )


def _base(run: Run, history: list[Witnessed], *, full: bool) -> Witnessed | None:
    """The witnessed checkpoint an earlier run proved, where this one starts (None: from 0)."""
    if full:
        return None
    proven = last_proven()
    if proven is None or proven.checkpoint_size == 0:
        return None
    for witness in reversed(history):
        if witness.tree_size == proven.checkpoint_size and witness.checkpoint["root_hash"] == proven.checkpoint_root:
            return witness
    run.add(
        f"the last verified checkpoint (size {proven.checkpoint_size}) is not in the witness: verifying from leaf 0"
    )
    return None


def _check_tree(run: Run, tree: StoredTree, history: list[Witnessed], base: Witnessed | None, *, full: bool) -> None:
    """The tree still has the signed root of ``base`` and of every later checkpoint, and each
    extends the one before it (a consistency proof against both signed roots). Full: from the
    first checkpoint."""
    start = 0 if full or base is None else history.index(base)
    previous: Witnessed | None = None
    for witness in history[start:]:
        try:
            if witness.tree_size > tree.size:
                raise LedgerInconsistent(f"the log holds {tree.size} leaves; the {witness} signed more")
            root = tree.get_root(witness.tree_size)
            if root != witness.root:
                raise LedgerInconsistent(f"the log's root at size {witness.tree_size} differs from the {witness}")
            if previous is not None:
                check_extends(tree, previous, witness.tree_size, root)
        except (LedgerInconsistent, LookupError) as exc:
            run.add(f"{exc}; {_where_rewritten(tree, history)}")
            return
        previous = witness


def _where_rewritten(tree: StoredTree, history: list[Witnessed]) -> str:
    """Name the span of the log a rewrite lies in: after the newest checkpoint that still matches,
    up to the first that does not, with the decisions whose events sit there."""
    low = 0
    for witness in history:
        try:
            matches = witness.tree_size <= tree.size and tree.get_root(witness.tree_size) == witness.root
        except LookupError:
            matches = False
        if not matches:
            decisions = (
                LedgerLeaf.objects.filter(position__gte=low, position__lt=witness.tree_size)
                .order_by("decision_public_id")
                .values_list("decision_public_id", flat=True)
                .distinct()[: MAX_NAMED + 1]
            )
            named = [str(d) for d in decisions if d is not None]
            more = " and more" if len(named) > MAX_NAMED else ""
            return (
                f"the altered or missing events lie at positions {low}..{witness.tree_size - 1} (signed by {witness}); "
                f"decisions there: {', '.join(named[:MAX_NAMED]) or 'none left in the database'}{more}"
            )
        low = witness.tree_size
    return "every witnessed checkpoint still matches"


def _check_leaves(run: Run, start: int, end: int, *, rehash: bool) -> None:
    """Leaves [start, end): the event is there and the leaf is its hash; with ``rehash``, the
    event still hashes to it and links to its decision's previous event."""
    for first in range(start, end, BATCH):
        last = min(end, first + BATCH)
        rows = list(
            LedgerLeaf.objects.filter(position__gte=first, position__lt=last)
            .order_by("position")
            .values_list("position", "hash", "event_id", "decision_public_id")
        )
        if len(rows) != last - first:
            present = {row[0] for row in rows}
            missing = [p for p in range(first, last) if p not in present][:MAX_NAMED]
            run.add(f"leaves missing from the log at positions {missing}")
        events, previous, removed = _leaf_events(rows, rehash=rehash)
        for position, digest, event_id, decision in rows:
            event = events.get(event_id)
            if event is None:
                _check_removed(run, f"decision {decision}", position, bytes(digest), removed.get(position))
                continue
            where = f"decision {decision}, event #{event.seq}"
            run.touched.add(event.decision_id)
            if bytes(digest) != leaf_hash(event.hash):
                run.add(f"{where}: the log's leaf {position} does not match the event's hash")
            if rehash:
                run.events_checked += 1
                _rehash(run, where, str(decision), event, previous)


def _check_removed(run: Run, where: str, position: int, digest: bytes, archived: ArchivedEvent | None) -> None:
    problem = archive.check_removed(where, position, digest, archived)
    if problem:
        run.add(problem)
    else:
        run.archived += 1


def _check_runs(run: Run, proven: LedgerVerification | None, *, full: bool) -> None:
    """The retention runs finished since the last proven verification (all, in full): each
    signed over exactly what the database says it removed."""
    runs = RetentionRun.objects.select_related("checkpoint").order_by("started_at", "id")
    if not full and proven is not None:
        runs = runs.filter(Q(finished_at__isnull=True) | Q(finished_at__gte=proven.started_at))
    run.extend(archive.check_runs(runs, keys.trusted_keys()))


def _leaf_events(
    rows: Sequence[tuple[Any, ...]], *, rehash: bool
) -> tuple[dict[int, DecisionEvent], dict[tuple[int, int], str], dict[int, ArchivedEvent]]:
    """For leaf rows (position, hash, event id, decision): their events by pk, the hashes of the
    events before them (to re-hash), and the archive records of those whose event is gone."""
    events = {e.pk: e for e in _events([row[2] for row in rows], full=rehash)}
    previous = _previous_hashes(list(events.values())) if rehash else {}
    removed = archive.removed_at(row[0] for row in rows if row[2] not in events)
    return events, previous, removed


def _events(pks: list[int], *, full: bool) -> Iterable[DecisionEvent]:
    # No ordering: the model's (decision, seq) order would join every decision to sort by it.
    events = DecisionEvent.objects.filter(pk__in=pks).order_by()
    return events if full else events.only("pk", "hash", "seq", "decision_id")


def _previous_hashes(events: list[DecisionEvent]) -> dict[tuple[int, int], str]:
    """(decision pk, seq) -> hash of the events just before ``events`` in their decisions."""
    wanted = {(e.decision_id, e.seq - 1) for e in events if e.seq > 1}
    if not wanted:
        return {}
    if connection.vendor == "postgresql":
        # Exact (decision, seq) pairs, each one probe of the unique index; IN lists on the two
        # columns separately would match nearly every event of those decisions.
        decisions, seqs = zip(*sorted(wanted), strict=True)
        with connection.cursor() as cursor:
            cursor.execute(_PREVIOUS_SQL, [list(decisions), list(seqs)])
            return {(d, s): h for d, s, h in cursor.fetchall()}
    rows = (
        DecisionEvent.objects.filter(decision_id__in={d for d, _ in wanted}, seq__in={s for _, s in wanted})
        .order_by()
        .values_list("decision_id", "seq", "hash")
    )
    return {(d, s): h for d, s, h in rows if (d, s) in wanted}


_PREVIOUS_SQL = f"""
SELECT e.decision_id, e.seq, e.hash
FROM unnest(%s::bigint[], %s::integer[]) AS wanted(decision_id, seq)
JOIN {DecisionEvent._meta.db_table} e ON e.decision_id = wanted.decision_id AND e.seq = wanted.seq
"""  # noqa: S608 - the table name is the model's, the values are parameters


def _rehash(run: Run, where: str, decision: str, event: DecisionEvent, previous: dict[tuple[int, int], str]) -> None:
    expected_prev = GENESIS if event.seq == 1 else previous.get((event.decision_id, event.seq - 1))
    if expected_prev is None:
        run.add(f"{where}: the event before it is missing")
    elif event.prev_hash != expected_prev:
        run.add(f"{where}: does not link to the previous event")
    if not content_matches(event, decision_public_id=decision):
        run.add(f"{where}: content does not match its hash: the event was edited")


def _check_unsequenced(run: Run) -> None:
    """Events not in the tree yet: their decisions' chains, from the first event."""
    pending = set(
        DecisionEvent.objects.filter(pk__in=LedgerPending.objects.values("event_id")).values_list(
            "decision_id", flat=True
        )
    )
    run.touched |= pending
    for found in verify_all(decision_ids=pending):
        run.add(str(found))


def _sample_older(run: Run, before: int, count: int) -> None:
    """Re-hash ``count`` random leaves below ``before`` (the part an earlier run proved)."""
    if before == 0 or count == 0:
        return
    positions = sorted(random.sample(range(before), min(count, before)))  # noqa: S311 - a spot check, not a secret
    rows = list(LedgerLeaf.objects.filter(position__in=positions).values_list("position", "hash", "event_id",
                                                                               "decision_public_id"))  # fmt: skip
    events, previous, removed = _leaf_events(rows, rehash=True)
    for position, digest, event_id, decision in rows:
        event = events.get(event_id)
        if event is None:
            _check_removed(run, f"decision {decision}", position, bytes(digest), removed.get(position))
            continue
        where = f"decision {decision}, event #{event.seq}"
        run.events_checked += 1
        if bytes(digest) != leaf_hash(event.hash):
            run.add(f"{where}: the log's leaf {position} does not match the event's hash")
        _rehash(run, where, str(decision), event, previous)


def _check_state_since(run: Run, proven: LedgerVerification | None) -> None:
    """The rows against the log: those written since the last proven run (and the decisions
    whose events were read here), or every row when that cannot be told or a row went missing."""
    changed = state.changed_since(proven.xid if proven else 0)
    if changed is None:
        run.extend(state.sql_mismatches())
    else:
        missing = state.parity_problems()
        if missing:
            run.extend(missing)
            run.extend(state.sql_mismatches())
        run.touched |= changed
    run.extend(state.check_decisions(run.touched))


def _check_counts(run: Run, head_size: int, checkpoint_size: int) -> tuple[int, int]:
    """Every event is a leaf or pending, and every position below the head is a leaf. Returns
    how many events no signed checkpoint covers yet, and how many events there are."""
    events = DecisionEvent.objects.count()
    leaves = LedgerLeaf.objects.count()
    pending = LedgerPending.objects.count()
    archived = ArchivedEvent.objects.count()
    top = LedgerLeaf.objects.aggregate(top=Max("position"))["top"]
    if leaves != head_size or (top is not None and top != head_size - 1):
        run.add(f"the log's head says {head_size} leaves, {leaves} are stored (leaves were deleted or added)")
    if events + archived != leaves + pending:
        run.add(
            f"{events} events in the database and {archived} archived by retention, {leaves} in the log and "
            f"{pending} waiting: events were deleted"
        )
    if head_size < checkpoint_size:
        run.add(f"the log holds {head_size} leaves, fewer than the {checkpoint_size} a checkpoint signed")
    return max(events - checkpoint_size, 0), events


def newest_checkpoint() -> LedgerCheckpoint | None:
    return LedgerCheckpoint.objects.order_by("-tree_size", "-id").first()


def summary(verification: LedgerVerification | None) -> dict[str, object]:
    """A verification as plain data (the evidence pack, the review reports, the API)."""
    if verification is None:
        return {"intact": False, "first_break": "the log has never been verified", "verified_at": None}
    return {
        "intact": verification.intact,
        "first_break": verification.problems[0] if verification.problems else None,
        "problems": verification.problems,
        "mode": verification.mode,
        "decisions": verification.decisions,
        "events": verification.events,
        "events_checked": verification.events_checked,
        "checkpoint_size": verification.checkpoint_size,
        "checkpoint_root": verification.checkpoint_root,
        "from_size": verification.from_size,
        "unsequenced": verification.unsequenced,
        "duration_ms": verification.duration_ms,
        "verified_at": verification.started_at.isoformat(),
    }


def last_full_verification_at() -> datetime | None:
    found = LedgerVerification.objects.filter(mode=VerificationMode.FULL, intact=True).order_by("-started_at").first()
    return found.started_at if found else None
