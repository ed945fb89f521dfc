"""Waiting for a pending decision to close (the API's long-poll, ``GET …/?wait=N``) without a
database connection held while it waits.

On PostgreSQL, a trigger (migration 0025) sends ``NOTIFY countersign_decision_status, '<public
id>'`` when a decision's status changes; the notification is delivered on commit, so a woken
waiter reads the committed verdict. Each process keeps **one** listening connection (a daemon
thread, started on the first wait), and every waiter in the process is a ``threading.Event`` on
it. Notifications sent while the listener was disconnected are lost, so each (re)connection
wakes every waiter to re-read; and every waiter re-reads at least every ``RECHECK_SECONDS``
anyway (the safety net). Without a listener (SQLite, or PostgreSQL unreachable) a waiter
re-reads every ``POLL_SECONDS``. Between reads the waiting thread's own connection is closed.

A process holds at most ``settings.LONGPOLL_MAX_WAITERS`` waits at once: the threads beyond them
serve intake and sign-offs (``Waiters.admit`` says no, and the view answers at once).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import connection, connections

logger = logging.getLogger(__name__)

CHANNEL = "countersign_decision_status"
POLL_SECONDS = 1.0  # without a listener
RECHECK_SECONDS = 15.0  # with one: the safety net for a notification lost all the same
RECONNECT_SECONDS = 2.0
LISTEN_TICK_SECONDS = 5.0  # the listener checks its connection (and whether to stop) this often
MAX_WAIT_SECONDS = 60


def release_connection() -> None:
    """Close this thread's database connection (a waiting request holds none). Inside an atomic
    block (a test's transaction) it stays open: closing it would roll the block back."""
    if not connection.in_atomic_block:
        connection.close()


class Waiters:
    """This process's waiters, keyed by decision public id, and the one listener that wakes them."""

    def __init__(self, *, listen: bool = True) -> None:
        self._lock = threading.Lock()
        self._events: dict[uuid.UUID, set[threading.Event]] = {}
        self._count = 0
        self._listen = listen
        self._listener: threading.Thread | None = None
        self.listening = threading.Event()  # set while LISTEN is in force
        self._stopping = threading.Event()

    @property
    def count(self) -> int:
        return self._count

    @contextmanager
    def admit(self, public_id: uuid.UUID) -> Iterator[threading.Event | None]:
        """An event set when the decision may have changed; None when the process already
        holds its share of waits (``LONGPOLL_MAX_WAITERS``). Register *before* reading the
        status: a change committed after the read then still wakes the waiter."""
        event = threading.Event()
        with self._lock:
            if self._count >= settings.LONGPOLL_MAX_WAITERS:
                admitted = False
            else:
                admitted = True
                self._count += 1
                self._events.setdefault(public_id, set()).add(event)
        if not admitted:
            yield None
            return
        self._ensure_listener()
        try:
            yield event
        finally:
            with self._lock:
                self._count -= 1
                events = self._events.get(public_id)
                if events is not None:
                    events.discard(event)
                    if not events:
                        del self._events[public_id]

    def wake(self, public_id: uuid.UUID) -> None:
        with self._lock:
            events = list(self._events.get(public_id, ()))
        for event in events:
            event.set()

    def wake_all(self) -> None:
        with self._lock:
            events = [event for events in self._events.values() for event in events]
        for event in events:
            event.set()

    def recheck_after(self) -> float:
        return RECHECK_SECONDS if self.listening.is_set() else POLL_SECONDS

    def _ensure_listener(self) -> None:
        if not self._listen or connection.vendor != "postgresql":
            return
        with self._lock:
            if self._listener is not None and self._listener.is_alive():
                return
            self._listener = threading.Thread(target=self._listen_forever, name="countersign-longpoll", daemon=True)
            self._listener.start()

    def stop(self) -> None:
        """Stop the listener and close its connection (tests; a web process never stops it)."""
        self._stopping.set()
        listener = self._listener
        if listener is not None:
            listener.join(timeout=2 * LISTEN_TICK_SECONDS + 5)

    def _listen_forever(self) -> None:
        while not self._stopping.is_set():
            try:
                self._listen_once()
            except Exception:  # any failure: reconnect; waiters poll meanwhile
                logger.warning("long-poll listener lost its connection; reconnecting", exc_info=True)
            self.listening.clear()
            self.wake_all()
            self._stopping.wait(RECONNECT_SECONDS)

    def _listen_once(self) -> None:
        wrapper = connections["default"]
        raw = wrapper.get_new_connection(wrapper.get_connection_params())
        try:
            raw.autocommit = True
            raw.execute(f"LISTEN {CHANNEL}")
            self.listening.set()
            self.wake_all()  # whatever changed before LISTEN was missed: everyone re-reads
            while not self._stopping.is_set():
                for notification in raw.notifies(timeout=LISTEN_TICK_SECONDS):
                    try:
                        self.wake(uuid.UUID(notification.payload))
                    except ValueError:
                        continue
                raw.execute("SELECT 1")  # a connection that died quietly raises here
        finally:
            raw.close()


WAITERS = Waiters()


def wait_while_pending(
    *, public_id: uuid.UUID, seconds: float, is_pending: Callable[[], bool], waiters: Waiters | None = None
) -> bool:
    """Wait up to ``seconds`` for the decision to stop being pending (``is_pending`` reads it);
    False without waiting when this process holds its share of waits already. The calling
    thread's database connection is closed while it waits (``release_connection``)."""
    deadline = time.monotonic() + seconds
    waiters = waiters or WAITERS
    with waiters.admit(public_id) as event:
        if event is None:
            return False
        while is_pending():
            left = deadline - time.monotonic()
            if left <= 0:
                break
            release_connection()
            event.wait(min(left, waiters.recheck_after()))
            event.clear()
        release_connection()
    return True
