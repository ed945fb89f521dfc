"""Publishing the outbox: right after the commit (the dispatcher) and, as the safety net, from
beat (the relay).

The dispatcher hands a committed transaction's rows to one background thread per process, so a
request never waits on the broker. With ``OUTBOX_DISPATCH=worker`` (the default) the thread
hands what has gathered to a Celery worker as one message of row ids (``publish_outbox``): the
worker publishes each row's task and stamps it, so the web tier spends one publish per batch
instead of one per side effect plus an UPDATE (intake's hot path). With ``thread`` it publishes
each row itself and stamps them with one UPDATE. ``inline`` (the tests; also whenever tasks run
eagerly) publishes in the calling thread.

A row is stamped only after its task was handed to the broker, so a crash in between publishes
it twice, never zero times; the tasks are idempotent (and ``perform_once`` where the effect is
not). The relay publishes, a batch at a time with ``SKIP LOCKED`` (two beats share the work),
every row still unpublished OUTBOX_RELAY_AFTER_SECONDS after it was written, and delivers
again a ``perform_once`` row published OUTBOX_REDELIVER_SECONDS ago and still not done (a
worker killed mid-delivery), at most OUTBOX_MAX_PUBLICATIONS times.
"""

from __future__ import annotations

import atexit
import logging
import os
import queue
import threading
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from celery import current_app, current_task
from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from decisions import queueing
from decisions.models import OutboxMessage

logger = logging.getLogger(__name__)

RELAY_BATCH = 500


def _eager() -> bool:
    return bool(current_app.conf.task_always_eager)


def publish(rows: Sequence[OutboxMessage]) -> list[int]:
    """Hand each row's task to the broker; returns the ids handed over. Stops at the first
    failure (the broker is down: the rest would fail too), logged once."""
    published: list[int] = []
    if not rows:
        return published
    try:
        if _eager():
            for row in rows:
                _send(row, producer=None)
                published.append(row.pk)
        else:
            with current_app.producer_or_acquire() as producer:
                for row in rows:
                    _send(row, producer=producer)
                    published.append(row.pk)
    except Exception as exc:  # kombu raises several kinds; any of them means "not published"
        logger.warning(
            "outbox: %d of %d messages not published (%s); the relay will retry",
            len(rows) - len(published),
            len(rows),
            exc,
        )
    return published


def _send(row: OutboxMessage, *, producer: Any) -> None:
    options: dict[str, Any] = {"retry": False}
    if row.eta is not None:
        options["eta"] = queueing.deadline_eta(row.eta)
    kwargs = {"outbox_id": row.pk} if row.perform_once else {}
    queueing.task(row.task_name).apply_async(args=tuple(row.args), kwargs=kwargs, producer=producer, **options)


def mark_published(ids: Iterable[int], *, at: datetime | None = None) -> None:
    ids = list(ids)
    if ids:
        OutboxMessage.objects.filter(pk__in=ids).update(
            published_at=at or timezone.now(), publications=F("publications") + 1
        )


def publish_and_mark(rows: Sequence[OutboxMessage]) -> int:
    published = publish(rows)
    mark_published(published)
    return len(published)


def hand_off(rows: Sequence[OutboxMessage]) -> bool:
    """Give the rows to a worker in one message (``publish_outbox``); False when the broker could
    not take it (logged: the relay publishes the rows once they are overdue)."""
    if not rows:
        return True
    try:
        queueing.task(queueing.PUBLISH_OUTBOX).apply_async(args=([row.pk for row in rows],), retry=False)
    except Exception as exc:  # kombu raises several kinds; any of them means "not handed over"
        logger.warning("outbox: %d messages not handed to a worker (%s); the relay will publish them", len(rows), exc)
        return False
    return True


def publish_handed_off(ids: Iterable[int]) -> int:
    """A worker's half of ``hand_off``: publish and stamp those of ``ids`` still unpublished, in
    one transaction holding their rows (``SKIP LOCKED``: rows the relay is publishing now are
    its). A second delivery of the hand-off finds them published and does nothing. Returns how
    many were published."""
    with transaction.atomic():
        rows = list(
            OutboxMessage.objects.select_for_update(skip_locked=True)
            .filter(pk__in=list(ids), published_at__isnull=True)
            .order_by("pk")
        )
        published = publish(rows)
        mark_published(published)
    return len(published)


