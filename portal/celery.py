"""The Celery application: configured from Django settings (CELERY_* names)."""

import contextlib
import os
import sqlite3
import time
from urllib.parse import urlsplit

from celery import Celery
from kombu import Connection
from kombu.transport import sqlalchemy as kombu_sqlalchemy

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings.local")

app = Celery("countersign")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def embedded_broker_file(broker_url: str) -> str | None:
    """The SQLite file of an ``sqla+sqlite:///…`` broker URL, else None."""
    for prefix in ("sqla+", "sqlalchemy+"):
        if broker_url.startswith(prefix):
            parts = urlsplit(broker_url.removeprefix(prefix))
            if parts.scheme.startswith("sqlite") and parts.path not in {"", "/", "/:memory:"}:
                return parts.path[1:]  # sqlite:///relative or sqlite:////absolute
    return None


# kombu's virtual transports sleep this long whenever a poll finds nothing to take, and a worker
# whose prefetch slots are all busy finds nothing: at the default 1 s, each slot takes about one
# message a second and everything queues behind. The option cannot go through
# CELERY_BROKER_TRANSPORT_OPTIONS (the SQLAlchemy transport hands those to create_engine()).
EMBEDDED_BROKER_POLL_SECONDS = 0.1
kombu_sqlalchemy.Transport.polling_interval = EMBEDDED_BROKER_POLL_SECONDS


@app.on_after_configure.connect
def _prepare_embedded_broker(sender: Celery, **kwargs: object) -> None:
    """Put the embedded broker's SQLite file in WAL mode (kept in the file), so that the worker
    polling its queues never blocks the web process publishing, nor the reverse; and declare the
    queues before anyone uses them. kombu's SQLAlchemy transport creates a queue's row on first
    use and recovers only from an OperationalError: when web, worker and beat start together on a
    new file, the loser of that race gets an IntegrityError and its session stays unusable (beat
    then fails every publish). Here the loser simply finds the row on its next attempt."""
    url = str(sender.conf.broker_url or "")
    path = embedded_broker_file(url)
    if path is None:
        return
    with contextlib.closing(sqlite3.connect(path, timeout=20)) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
    from sqlalchemy.exc import IntegrityError

    for attempt in range(5):
        try:
            with Connection(url, transport_options=dict(sender.conf.broker_transport_options or {})) as connection:
                channel = connection.default_channel
                for queue in sender.conf.task_queues or ():
                    queue.bind(channel).declare()
            return
        except IntegrityError:
            time.sleep(0.05 * (attempt + 1))


def prune_embedded_broker(broker_url: str) -> int:
    """Delete the messages the embedded broker has delivered; returns how many. kombu's SQLAlchemy
    transport only marks a delivered message invisible and never deletes it, so the file grows
    with every task. Deleting them is always safe: a worker holds what it has not acknowledged in
    its own memory and puts it back as a new row when it stops. Nothing to do for other brokers."""
    path = embedded_broker_file(broker_url)
    if path is None or not os.path.exists(path):
        return 0
    with contextlib.closing(sqlite3.connect(path, timeout=20)) as conn, conn:
        try:
            return conn.execute("DELETE FROM kombu_message WHERE visible = 0").rowcount
        except sqlite3.OperationalError:  # no such table yet: nothing was ever queued
            return 0
