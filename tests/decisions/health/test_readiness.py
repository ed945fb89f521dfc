"""/healthz answers; /readyz says 503 when something needed to sign or escalate is down and 200
again when it is back, naming components, never secrets. Real components: the test database,
a redis-server this test starts and stops as the broker, the real sweep's heartbeat."""

import shutil
from datetime import timedelta

import pytest
from django.utils import timezone

from decisions.escalation import sweep
from decisions.models import Heartbeat, OutboxMessage
from portal.celery import app as celery_app
from tests.e2e.harness import RedisServer, free_port, reset_producer_pools
from tests.needs import missing

pytestmark = pytest.mark.django_db


@pytest.fixture
def redis_broker(tmp_path, monkeypatch):
    """A redis-server of this test's own, as the broker of this process, stopped at the end."""
    executable = shutil.which("redis-server")
    if executable is None:
        missing("needs the redis-server program")
    server = RedisServer(executable=executable, port=free_port(), directory=tmp_path)
    server.start()
    saved = celery_app.conf.broker_url
    monkeypatch.setenv("CELERY_BROKER_URL", server.url)  # Celery reads it before its configuration
    celery_app.conf.broker_url = server.url
    reset_producer_pools()
    try:
        yield server
    finally:
        celery_app.conf.broker_url = saved
        reset_producer_pools()
        server.stop()


@pytest.fixture
def swept():
    sweep.sweep_overdue()


def test_healthz_answers_without_touching_anything(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_is_ready_with_every_component_up(client, redis_broker, swept):
    response = client.get("/readyz")

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "ready"
    assert {"database", "broker", "cache", "escalation_sweep", "decision_log", "outbox"} <= set(body["checks"])
    assert body["checks"]["escalation_sweep"]["age_seconds"] < 5
    assert body["checks"]["outbox"] == {"ok": True, "present": True, "backlog": 0, "oldest_at": None}


def test_readyz_reports_the_outbox_backlog_and_its_oldest_row(client, redis_broker, swept):
    written = timezone.now() - timedelta(minutes=1)
    OutboxMessage.objects.create(task_name="decisions.tasks.relay_outbox", created_at=written)

    outbox = client.get("/readyz").json()["checks"]["outbox"]

    assert (outbox["backlog"], outbox["oldest_at"][:19]) == (1, written.isoformat()[:19])


@pytest.mark.redis
def test_readyz_turns_503_when_the_broker_stops_and_200_when_it_is_back(client, redis_broker, swept):
    assert client.get("/readyz").status_code == 200

    redis_broker.stop()
    down = client.get("/readyz")

    assert down.status_code == 503
    assert down.json()["status"] == "unavailable"
    assert down.json()["checks"]["broker"]["ok"] is False
    assert str(redis_broker.port) not in down.content.decode()  # no address, no credentials

    redis_broker.start()
    reset_producer_pools()

    assert client.get("/readyz").status_code == 200


def test_readyz_turns_503_when_the_sweep_stops_and_200_when_it_runs(client, settings, redis_broker):
    settings.ESCALATION_SWEEP_SECONDS = 5
    Heartbeat.objects.create(name=Heartbeat.SWEEP, at=timezone.now() - timedelta(seconds=16))

    stalled = client.get("/readyz")

    assert stalled.status_code == 503
    assert stalled.json()["checks"]["escalation_sweep"]["ok"] is False
    assert stalled.json()["checks"]["escalation_sweep"]["age_seconds"] >= 16

    sweep.sweep_overdue()

    assert client.get("/readyz").status_code == 200


def test_readyz_is_unready_before_any_sweep_ran(client, redis_broker):
    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["checks"]["escalation_sweep"]["last_sweep_at"] is None


def test_readyz_reveals_no_secrets(client, settings, redis_broker, swept):
    body = client.get("/readyz").content.decode()

    assert settings.SECRET_KEY not in body
    assert "redis://" not in body
    assert settings.DATABASES["default"]["NAME"] not in body
