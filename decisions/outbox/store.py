"""Writing the outbox in the caller's transaction, doing an effect once, and the backlog."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from django.db import connection, transaction
from django.db.models import Count, Min
from django.utils import timezone

from decisions.models import OutboxMessage
from decisions.outbox.messages import Message
from decisions.outbox.relay import Dispatch

# Advisory lock keys of perform_once: this offset plus the outbox id (bigint keys, apart from others).
_PERFORM_LOCK_SPACE = 0x0B0C << 48


def record(messages: Iterable[Message]) -> None:
    """Write ``messages`` as outbox rows (one INSERT) in the current transaction and dispatch
    them once it commits; a rollback leaves neither rows nor messages."""
    rows = rows_for(messages)
    if not rows:
        return
    OutboxMessage.objects.bulk_create(rows)
    dispatch_after_commit(rows)


def rows_for(messages: Iterable[Message]) -> list[OutboxMessage]:
    """The outbox rows of ``messages``, not saved yet (``record`` saves them; intake's single
    round trip inserts them with the decision's other rows)."""
    now = timezone.now()
    return [
        OutboxMessage(task_name=m.task_name, args=list(m.args), eta=m.eta, perform_once=m.perform_once, created_at=now)
        for m in messages
    ]


def dispatch_after_commit(rows: list[OutboxMessage]) -> None:
    """Publish saved ``rows`` once the current transaction commits (nothing if it rolls back)."""
    transaction.on_commit(Dispatch(rows))


def perform_once(outbox_id: int | None, effect: Callable[[], bool], *, final: bool = False) -> bool:
    """Run ``effect`` (True when it worked) unless the outbox row ``outbox_id`` says it was done.

    Holds a lock on the message while the effect runs (a transaction-scoped advisory lock on
    PostgreSQL, so the dispatcher stamping the row published never waits on a slow receiver),
    so a second delivery of the same message waits and then finds it done. Stamps ``done_at``
    when the effect worked, or when this was the ``final`` attempt (the relay does not deliver
    it again). A worker killed mid-effect leaves it
    not done: the relay delivers it again (at least once). Without an id (a message queued
    before the outbox), the effect just runs.
    """
    if outbox_id is None:
        return effect()
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_PERFORM_LOCK_SPACE + outbox_id])
        # A statement of its own, after the wait: under READ COMMITTED it sees the holder's stamp.
        row = OutboxMessage.objects.filter(pk=outbox_id).only("pk", "done_at").first()
        if row is None or row.done_at is not None:
            return True
        ok = effect()
        if ok or final:
            OutboxMessage.objects.filter(pk=outbox_id).update(done_at=timezone.now())
        return ok


def backlog() -> tuple[int, float]:
    """Unpublished outbox rows and the age in seconds of the oldest (0.0 when there are none):
    what /readyz and /metrics report."""
    figures = OutboxMessage.objects.filter(published_at__isnull=True).aggregate(n=Count("pk"), oldest=Min("created_at"))
    oldest = figures["oldest"]
    age = (timezone.now() - oldest).total_seconds() if oldest is not None else 0.0
    return figures["n"], max(age, 0.0)
