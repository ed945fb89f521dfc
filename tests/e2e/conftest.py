"""Fixtures for the end-to-end tests: a real Celery worker and celery beat (subprocesses) on a
real Redis broker, against the test database pytest-django created.

The worker and beat see only committed rows, so every test here is transactional. This process
publishes its tasks for real too (``send_tasks``), instead of running them eagerly.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest
import redis

from portal.celery import app as celery_app
from tests.e2e.harness import (
    E2E_REDIS_DB,
    SWEEP_SECONDS,
    Broker,
    CeleryLauncher,
    CeleryProcess,
    Gunicorn,
    RedisServer,
    TaskSending,
    database_url,
    free_port,
    reset_producer_pools,
    with_db,
)
from tests.e2e.portal_world import World, make_world
from tests.needs import missing, redis_server_url
from tests.webhook_receiver import Receiver


@pytest.fixture
def broker() -> Iterator[Broker]:
    """The dedicated Redis database (index 9 on CELERY_BROKER_URL's server), empty."""
    url = with_db(redis_server_url(), E2E_REDIS_DB)
    client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)
    client.flushdb()
    yield Broker(url=url, client=client)
    client.flushdb()
    client.close()


@pytest.fixture
def send_tasks(broker, settings, monkeypatch) -> Iterator[TaskSending]:
    """Tasks this process publishes (the outbox, after commit) go to ``broker``, not run eagerly."""
    settings.ESCALATION_DEADLINE_TASKS = True
    monkeypatch.setenv("CELERY_BROKER_URL", broker.url)  # restored by monkeypatch afterwards
    conf = celery_app.conf
    saved = (conf.task_always_eager, conf.broker_url)
    conf.task_always_eager = False
    sending = TaskSending(url=broker.url)
    sending.use(broker.url)
    yield sending
    conf.task_always_eager, conf.broker_url = saved
    reset_producer_pools()


@pytest.fixture
def celery_processes(request, transactional_db, broker, tmp_path, settings) -> Iterator[CeleryLauncher]:
    """``celery_processes.start("worker" | "beat")``. Requests ``transactional_db`` so that every
    process is gone before pytest-django flushes the database."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "portal.settings.test",
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": broker.url,
        "ESCALATION_SWEEP_SECONDS": SWEEP_SECONDS,
        "ESCALATION_DEADLINE_TASKS": "true",
        "CONN_MAX_AGE": "0",
        # The relay runs every second and takes rows one second old; a delivery left undone is
        # published again after three (tests/e2e/test_outbox_with_celery.py).
        "OUTBOX_RELAY_SECONDS": "1",
        "OUTBOX_RELAY_AFTER_SECONDS": "1",
        "OUTBOX_REDELIVER_SECONDS": "3",
        "LOG_LEVEL": "INFO",
        "PYTHONUNBUFFERED": "1",
        # The test's own witness (tests/conftest.py), shared with the processes it starts.
        "LEDGER_WITNESS_FILE": settings.LEDGER_WITNESS_FILE,
    }
    launcher = CeleryLauncher(env=env, directory=tmp_path)
    yield launcher
    failed = getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed
    launcher.stop_all()
    if failed:
        print(launcher.logs())  # shown with the failure report


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.rep_call = report
    return report


@pytest.fixture
def worker_and_beat(celery_processes) -> list[CeleryProcess]:
    return celery_processes.start_together("worker", "beat")


@pytest.fixture
def spare_redis(tmp_path) -> Iterator[RedisServer]:
    """A separate redis-server on a free port, started; stopped at the end whatever happened."""
    executable = shutil.which("redis-server")
    if executable is None:
        missing("needs the redis-server program (apt-get install redis-server)")
    server = RedisServer(executable=executable, port=free_port(), directory=tmp_path)
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
def live_portal(celery_processes, tmp_path) -> Iterator[Gunicorn]:
    """A portal to talk HTTP to: gunicorn (gthread workers, as deployed) and a celery worker on
    the test database and the test broker. Stopped before the database is flushed."""
    celery_processes.start("worker")
    server = Gunicorn(env=celery_processes.env, log=tmp_path / "gunicorn.log")
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


@pytest.fixture
def world(live_portal, receiver) -> World:
    """The live portal with an action type, its on-call person and an integration (portal_world)."""
    return make_world(url=live_portal.url, receiver=receiver)
