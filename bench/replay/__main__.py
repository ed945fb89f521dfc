"""bench/replay: the what-if replay of a draft approval policy over 100,000 past decisions on PostgreSQL.

    .venv/bin/python -m bench.replay [--decisions 100000] [--days 90] [--runs 5]

A fresh PostgreSQL database (BENCH_DATABASE_URL; its name must contain "bench"), migrated, with the
demo SOC; ``seed_history`` writes the decisions (timed), then VACUUM ANALYZE. A lead drafts a change
to "High blast radius: owner within 10 minutes" (two approvals, the incident commander co-signs,
five minutes to act). Then, in the same run and over the same rows, each timed --runs times after a
warm-up (min / median / max):
  baseline   a plain SELECT action_type_id, COUNT(*) ... GROUP BY action_type_id over the period
  summary    the replay's aggregates (one grouped query over every decision of the period, one
             snapshot read per policy version)
  replay     decisions.replay.report.replay: the aggregates and the first page of 50 decisions
  api        GET /api/v1/policy-drafts/{id}/replay/?days=N as the lead (Django's test client, in process)
It also checks that the replay changed no decision (a hash of the decision, sign-off and event rows).
Target: replay under 5 s.
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import sys
import time
import warnings
from datetime import timedelta

from bench.common import fresh_demo_database
from bench.review.__main__ import PLAIN_STATIC, baseline_query, configure, line, timed

TARGET_SECONDS = 5.0
DRAFTED = "High blast radius: owner within 10 minutes"


def table_hash() -> str:
    """A digest of every decision, sign-off and event row, in the database (md5 of the rows' text)."""
    from django.db import connection

    from decisions.models import DecisionEvent, DecisionRequest, SignOff

    digests = []
    with connection.cursor() as cursor:
        for model in (DecisionRequest, SignOff, DecisionEvent):
            table = model._meta.db_table
            cursor.execute(f"SELECT COUNT(*), md5(string_agg(t::text, '|' ORDER BY t.id)) FROM {table} t")  # noqa: S608
            digests.append(repr(cursor.fetchone()))
    return hashlib.sha256("".join(digests).encode()).hexdigest()


def make_draft():
    from django.contrib.auth import get_user_model

    from decisions.replay import services
    from governance import rbac
    from governance.models import ApprovalPolicy, DecisionRole

    lead = get_user_model().objects.filter(groups__name=rbac.GOVERNANCE_LEAD, is_active=True).first()
    policy = ApprovalPolicy.objects.get(name=DRAFTED)
    draft = services.policy_draft_from(actor=lead, policy=policy)
    draft.required_approvals = 2
    draft.time_to_act_seconds = 300
    return lead, services.policy_draft_save(
        actor=lead,
        draft=draft,
        action_types=list(draft.action_types.all()),
        cosigner_roles=[DecisionRole.objects.get(slug="incident-commander")],
    )


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
    from django.test import Client
    from django.test.utils import override_settings
    from django.utils import timezone

    from decisions.replay.report import replay, replay_summary
    from decisions.replay.rules import draft_with_rules, rule_set
    from decisions.review.figures import Period
    from decisions.seeding.history import seed_history

    now = timezone.now()
    print(f"replay benchmark: {args.decisions:,} decisions over {args.days} days, {database_url}")
    started = time.perf_counter()
    seeded = seed_history(decisions=args.decisions, days=args.days, seed=args.seed, now=now)
    took = time.perf_counter() - started
    print(f"seed_history {took:.1f} s: {seeded['signoffs']:,} sign-offs, {seeded['events']:,} events")
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")

    lead, draft = make_draft()
    period = Period(start=now - timedelta(days=args.days), end=now + timedelta(minutes=1))
    rules = rule_set(draft_with_rules(draft))
    before = table_hash()
    result = replay(draft, period)
    figures = result.summary
    assert figures["decisions"] == args.decisions, figures
    print(
        f"draft of “{DRAFTED}”: {figures['matched_by_draft']:,} decisions matched, {figures['changed']:,} change "
        f"requirement, {figures['extra_approvals']:+,} approvals, {figures['auto_over_rejection']:,} auto over a "
        f"rejection, expected extra time {figures['expected_extra_seconds']} s "
        f"({figures['expected_extra_seconds_per_decision']} s per decision)"
    )
    baseline = timed(baseline_query(period), args.runs)
    aggregates = timed(lambda: replay_summary(rules, period), args.runs)
    full = timed(lambda: replay(draft, period), args.runs)
    print(line("baseline", baseline))
    print(line("summary", aggregates, f"  ({statistics.median(aggregates) / statistics.median(baseline):.1f}x)"))
    print(line("replay", full, f"  ({statistics.median(full) / statistics.median(baseline):.1f}x the baseline)"))
    warnings.filterwarnings("ignore", message="No directory at")  # WhiteNoise: no STATIC_ROOT, as intended
    with override_settings(STORAGES={**settings.STORAGES, "staticfiles": {"BACKEND": PLAIN_STATIC}}):
        client = Client(HTTP_HOST="127.0.0.1")
        client.force_login(lead)
        url = f"/api/v1/policy-drafts/{draft.public_id}/replay/?days={args.days}"

        def api() -> object:
            response = client.get(url)
            if response.status_code != 200:
                raise RuntimeError(f"GET {url} answered {response.status_code}: {response.content[:300]!r}")
            return response

        statements: list[str] = []  # a request resets Django's query log: count them as they run

        def counted(execute, sql, *rest):
            statements.append(sql)
            return execute(sql, *rest)

        with connection.execute_wrapper(counted):
            api()
        print(line("api", timed(api, args.runs), f"  ({len(statements)} queries)"))
    unchanged = table_hash() == before
    print("decisions, sign-offs and events after the replays: " + ("unchanged" if unchanged else "CHANGED"))
    median = statistics.median(full)
    ok = median < TARGET_SECONDS and unchanged
    print(f"replay median {median:.3f} s: " + ("target met (< 5 s)" if ok else "TARGET MISSED (>= 5 s)"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
