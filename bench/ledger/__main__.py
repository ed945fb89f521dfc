"""bench/ledger: the record at a million events on PostgreSQL.

    .venv/bin/python -m bench.ledger [--decisions 170000] [--new 1000] [--runs 3] [--reuse-witness FILE]

A fresh PostgreSQL database (BENCH_DATABASE_URL; its name must contain "bench"), migrated, the
demo SOC, and ``seed_history`` writing --decisions closed decisions (about six events each: the
default gives about 1,000,000 events); then, in the same run:
  sequence     every event into the log's tree (leaves and tiles), timed once
  checkpoint   sign the first checkpoint, timed once
  full         verify_decision_log --full: every event re-hashed, every checkpoint, every decision
  baseline     a plain SELECT count(*) of the log (min / median / max of --runs)
  incremental  after --new more events (real submissions through the intake service) and a new
               checkpoint: verification from the last proven checkpoint (--runs times: each run
               starts from the same proven state, the sample of older leaves included)
  evidence     GET /decisions/review/evidence/ as a governance lead, end to end (--runs times)
Targets: incremental under 1 s, evidence pack under 2 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

from bench.common import bench_env, fresh_demo_database, manage

INCREMENTAL_TARGET = 1.0
EVIDENCE_TARGET = 2.0
PLAIN_STATIC = "django.contrib.staticfiles.storage.StaticFilesStorage"


def configure(env: dict[str, str]) -> None:
    os.environ.update(env)
    import django

    django.setup()


def once(name: str, fn: Callable[[], object]) -> tuple[object, float]:
    started = time.perf_counter()
    result = fn()
    took = time.perf_counter() - started
    print(f"{name:<12} {took * 1000:10.1f} ms")
    return result, took


def repeated(name: str, fn: Callable[[], object], runs: int, extra: str = "") -> float:
    fn()  # warm-up: connection, plans, caches
    took = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        took.append(time.perf_counter() - started)
    ms = [t * 1000 for t in took]
    print(
        f"{name:<12} n={runs}  min {min(ms):8.1f} ms  median {statistics.median(ms):8.1f} ms  "
        f"max {max(ms):8.1f} ms{extra}"
    )
    return statistics.median(took)


def submit_new(count: int) -> None:
    """``count`` new events, as intake writes them (each submission logs three to five)."""
    from decisions import integrations
    from decisions.api.serializers import DecisionSubmitSerializer
    from decisions.lifecycle import intake
    from decisions.models import DecisionEvent
    from governance.models import ActionType

    action_type = ActionType.objects.get(slug="isolate-host")
    integration = integrations.integration_create(
        actor=None,
        name=f"bench-ledger-{time.time_ns()}",
        team_contact="bench",
        allowed_action_types=[action_type],
        rate_limit_per_minute=10**6,
        max_pending=10**6,
    )
    target = DecisionEvent.objects.count() + count
    i = 0
    while DecisionEvent.objects.count() < target:
        body = {
            "action_type": action_type.slug,
            "title": f"Bench {i}",
            "recommendation": "Isolate the host.",
            "target": {"host": f"h{i}"},
            "ai_confidence": 0.9,
            "blast_radius": "medium",
            "severity": "high",
            "model": {"name": "bench", "version": "1"},
        }
        serializer = DecisionSubmitSerializer(data=body)
        serializer.is_valid(raise_exception=True)
        intake.decision_submit(
            integration=integration,
            actor=integration.service_account,
            data=serializer.to_service_data(),
            request_fingerprint=str(i),
        )
        i += 1


def evidence_request() -> Callable[[], object]:
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.urls import reverse

    from governance import rbac

    lead = get_user_model().objects.filter(groups__name=rbac.GOVERNANCE_LEAD, is_active=True).first()
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(lead)
    url = reverse("decisions:review-evidence")

    def run() -> object:
        response = client.get(url)
        if response.status_code != 200:
            raise RuntimeError(f"GET {url} answered {response.status_code}")
        return response

    return run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--decisions", type=int, default=170_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--new", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--reuse-witness",
        type=Path,
        help="skip seed, sequence and full verification: measure the rest on the database an earlier run "
        "left (migrated first), with that run's witness file",
    )
    args = parser.parse_args()

    os.environ.setdefault("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/countersign_bench_ledger")
    if args.reuse_witness:
        database_url = os.environ["BENCH_DATABASE_URL"]
        env = bench_env(database_url, LEDGER_WITNESS_FILE=str(args.reuse_witness))
        manage(env, "migrate", "--noinput")
    else:
        witness = Path(tempfile.mkdtemp(prefix="countersign-bench-ledger-")) / "checkpoints.jsonl"
        print(f"witness: {witness} (for --reuse-witness)")
        database_url, env = fresh_demo_database(LEDGER_WITNESS_FILE=str(witness))
    configure(env)

    from django.conf import settings
    from django.db import connection
    from django.test.utils import override_settings
    from django.utils import timezone

    from decisions.ledger.checkpoints import checkpoint_now
    from decisions.ledger.sequencer import sequence_pending
    from decisions.ledger.verification import verify_ledger
    from decisions.models import DecisionEvent, LedgerVerification
    from decisions.seeding.history import seed_history

    if args.reuse_witness:
        print(f"ledger benchmark on the log an earlier run left: {database_url}")
    else:
        print(f"ledger benchmark: {args.decisions:,} decisions over {args.days} days, {database_url}")
        summary, seeded = once(
            "seed",
            lambda: seed_history(decisions=args.decisions, days=args.days, seed=0, now=timezone.now()),
        )
        print(f"             {summary['events']:,} events written")  # type: ignore[index]
        once("sequence", sequence_pending)
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
        once("checkpoint", checkpoint_now)
        full, _ = once("full", lambda: verify_ledger(full=True))
        assert full.intact, full.problems[:5]  # type: ignore[attr-defined]
    events = DecisionEvent.objects.count()
    print(f"             {events:,} events in the log" + ("" if args.reuse_witness else ", all verified"))

    def count() -> object:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT count(*) FROM {DecisionEvent._meta.db_table}")  # noqa: S608
            return cursor.fetchone()

    baseline = repeated("baseline", count, args.runs)
    submit_new(args.new)
    once("checkpoint+", checkpoint_now)
    proven = LedgerVerification.objects.filter(intact=True).order_by("-started_at").first()

    def incremental() -> object:
        verification = verify_ledger(record=False)
        assert verification.intact, verification.problems[:5]
        return verification

    checked = verify_ledger(record=False)
    increment = repeated(
        "incremental",
        incremental,
        args.runs,
        f"  ({checked.events_checked:,} events re-hashed from leaf {checked.from_size:,}; "
        f"proven {proven.checkpoint_size:,})",
    )
    warnings.filterwarnings("ignore", message="No directory at")
    with override_settings(STORAGES={**settings.STORAGES, "staticfiles": {"BACKEND": PLAIN_STATIC}}):
        evidence = repeated("evidence", evidence_request(), args.runs)
    print(
        f"incremental / baseline {increment / baseline:.1f}x; evidence / baseline {evidence / baseline:.1f}x "
        f"(baseline: SELECT count(*) of {events:,} events)"
    )
    ok = increment < INCREMENTAL_TARGET and evidence < EVIDENCE_TARGET
    print(
        f"incremental {increment:.3f} s (target < {INCREMENTAL_TARGET} s), evidence pack {evidence:.3f} s "
        f"(target < {EVIDENCE_TARGET} s): " + ("targets met" if ok else "TARGETS MISSED")
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
