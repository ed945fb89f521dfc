"""A new decision's rows in one round trip to PostgreSQL.

Intake is the product's hot path, and each statement costs a round trip plus the driver's and
the ORM's work per call. A new decision writes four tables (the decision, its events, its
certify grants, its outbox rows); here the ORM still compiles each INSERT (its fields, defaults
and adapters stay the one definition), but the four are sent as one multi-statement query. That
needs the decision's id before its INSERT runs (the events refer to it): ``intake_limits``
reserves it from the table's sequence in the limits' own round trip.

Client-side parameter binding (Django's default for psycopg 3, ``ClientCursor``) is what lets
one ``execute`` carry several statements; with server-side binding configured, the statements go
one by one, as the ORM would send them. Either way they run in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connection
from django.db.models import Model
from django.db.models.constants import OnConflict
from django.db.models.sql import InsertQuery
from psycopg import ClientCursor


class Insert:
    """One compiled INSERT of ``objs`` (all of one model), optionally returning their ids."""

    def __init__(self, objs: Sequence[Model], *, returning_ids: bool = False, ignore_conflicts: bool = False) -> None:
        self.objs = list(objs)
        self.returning_ids = returning_ids
        model = type(self.objs[0])
        opts = model._meta
        with_pk = self.objs[0].pk is not None
        fields = [f for f in opts.concrete_fields if with_pk or not f.primary_key]
        for obj in self.objs:
            # What bulk_create does first: foreign keys to objects saved (or reserved) since.
            obj._prepare_related_fields_for_save(operation_name="bulk_create")  # type: ignore[attr-defined]
        query = InsertQuery(model, on_conflict=OnConflict.IGNORE if ignore_conflicts else None)
        query.insert_values(fields, self.objs, raw=False)
        compiler = query.get_compiler(using=connection.alias)
        compiler.returning_fields = [opts.pk] if returning_ids else None
        ((self.sql, self.params),) = compiler.as_sql()

    def saved(self, ids: list[int] | None) -> None:
        """Mark the objects saved, with their ids when the statement returned them."""
        for n, obj in enumerate(self.objs):
            if ids is not None:
                obj.pk = ids[n]
            obj._state.adding = False
            obj._state.db = connection.alias


def run(inserts: Sequence[Insert]) -> None:
    """Run ``inserts`` in the current transaction, in one round trip where the driver allows it."""
    inserts = [i for i in inserts if i.objs]
    with connection.cursor() as cursor:
        if _multi_statement(cursor):
            params: list[Any] = []
            for insert in inserts:
                params.extend(insert.params)
            cursor.execute(";\n".join(insert.sql for insert in inserts), params)
            for n, insert in enumerate(inserts):
                if n:
                    cursor.nextset()
                insert.saved([row[0] for row in cursor.fetchall()] if insert.returning_ids else None)
            return
        for insert in inserts:
            cursor.execute(insert.sql, insert.params)
            insert.saved([row[0] for row in cursor.fetchall()] if insert.returning_ids else None)


def first_rows(cursor: Any, statements: Sequence[str], params: dict[str, Any]) -> list[tuple[Any, ...] | None]:
    """Run ``statements`` (sharing named ``params``) in one round trip where the driver allows
    it; the first row of each (None when it returned none). Each statement keeps its own
    snapshot under READ COMMITTED, as if sent one by one."""
    rows: list[tuple[Any, ...] | None] = []
    if _multi_statement(cursor):
        cursor.execute(";\n".join(statements), params)
        for n in range(len(statements)):
            if n:
                cursor.nextset()
            rows.append(cursor.fetchone())
        return rows
    for statement in statements:
        cursor.execute(statement, params)
        rows.append(cursor.fetchone())
    return rows


def _multi_statement(cursor: Any) -> bool:
    return isinstance(getattr(cursor, "cursor", None), ClientCursor)
