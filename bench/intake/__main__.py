"""bench/intake: decision submissions through the real HTTP stack (gunicorn, PostgreSQL).

    .venv/bin/python -m bench.intake [--total 2000] [--concurrency 8] [--workers 4] [--topology single|double]

Measures, in the same run and against the same server, a minimal DRF endpoint that inserts
one row of the same size (the baseline), the same endpoint behind the API's key
authentication and throttle, and POST /api/v1/decisions/ with one integration key.
Prints throughput and p50/p99 latency of each and whether the targets hold: intake throughput
at least 0.5x the authenticated insert's, intake p99 at most 3x its p99, at least 20
submissions/s for a single key, every answer a 201.

``--topology double``: two gunicorn instances (``--workers`` shared between them, the load
alternating), two celery workers and two beats, one PostgreSQL and one Redis. The workers
deliver the outbox while the load runs; afterwards the run checks that every submission's
side effects went out once: no outbox row left unpublished (missed), none published twice or
notified twice (duplicates).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from tempfile import TemporaryDirectory

from bench.common import TOPOLOGIES, Server, celery, fresh_demo_database, manage, run_load

ACTION_TYPES = [
    "isolate-host",
    "disable-account",
    "block-ip",
    "quarantine-email",
    "reset-credentials",
    "revoke-leaked-secret",
    "preserve-evidence",
    "enrich-ticket",
]
LEVELS = ["low", "medium", "high", "critical"]


def submission(i: int) -> dict:
    return {
        "action_type": ACTION_TYPES[i % len(ACTION_TYPES)],
        "title": f"Contain suspicious activity #{i}",
        "recommendation": "Isolate the host from the network; EDR shows credential dumping and lateral movement.",
        "target": {"host": f"wks-{i:05d}.corp.example", "edr_id": f"edr-{i}"},
        "ai_confidence": round(0.5 + (i % 50) / 100, 3),
        "blast_radius": LEVELS[i % 3],
        "severity": LEVELS[(i // 3) % 4],
        "affects_regulated_data": False,
        "customer_impact": i % 10 == 0,
        "incident_ref": f"INC-{100000 + i}",
        "evidence": {"alerts": [f"alert-{i}-{k}" for k in range(5)], "process": "lsass.exe", "user": "svc-backup"},
        "model": {"name": "soc-triage", "version": "2026.11"},
    }


def create_key(env: dict[str, str]) -> str:
    script = (
        "from decisions import integrations; "
        "from governance.models import ActionType; "
        "i = integrations.integration_create(actor=None, name='bench', team_contact='bench', "
        "allowed_action_types=list(ActionType.objects.all()), rate_limit_per_minute=1000000, max_pending=1000000); "
        "print(integrations.integration_key_create(integration=i, name='bench')[1])"
    )
    return manage(env, "shell", "-c", script).strip().splitlines()[-1]


OUTBOX_FIGURES = """
import json
from collections import Counter
from django.db.models import Count, Q
from decisions import queueing
from decisions.models import DecisionEvent, DecisionRequest, EventKind, OutboxMessage
rows = OutboxMessage.objects.aggregate(
    total=Count("pk"), unpublished=Count("pk", filter=Q(published_at__isnull=True)),
    twice=Count("pk", filter=Q(publications__gt=1)),
    undone=Count("pk", filter=Q(perform_once=True, done_at__isnull=True)),
)
notify_rows = OutboxMessage.objects.filter(task_name=queueing.NOTIFY_ELIGIBLE)
sent = Counter(a[1] for a in notify_rows.values_list("args", flat=True))
told = Counter(DecisionEvent.objects.filter(kind__in=[EventKind.NOTIFIED, EventKind.NOTIFICATION_FAILED])
               .values_list("decision_id", flat=True))
