"""bench/review: the periodic review's figures over 100,000 decisions on PostgreSQL.

    .venv/bin/python -m bench.review [--decisions 100000] [--days 90] [--runs 5]

A fresh PostgreSQL database (BENCH_DATABASE_URL; its name must contain "bench"), migrated;
``seed_history`` writes the decisions (timed), then VACUUM ANALYZE (the state autovacuum leaves a
table in after a bulk load: statistics, and a visibility map for index-only scans). Then, in the same run and over the
same rows, each timed --runs times after a warm-up (min / median / max):
  baseline   a plain SELECT action_type_id, COUNT(*) ... GROUP BY action_type_id over the period
  figures    decisions.review.figures.review_figures over the whole period (all of it aggregated in SQL)
  dashboard  GET /decisions/review/ as a governance lead through Django's test client, end to end
             (only once decisions/review_views.py has a real implementation; skipped before)
Target: figures under 1 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from datetime import timedelta

from bench.common import fresh_demo_database

TARGET_SECONDS = 1.0
PLAIN_STATIC = "django.contrib.staticfiles.storage.StaticFilesStorage"


def configure(env: dict[str, str]) -> None:
    os.environ.update(env)
    import django

    django.setup()


def timed(fn: Callable[[], object], runs: int) -> list[float]:
    fn()  # warm-up: connection, caches, plans
    took = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        took.append(time.perf_counter() - started)
    return took


def line(name: str, took: list[float], extra: str = "") -> str:
    ms = [t * 1000 for t in took]
    return (
        f"{name:<11} n={len(ms)}  min {min(ms):8.1f} ms  median {statistics.median(ms):8.1f} ms  "
        f"max {max(ms):8.1f} ms{extra}"
    )


def baseline_query(period) -> Callable[[], object]:
    from django.db import connection

    from decisions.models import DecisionRequest

    sql = (
        f"SELECT action_type_id, COUNT(*) FROM {DecisionRequest._meta.db_table} "  # noqa: S608
        "WHERE created_at >= %s AND created_at < %s GROUP BY action_type_id"
    )

    def run() -> object:
        with connection.cursor() as cursor:
            cursor.execute(sql, [period.start, period.end])
            return cursor.fetchall()

    return run


def dashboard_request(days: int) -> tuple[Callable[[], object] | None, str]:
    """A function that GETs the dashboard as a governance lead, or None and why it is skipped."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    from governance import rbac

    lead = get_user_model().objects.filter(groups__name=rbac.GOVERNANCE_LEAD, is_active=True).first()
    if lead is None:
        return None, "no governance lead in the database"
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(lead)
    url = f"{reverse('decisions:review')}?days={days}"

    def run() -> object:
        response = client.get(url)
        if response.status_code != 200:
            raise RuntimeError(f"GET {url} answered {response.status_code}")
        return response

    try:
        with CaptureQueriesContext(connection) as queries:
            run()
    except Exception as exc:  # noqa: BLE001 - another part's failure must not hide the figures
        return None, f"the dashboard failed: {exc!r}"
    return run, f"{url}, {len(queries)} queries"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--decisions", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    database_url, env = fresh_demo_database()
    configure(env)

    from django.conf import settings
    from django.db import connection
    from django.test.utils import override_settings
    from django.utils import timezone

    from decisions.review.figures import Period, review_figures
    from decisions.seeding.history import seed_history

    now = timezone.now()
    print(f"review benchmark: {args.decisions:,} decisions over {args.days} days, {database_url}")
    started = time.perf_counter()
    summary = seed_history(decisions=args.decisions, days=args.days, seed=args.seed, now=now)
    seeded = time.perf_counter() - started
    print(
        f"seed_history {seeded:.1f} s: {summary['signoffs']:,} sign-offs, {summary['escalations']:,} escalations, "
        f"{summary['outcomes']:,} outcomes, {summary['events']:,} events"
    )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")

    period = Period(start=now - timedelta(days=args.days), end=now)
    figures = review_figures(period)
    assert figures["totals"]["total"] == args.decisions, figures["totals"]
    baseline = timed(baseline_query(period), args.runs)
    took = timed(lambda: review_figures(period), args.runs)
    ratio = statistics.median(took) / statistics.median(baseline)
    print(line("baseline", baseline))
    print(line("figures", took, f"  ({ratio:.1f}x the baseline)"))
    # In-process, without collectstatic: the plain storage instead of the manifest one.
    warnings.filterwarnings("ignore", message="No directory at")  # WhiteNoise: no STATIC_ROOT, as intended
    with override_settings(STORAGES={**settings.STORAGES, "staticfiles": {"BACKEND": PLAIN_STATIC}}):
        dashboard, note = dashboard_request(args.days)
        if dashboard is None:
            print(f"dashboard   skipped: {note}")
        else:
            print(line("dashboard", timed(dashboard, args.runs), f"  ({note})"))
    ok = statistics.median(took) < TARGET_SECONDS
    print(
        f"figures median {statistics.median(took):.3f} s: " + ("target met (< 1 s)" if ok else "TARGET MISSED (>= 1 s)")
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
