"""Two celery beats at once are safe: both send every periodic task (the sweep, the review
freeze, the record's sequencing and checkpoints) and two workers run them, yet every step
escalates once, every review period is frozen once, and the decision log still verifies.
Real processes on PostgreSQL and a redis-server of this test's own (so that nothing shared is
flushed)."""

import shutil
from datetime import timedelta

import pytest
import redis
from django.db.models import Count
from django.utils import timezone

from decisions.models import (
    DecisionEvent,
    DecisionRequest,
    Escalation,
    EventKind,
    LedgerCheckpoint,
    LedgerVerification,
    ReviewReport,
    ReviewSchedule,
)
from tests.decisions.factories import submit
from tests.e2e.harness import Broker, RedisServer, free_port, wait_until
from tests.governance.factories import make_staffed_action_type
from tests.helpers import force_update
from tests.needs import missing

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

DECISIONS = 40
SWEEP_SENDS = "Sending due task sweep-overdue-decisions"
FREEZE_SENDS = "Sending due task freeze-due-reviews"


@pytest.fixture
def broker(tmp_path):
    """This module's broker: a redis-server of its own (the e2e default shares one Redis)."""
    executable = shutil.which("redis-server")
    if executable is None:
        missing("needs the redis-server program")
    server = RedisServer(executable=executable, port=free_port(), directory=tmp_path)
    server.start()
    client = redis.Redis.from_url(server.url, socket_connect_timeout=2, socket_timeout=5)
    try:
        yield Broker(url=server.url, client=client)
    finally:
        client.close()
        server.stop()


def test_two_beats_and_two_workers_escalate_each_step_once_and_freeze_each_period_once(celery_processes):
    ReviewSchedule.objects.all().delete()
    schedule = ReviewSchedule.objects.create()  # weekly: last week's period is due
    action_type, _role, _signers = make_staffed_action_type()
    decisions = [submit(action_type) for _ in range(DECISIONS)]
    force_update(
        DecisionRequest.objects.filter(pk__in=[d.pk for d in decisions]),
        deadline=timezone.now() + timedelta(seconds=4),  # all due together, once everything runs
    )
    celery_processes.env.update(
        {
            "ESCALATION_DEADLINE_TASKS": "false",  # the sweep alone: both beats' sweeps race for every row
            "REVIEW_FREEZE_CHECK_SECONDS": "1",
            "LEDGER_SEQUENCE_SECONDS": "1",
            "LEDGER_CHECKPOINT_SECONDS": "1",
        }
    )
    processes = celery_processes.start_together("worker", "worker", "beat", "beat")
    beats = [p for p in processes if p.kind == "beat"]

    wait_until(
        lambda: Escalation.objects.filter(decision__in=decisions).values("decision").distinct().count() == DECISIONS,
        timeout=60,
        what="every decision to escalate",
    )
    wait_until(lambda: ReviewReport.objects.filter(schedule=schedule).exists(), timeout=30, what="the freeze")
    sends = [beat.output().count(SWEEP_SENDS) for beat in beats]
    wait_until(
        # At least three more each, and at least four in all (a beat that started late may have sent
        # none before the decisions had all escalated).
        lambda: all(beat.output().count(SWEEP_SENDS) >= max(n + 3, 4) for beat, n in zip(beats, sends, strict=True)),
        timeout=30,
        what="three more sweeps from each beat",
    )

    for beat in beats:  # both really were scheduling
        assert beat.output().count(SWEEP_SENDS) >= 4
        assert beat.output().count(FREEZE_SENDS) >= 3
    twice = Escalation.objects.values("decision", "from_step").annotate(n=Count("id")).filter(n__gt=1)
    assert list(twice) == []
    # Each move is one Escalation row and one event (escalated, or expired past the chain's end):
    # a step moved twice would show as more events than rows.
    moves = DecisionEvent.objects.filter(kind__in=[EventKind.ESCALATED, EventKind.EXPIRED], decision__in=decisions)
    assert moves.count() == Escalation.objects.filter(decision__in=decisions).count()
    reports = ReviewReport.objects.filter(schedule=schedule)
    assert reports.values("period_start").annotate(n=Count("id")).filter(n__gt=1).count() == 0
    assert reports.count() >= 1
    assert LedgerCheckpoint.objects.exists()
    latest = LedgerVerification.objects.order_by("-started_at", "-id").first()
    assert latest is not None
    assert latest.intact, latest.problems
    workers_log = "".join(p.output() for p in processes if p.kind == "worker")
    assert "Traceback" not in workers_log, celery_processes.logs()
