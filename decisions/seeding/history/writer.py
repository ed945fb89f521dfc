"""How the history is written: a few bulk inserts per batch of simulated decisions, in one
transaction per batch. On PostgreSQL with COPY (ids reserved from the sequence first), on a
connection of its own that writes one batch while the caller simulates the next; elsewhere with
bulk_create, on the caller's connection. Timestamps are kept as simulated
(``explicit_timestamps``)."""

from __future__ import annotations

import contextlib
import json
import queue
import threading
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from types import SimpleNamespace
from typing import Any, Protocol, TypeAlias

from django.db import connection, models, transaction

from decisions.models import DecisionEvent, DecisionRequest, Escalation, Outcome, SignOff
from decisions.seeding.history.records import Rows

BATCH = 1000  # decisions per batch, written in one transaction
EVENT_BATCH = 4000  # events per executemany, off PostgreSQL


@contextlib.contextmanager
def explicit_timestamps() -> Iterator[None]:
    """Within the block, ``auto_now`` / ``auto_now_add`` keep the value set on the instance
    instead of the current time (bulk_create calls ``pre_save`` with ``add=True``). The switch is
    process-wide while it lasts: use it only where nothing else saves these models meanwhile."""
    fields = [
        DecisionRequest._meta.get_field("created_at"),
        DecisionRequest._meta.get_field("updated_at"),
        SignOff._meta.get_field("created_at"),
        Outcome._meta.get_field("reported_at"),
    ]
    saved = [(f, f.auto_now, f.auto_now_add) for f in fields]
    for f in fields:
        f.auto_now = f.auto_now_add = False
    try:
        yield
    finally:
        for f, auto_now, auto_now_add in saved:
            f.auto_now, f.auto_now_add = auto_now, auto_now_add


EVENT_COLUMNS = ("decision_id", "seq", "kind", "at", "actor_id", "data", "prev_hash", "hash")
# An event as written: the decision's id, then the event (``records.Event``).
EventRow: TypeAlias = tuple[int, int, str, datetime, int | None, dict[str, Any], str, str]


class BatchWriter(Protocol):
    """Writes batches of simulated decisions; ``events`` counts the events written so far."""

    events: int

    def put(self, batch: list[Rows]) -> None: ...

    def close(self) -> None: ...


def _copy(model: type[models.Model], rows: Iterable[Sequence[Any]], columns: Sequence[str]) -> None:
    """PostgreSQL: COPY ``rows`` (values in ``columns`` order) into ``model``'s table."""
    table = connection.ops.quote_name(model._meta.db_table)
    names = ", ".join(connection.ops.quote_name(c) for c in columns)
    with connection.cursor() as cursor, cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def _copy_records(model: type[models.Model], records: Sequence[SimpleNamespace], *, with_pk: bool) -> None:
    """PostgreSQL: COPY records of a model's fields (the missing ones take their defaults), JSON
    fields as JSON text, as Django would store them."""
    fields = [f for f in model._meta.concrete_fields if with_pk or not f.primary_key]
    defaults = {f.attname: f.get_default() for f in fields if not (f.has_default() and callable(f.default))}
    json_at = [i for i, f in enumerate(fields) if isinstance(f, models.JSONField)]
    rows = []
    for record in records:
        values = vars(record)
        row = [values[f.attname] if f.attname in values else defaults[f.attname] for f in fields]
        for i in json_at:
            if row[i] is not None:
                row[i] = json.dumps(row[i])
        rows.append(row)
    _copy(model, rows, [f.column for f in fields])


