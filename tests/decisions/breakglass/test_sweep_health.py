"""The break-glass review sweep keeps going and says it is alive: each row in a savepoint of its
own (one that fails in the database is logged with its id and skipped, the batch is kept), a
heartbeat per batch that /readyz reports, and its task on the sweep queue."""

import logging
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from decisions.breakglass import services, sweep
from decisions.models import BreakGlass, EventKind, Heartbeat

pytestmark = pytest.mark.django_db

REASON = "Active exfiltration; nobody else reachable."


def overdue(used, by: timedelta) -> None:
    past = timezone.now() - by
    BreakGlass.objects.filter(pk=used.pk).update(review_due_at=past, review_next_at=past)


def test_a_row_that_fails_is_logged_and_skipped_and_the_rest_of_the_batch_is_kept(glass, make_decision, caplog):
    other = make_decision(glass.caller.integration, glass.staffed.action_type)
    bad = services.decision_break_glass(decision=glass.decision, actor=glass.signers[0], reason=REASON)
    good = services.decision_break_glass(decision=other, actor=glass.signers[1], reason=REASON)
    overdue(bad, timedelta(minutes=2))  # claimed first
    overdue(good, timedelta(minutes=1))
    # Its next step does not fit the column: PostgreSQL refuses the write (and, without a
    # savepoint, the whole transaction with it).
    BreakGlass.objects.filter(pk=bad.pk).update(review_step=32767)

    with caplog.at_level(logging.ERROR, logger="decisions.breakglass.sweep"):
        assert sweep.sweep_overdue_reviews() == 1

    good.refresh_from_db()
    assert good.review_step == 1
    assert other.events.filter(kind=EventKind.BREAK_GLASS_ESCALATED).count() == 1
    bad.refresh_from_db()
    assert bad.review_step == 32767
    assert bad.review_next_at is not None  # still due: retried by the next run
    assert not glass.decision.events.filter(kind=EventKind.BREAK_GLASS_ESCALATED).exists()
    assert str(bad.public_id) in caplog.text
    assert sweep.sweep_overdue_reviews() == 0  # the good one is not due again; the bad one fails again


def test_each_run_writes_the_heartbeat_that_readyz_reports(client):
    assert not Heartbeat.objects.filter(name=Heartbeat.BREAK_GLASS_SWEEP).exists()
    assert client.get("/readyz").json()["checks"]["break_glass_sweep"]["last_sweep_at"] is None

    sweep.sweep_overdue_reviews()
    sweep.sweep_overdue_reviews()

    beat = Heartbeat.objects.get(name=Heartbeat.BREAK_GLASS_SWEEP)
    assert beat.beats == 2
    check = client.get("/readyz").json()["checks"]["break_glass_sweep"]
    assert check["ok"] is True
    assert check["age_seconds"] < 5
    assert check["stale_after_seconds"] == settings.BREAK_GLASS_SWEEP_SECONDS * 3

    Heartbeat.objects.filter(pk=beat.pk).update(at=timezone.now() - timedelta(hours=1))
    stalled = client.get("/readyz").json()
    assert stalled["checks"]["break_glass_sweep"]["ok"] is False
    assert stalled["checks"]["break_glass_sweep"]["age_seconds"] >= 3600


def test_the_review_sweep_runs_on_the_sweep_queue():
    assert settings.CELERY_TASK_ROUTES["decisions.tasks.sweep_break_glass_reviews"] == {"queue": "sweep"}