class Dispatch:
    """The on-commit callback of one transaction's outbox rows (inspectable in tests)."""

    def __init__(self, rows: Sequence[OutboxMessage]) -> None:
        self.rows = tuple(rows)

    @property
    def task_names(self) -> list[str]:
        return [row.task_name for row in self.rows]

    def __call__(self) -> None:
        if settings.OUTBOX_DISPATCH == "inline" or _eager():
            publish_and_mark(self.rows)
        else:
            # A task's side effects (an escalation's notifications) are published by the worker
            # running it: handing them to another worker would only add a hop.
            dispatcher.submit(self.rows, hand_off=settings.OUTBOX_DISPATCH == "worker" and not current_task)


class Dispatcher:
    """One daemon thread per process publishing what committed transactions handed it, in batches.
    Started on first use (after a fork: each gunicorn worker has its own); ``stop`` drains it."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[tuple[tuple[OutboxMessage, ...], bool] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._lock = threading.Lock()

    def submit(self, rows: tuple[OutboxMessage, ...], *, hand_off: bool = False) -> None:
        if self._pid != os.getpid() or self._thread is None or not self._thread.is_alive():
            with self._lock:
                if self._pid != os.getpid() or self._thread is None or not self._thread.is_alive():
                    self._queue = queue.SimpleQueue()  # a forked child starts with an empty one
                    self._thread = threading.Thread(target=self._run, name="outbox-dispatcher", daemon=True)
                    self._pid = os.getpid()
                    self._thread.start()
        self._queue.put((rows, hand_off))

    def stop(self, timeout: float = 5.0) -> None:
        """Publish what is queued, then end the thread (at exit; tests)."""
        thread = self._thread
        if thread is None or self._pid != os.getpid() or not thread.is_alive():
            return
        self._queue.put(None)
        thread.join(timeout)
        self._thread = None

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is None:
                break
            batches: dict[bool, list[OutboxMessage]] = {True: [], False: []}
            rows, handing_off = first
            batches[handing_off].extend(rows)
            while len(batches[True]) + len(batches[False]) < RELAY_BATCH:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stopping = True
                    break
                rows, handing_off = more
                batches[handing_off].extend(rows)
            try:
                if batches[True]:
                    hand_off(batches[True])
                if batches[False]:
                    close_old_connections()
                    publish_and_mark(batches[False])
            except Exception:  # never let the thread die: the relay covers what it missed
                logger.exception("outbox: the dispatcher failed on a batch; the relay will retry")
        connection.close()


dispatcher = Dispatcher()
atexit.register(dispatcher.stop)


def _due(now: datetime) -> Q:
    unpublished = Q(
        published_at__isnull=True, created_at__lte=now - timedelta(seconds=settings.OUTBOX_RELAY_AFTER_SECONDS)
    )
    undone = Q(
        perform_once=True,
        done_at__isnull=True,
        published_at__lte=now - timedelta(seconds=settings.OUTBOX_REDELIVER_SECONDS),
        publications__lt=settings.OUTBOX_MAX_PUBLICATIONS,
    )
    return unpublished | undone


def relay(*, now: datetime | None = None, batch_size: int = RELAY_BATCH) -> int:
    """Publish every outbox row that is due (see the module docstring), a batch at a time; each
    batch is one transaction holding its rows (``SKIP LOCKED``), so another relay skips them.
    Stops when the broker fails. Returns how many were published."""
    now = now or timezone.now()
    total = 0
    while True:
        with transaction.atomic():
            rows = list(
                OutboxMessage.objects.select_for_update(skip_locked=True)
                .filter(_due(now))
                .order_by("created_at")[:batch_size]
            )
            if not rows:
                return total
            published = publish(rows)
            mark_published(published)
            if len(published) < len(rows):
                sent = set(published)
                failed = [row.pk for row in rows if row.pk not in sent]
                OutboxMessage.objects.filter(pk__in=failed).update(last_error="the broker could not be reached")
                return total + len(published)
        total += len(published)
        if len(rows) < batch_size:
            return total


def prune(*, now: datetime | None = None) -> int:
    """Delete rows published (and done, when they are done once) more than OUTBOX_RETENTION_DAYS ago."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.OUTBOX_RETENTION_DAYS)
    finished = Q(perform_once=False) | Q(done_at__isnull=False) | Q(publications__gte=settings.OUTBOX_MAX_PUBLICATIONS)
    deleted, _ = OutboxMessage.objects.filter(finished, published_at__lt=cutoff).delete()
    return deleted