def _reserve_ids(model: type[models.Model], count: int) -> list[int]:
    """PostgreSQL: ``count`` ids from the table's identity sequence (safe under concurrency)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
            [model._meta.db_table, count],
        )
        return sorted(row[0] for row in cursor.fetchall())


def _write(batch: list[Rows]) -> int:
    """Insert one batch in one transaction; returns the events written.

    On PostgreSQL with COPY (ids reserved from the sequence first): Django 5.2's bulk_create
    inserts through UNNEST there, and psycopg escapes every text array element in Python, which
    made it several times slower than generating the rows. Elsewhere with bulk_create, the
    timestamps kept as generated (``explicit_timestamps``). Events are plain rows either way:
    building 600,000 model instances would cost more than inserting them.
    """
    decisions = [r.decision for r in batch]
    escalations = [e for r in batch for e in r.escalations]
    signoffs = [s for r in batch for s in r.signoffs]
    outcomes = [r.outcome for r in batch if r.outcome is not None]
    postgres = connection.vendor == "postgresql"
    with transaction.atomic(), explicit_timestamps():
        if postgres:
            for decision, pk in zip(decisions, _reserve_ids(DecisionRequest, len(decisions)), strict=True):
                decision.id = pk
            _copy_records(DecisionRequest, decisions, with_pk=True)
        else:
            _bulk_create_decisions(decisions)
        for r in batch:
            for child in (*r.escalations, *r.signoffs, *([r.outcome] if r.outcome else [])):
                child.decision_id = r.decision.id
        events: list[EventRow] = [(r.decision.id, *event) for r in batch for event in r.events]
        if postgres:
            _copy_records(Escalation, escalations, with_pk=False)
            _copy_records(SignOff, signoffs, with_pk=False)
            _copy_records(Outcome, outcomes, with_pk=False)
            _copy(DecisionEvent, [(*e[:5], json.dumps(e[5]), *e[6:]) for e in events], EVENT_COLUMNS)
        else:
            Escalation.objects.bulk_create([Escalation(**vars(r)) for r in escalations], batch_size=BATCH)
            SignOff.objects.bulk_create([SignOff(**vars(r)) for r in signoffs], batch_size=BATCH)
            Outcome.objects.bulk_create([Outcome(**vars(r)) for r in outcomes], batch_size=BATCH)
            _insert_rows(DecisionEvent, events)
    return len(events)


def _bulk_create_decisions(decisions: list[SimpleNamespace]) -> None:
    """Other databases: the decisions with bulk_create, their ids set on the records."""
    attnames = [f.attname for f in DecisionRequest._meta.concrete_fields if not f.primary_key]
    instances = [DecisionRequest(**{name: getattr(d, name) for name in attnames}) for d in decisions]
    DecisionRequest.objects.bulk_create(instances, batch_size=BATCH)
    for decision, instance in zip(decisions, instances, strict=True):
        decision.id = instance.pk


def _insert_rows(model: type[models.Model], events: list[EventRow]) -> None:
    """Other databases: events with ``executemany``, values adapted as Django's backend does."""
    table = connection.ops.quote_name(model._meta.db_table)
    names = ", ".join(connection.ops.quote_name(c) for c in EVENT_COLUMNS)
    marks = ", ".join(["%s"] * len(EVENT_COLUMNS))
    adapt = connection.ops.adapt_datetimefield_value
    rows = [(e[0], e[1], e[2], adapt(e[3]), e[4], json.dumps(e[5]), e[6], e[7]) for e in events]
    with connection.cursor() as cursor:
        for offset in range(0, len(rows), EVENT_BATCH):
            cursor.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", rows[offset : offset + EVENT_BATCH])  # noqa: S608


class _InlineWriter:
    """Writes each batch at once, on the caller's connection (within the caller's transaction)."""

    def __init__(self) -> None:
        self.events = 0

    def put(self, batch: list[Rows]) -> None:
        self.events += _write(batch)

    def close(self) -> None:
        pass


class _ThreadWriter:
    """Writes the batches on a connection of its own while the caller generates the next ones,
    so that the database's share of the work (COPY, indexes, foreign-key checks at commit)
    overlaps with Python's. Only outside any transaction: the rows the batches refer to (demo
    people, roles, policies) are committed, so its connection sees them."""

    def __init__(self) -> None:
        self.events = 0
        self.error: BaseException | None = None
        self.queue: queue.Queue[list[Rows] | None] = queue.Queue(maxsize=2)
        self.thread = threading.Thread(target=self._run, name="seed-history-writer", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            while (batch := self.queue.get()) is not None:
                if self.error is None:  # after a failure, drain without writing: the caller stops
                    try:
                        self.events += _write(batch)
                    except BaseException as exc:  # noqa: BLE001 - raised again in the caller's thread
                        self.error = exc
        finally:
            connection.close()  # this thread's own connection

    def put(self, batch: list[Rows]) -> None:
        self._raise()
        self.queue.put(batch)

    def close(self) -> None:
        self.queue.put(None)
        self.thread.join()
        self._raise()

    def _raise(self) -> None:
        if self.error is not None:
            raise self.error


def open_writer() -> BatchWriter:
    """The writer for the caller's connection: a thread of its own on PostgreSQL outside any
    transaction, else inline. ``close()`` it when done (it raises a failed write)."""
    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        return _ThreadWriter()
    return _InlineWriter()