rows["notified_twice"] = sum(max(0, n - sent[d]) for d, n in told.items())
rows["notified"] = sum(told.values())
rows["decisions"] = DecisionRequest.objects.count()
print(json.dumps(rows))
"""


def outbox_figures(env: dict[str, str]) -> dict:
    import json

    return json.loads(manage(env, "shell", "-c", OUTBOX_FIGURES).strip().splitlines()[-1])


def drained(env: dict[str, str], *, timeout: float = 120) -> dict:
    """Wait until the workers delivered every outbox row (or the time is up); the figures."""
    deadline = time.monotonic() + timeout
    while True:
        figures = outbox_figures(env)
        if (figures["unpublished"] == 0 and figures["undone"] == 0) or time.monotonic() > deadline:
            return figures
        time.sleep(2)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--total", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--topology", choices=sorted(TOPOLOGIES), default="single")
    args = parser.parse_args()
    servers, celery_workers, beats = TOPOLOGIES[args.topology]
    double = args.topology != "single"

    database_url, env = fresh_demo_database()
    manage(env, "shell", "-c", "from django.core.cache import cache; cache.clear()")
    key = create_key(env)
    per_server = max(1, args.workers // servers)
    ports = [args.port + n for n in range(servers)]
    shape = f"gunicorn {servers}x{per_server}" + (f", {celery_workers} workers, {beats} beats" if double else "")
    print(f"intake benchmark: {args.total} submissions, concurrency {args.concurrency}, {shape}")
    print(f"database {database_url}; cache {env['CACHE_URL']}; broker {env['CELERY_BROKER_URL']}")

    with ExitStack() as stack:
        if double:
            import redis

            redis.Redis.from_url(env["CELERY_BROKER_URL"]).flushdb()
            log_dir = Path(stack.enter_context(TemporaryDirectory()))
            stack.enter_context(celery(env, log_dir=log_dir, workers=celery_workers, beats=beats))
        for port in ports:
            stack.enter_context(Server(env, port=port, workers=per_server))
        common = {"port": ports, "concurrency": args.concurrency}
        run_load(
            name="warm-up", path="/bench/baseline/", make_body=submission, headers=lambda i: {}, total=100, **common
        )
        run_load(
            name="warm-up",
            path="/api/v1/decisions/",
            make_body=submission,
            headers=lambda i: {"Authorization": f"Api-Key {key}", "Idempotency-Key": f"warm-{i}"},
            total=100,
            **common,
        )
        baseline = run_load(
            name="baseline (1 insert)",
            path="/bench/baseline/",
            make_body=submission,
            headers=lambda i: {},
            total=args.total,
            **common,
        )
        baseline_auth = run_load(
            name="baseline + API key",
            path="/bench/baseline-auth/",
            make_body=submission,
            headers=lambda i: {"Authorization": f"Api-Key {key}"},
            total=args.total,
            **common,
        )
        intake = run_load(
            name="intake (1 key)",
            path="/api/v1/decisions/",
            make_body=submission,
            headers=lambda i: {"Authorization": f"Api-Key {key}", "Idempotency-Key": f"bench-{i}"},
            total=args.total,
            **common,
        )
        figures = drained(env) if double else None
    print(baseline.line())
    print(baseline_auth.line())
    print(intake.line())
    throughput_ratio = intake.throughput / baseline_auth.throughput
    p99_ratio = intake.percentile(99) / baseline_auth.percentile(99)
    print(f"intake/(baseline + API key) throughput: {throughput_ratio:.2f} (target >= 0.50)")
    print(f"intake/(baseline + API key) p99: {p99_ratio:.2f} (target <= 3.00)")
    print(f"intake/baseline p50 ratio: {intake.p50 / baseline.p50:.2f} (for comparison: no key, no throttle)")
    print(f"intake throughput for one key: {intake.throughput:.1f}/s (target >= 20)")
    ok = throughput_ratio >= 0.5 and p99_ratio <= 3.0 and intake.throughput >= 20 and set(intake.statuses) == {201}
    if figures is not None:
        expected = 100 + args.total
        missed = figures["unpublished"] + figures["undone"] + max(0, expected - figures["decisions"])
        duplicates = figures["notified_twice"]
        print(
            f"outbox: {figures['total']} rows for {figures['decisions']} decisions, {figures['notified']} "
            f"notifications; missed {missed} (unpublished {figures['unpublished']}, undone {figures['undone']}); "
            f"duplicates {duplicates} (notified more often than queued; rows the relay published a second "
            f"time, deduplicated by the tasks: {figures['twice']})"
        )
        ok &= missed == 0 and duplicates == 0
    verified = manage(env, "verify_decision_log").strip()
    print(verified)
    print("targets met" if ok else "TARGETS MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
