"""bench/escalation: how late, and how reliably, deadlines escalate with one worker and beat.

    .venv/bin/python -m bench.escalation [--steady-rate 50] [--steady-seconds 120] [--burst 10000]
                                         [--topology single|double] [--mode tasks|sweep]

``--topology double``: two workers and two beats (both beats fire the sweep and the outbox
relay), one PostgreSQL and one Redis.

PostgreSQL and Redis (BENCH_DATABASE_URL, BENCH_BROKER_URL). Two loads, each run twice: with
the per-deadline tasks (the fast path) and with the sweep alone (ESCALATION_DEADLINE_TASKS=0):
  steady  decisions whose deadlines fall at --steady-rate per second for --steady-seconds;
  burst   --burst pending decisions whose deadlines all fall in the same second.
For each: lateness p50/p99/max (escalation instant minus deadline), duplicates (more than one
escalation of a step), missed (still at its first step well after its deadline); for the burst
also the time to clear it and escalations per second.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path
from tempfile import TemporaryDirectory

from bench.common import DEFAULT_DB, TOPOLOGIES, bench_env, celery, manage, recreate_database

SWEEP_SECONDS = 5.0
FIRST_WAIT = 2  # seconds from creation to the first deadline in the steady load


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def configure(env: dict[str, str]) -> None:
    os.environ.update(env)
    import django

    django.setup()


def scenario():
    """An owned action type with one on-call certified signer, a chain to a second role whose
    wait is long (one escalation per decision), and a policy giving the first wait."""
    from datetime import date
    from datetime import time as dtime

    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from decisions import integrations
    from decisions.models import Integration
    from governance import models as g

    User = get_user_model()
    now = timezone.now()
    roles = []
    for slug in ("bench-owner", "bench-next"):
        role, _ = g.DecisionRole.objects.get_or_create(slug=slug, defaults={"name": slug})
        user, _ = User.objects.get_or_create(username=f"{slug}-signer")
        roster, _ = g.Roster.objects.get_or_create(
            name=f"{slug} roster",
            defaults={"role": role, "rotation_days": 7, "handoff_time": dtime(9), "rotation_start": date(2026, 1, 5)},
        )
        g.RosterMember.objects.get_or_create(roster=roster, user=user, defaults={"position": 0})
        g.Certification.objects.get_or_create(
            user=user,
            role=role,
            defaults={"valid_from": now - timedelta(days=1), "valid_until": now + timedelta(days=30)},
        )
        roles.append(role)
    action_type, _ = g.ActionType.objects.get_or_create(slug="bench-isolate", defaults={"name": "Bench isolate"})
    g.OwnershipAssignment.objects.get_or_create(
        action_type=action_type, defaults={"owner_role": roles[0], "effective_from": now - timedelta(days=1)}
    )
    chain, created = g.EscalationChain.objects.get_or_create(name="bench chain")
    if created:
        g.EscalationStep.objects.create(chain=chain, position=0, role=roles[1], wait_seconds=86400)
    policy, _ = g.ApprovalPolicy.objects.get_or_create(
        name="bench policy", defaults={"priority": 1, "escalation_chain": chain, "time_to_act_seconds": FIRST_WAIT}
    )
    policy.action_types.set([action_type])
    integration = Integration.objects.filter(name="bench").first() or integrations.integration_create(
        actor=None,
        name="bench",
        team_contact="bench",
        allowed_action_types=[action_type],
        rate_limit_per_minute=10**6,
        max_pending=10**6,
    )
    return action_type, integration, policy


def submit(action_type, integration, i: int):
    from decimal import Decimal

    from decisions.lifecycle import intake

    data = {
        "action_type": action_type,
        "title": f"bench {i}",
        "recommendation": "isolate",
        "target": {"host": f"h{i}"},
        "ai_confidence": Decimal("0.900"),
        "blast_radius": 2,
        "severity": 3,
        "model_name": "bench",
    }
    return intake.decision_submit(
        integration=integration, actor=integration.service_account, data=data, request_fingerprint=str(i)
    )[0]


def reset() -> None:
    """Empty the decisions, their log and the record's tree (the benchmark database only: the
    record's triggers refuse this, so they are bypassed as the tables' owner can)."""
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(
            "TRUNCATE decisions_outboxmessage, decisions_escalation, decisions_decisionevent, decisions_signoff, "
            "decisions_outcome, decisions_decisionrequestuserobjectpermission, decisions_decisionrequest, "
            "decisions_ledgerpending, decisions_ledgerleaf, decisions_ledgernode, decisions_ledgercheckpoint, "
            "decisions_ledgerverification RESTART IDENTITY CASCADE"
        )
        cursor.execute("UPDATE decisions_ledgerhead SET size = 0, sequenced_at = NULL")


def flush_broker(url: str) -> None:
    import redis

    redis.Redis.from_url(url).flushdb()


def measure(*, expected: int, settle_until: float) -> dict:
    """Wait until every decision escalated (or the time is up), then read the figures."""
    from django.db.models import Count

    from decisions.models import DecisionRequest, Escalation, EventKind

    while time.time() < settle_until:
        if Escalation.objects.count() >= expected:
            break
        time.sleep(0.5)
    late = [ms / 1000 for ms in Escalation.objects.values_list("lateness_ms", flat=True)]
    dup_rows = (
        DecisionRequest.objects.annotate(n=Count("events", filter=models_q(EventKind.ESCALATED)))
        .filter(n__gt=1)
        .count()
    )
    missed = DecisionRequest.objects.filter(current_step=0, status="pending").count()
    ats = list(Escalation.objects.values_list("at", flat=True))
    return {"late": late, "duplicates": dup_rows, "missed": missed, "escalated": len(late), "ats": ats}


def models_q(kind):
    from django.db.models import Q

    return Q(events__kind=kind)


def report(name: str, figures: dict, extra: str = "") -> str:
    late = figures["late"] or [float("nan")]
    return (
        f"{name:<26} escalated {figures['escalated']:>6}  lateness p50 {statistics.median(late):6.2f} s  "
        f"p99 {percentile(late, 99):6.2f} s  max {max(late):6.2f} s  duplicates {figures['duplicates']}  "
        f"missed {figures['missed']}{extra}"
    )


def prepare(action_type, integration, policy, *, count: int, broker_url: str) -> None:
    """``count`` pending decisions at their first step, created while nothing can fall due
    (the policy's wait is a day for the time being), and an empty broker."""
    policy.time_to_act_seconds = 86400
    policy.save(update_fields=["time_to_act_seconds"])
    try:
        for i in range(count):
            submit(action_type, integration, i)
    finally:
        policy.time_to_act_seconds = FIRST_WAIT
        policy.save(update_fields=["time_to_act_seconds"])
    flush_broker(broker_url)  # the creation-time tasks point at day-long deadlines


def set_deadlines(*, first, per_second: float | None, with_tasks: bool) -> None:
    """Deadlines from ``first``: ``per_second`` of them each second, or all at ``first``; with
    the tasks, queue each decision's deadline task as routing would have."""
    from django.db import connection

    from decisions.models import DecisionRequest
    from decisions.tasks import escalate_when_due

    spacing = 1.0 / per_second if per_second else 0.0
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE decisions_decisionrequest d SET deadline = %s + (sub.rn - 1) * %s * interval '1 second' "
            "FROM (SELECT id, row_number() OVER (ORDER BY id) AS rn FROM decisions_decisionrequest "
            "WHERE status = 'pending' AND current_step = 0) sub WHERE d.id = sub.id",
            [first, spacing],
        )
    if with_tasks:
        for pk, token, deadline in DecisionRequest.objects.values_list("pk", "deadline_token", "deadline"):
            escalate_when_due.apply_async(args=(pk, 0, token), eta=deadline)


def steady(*, count: int, rate: int, with_tasks: bool) -> dict:
    from django.utils import timezone

    first = timezone.now() + timedelta(seconds=10)
    set_deadlines(first=first, per_second=rate, with_tasks=with_tasks)
    last = first.timestamp() + count / rate
    return measure(expected=count, settle_until=last + SWEEP_SECONDS * 6)


def burst(*, count: int, with_tasks: bool) -> dict:
    from django.utils import timezone

    deadline = timezone.now().replace(microsecond=0) + timedelta(seconds=3 + count // 2000)
    set_deadlines(first=deadline, per_second=None, with_tasks=with_tasks)
    figures = measure(expected=count, settle_until=deadline.timestamp() + 180)
    if figures["ats"]:
        cleared = (max(figures["ats"]) - deadline).total_seconds()
        figures["cleared"] = cleared
        figures["rate"] = figures["escalated"] / max(cleared, 1e-3)
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steady-rate", type=int, default=50)
    parser.add_argument("--steady-seconds", type=int, default=120)
    parser.add_argument("--burst", type=int, default=10_000)
    parser.add_argument("--only", choices=["steady", "burst"], default=None)
    parser.add_argument("--mode", choices=["tasks", "sweep"], default=None, help="one of the two modes only")
    parser.add_argument("--topology", choices=sorted(TOPOLOGIES), default="single")
    args = parser.parse_args()
    _servers, workers, beats = TOPOLOGIES[args.topology]

    database_url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB)
    broker_url = os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/14")
    recreate_database(database_url)
    base = bench_env(database_url, CELERY_BROKER_URL=broker_url, ESCALATION_SWEEP_SECONDS=str(SWEEP_SECONDS))
    manage(base, "migrate", "--noinput")
    # This process creates the decisions: it publishes their outbox rows before it flushes the broker.
    configure({**base, "OUTBOX_DISPATCH": "inline"})
    action_type, integration, policy = scenario()
    lines, ok = [], True
    shape = f"{workers} worker{'s' if workers > 1 else ''} + {beats} beat{'s' if beats > 1 else ''}"
    print(f"escalation benchmark: {shape}, sweep every {SWEEP_SECONDS:g} s, {database_url}, {broker_url}")
    modes = {None: (True, False), "tasks": (True,), "sweep": (False,)}[args.mode]
    for with_tasks in modes:
        mode = "tasks" if with_tasks else "sweep only"
        env = {**base, "ESCALATION_DEADLINE_TASKS": "1" if with_tasks else "0"}
        os.environ["ESCALATION_DEADLINE_TASKS"] = env["ESCALATION_DEADLINE_TASKS"]
        from django.conf import settings

        settings.ESCALATION_DEADLINE_TASKS = with_tasks
        bound = 2.0 if with_tasks else SWEEP_SECONDS + 2.0
        with TemporaryDirectory() as tmp:
            if args.only in (None, "steady"):
                reset()
                total = args.steady_rate * args.steady_seconds
                prepare(action_type, integration, policy, count=total, broker_url=broker_url)
                with celery(env, log_dir=Path(tmp), workers=workers, beats=beats):
                    figures = steady(count=total, rate=args.steady_rate, with_tasks=with_tasks)
                line = report(f"steady {args.steady_rate}/s, {mode}", figures)
                good = (
                    figures["duplicates"] == 0
                    and figures["missed"] == 0
                    and percentile(figures["late"] or [99], 99) <= bound
                )
                lines.append(line + ("" if good else "   <-- target missed"))
                ok &= good
                print(lines[-1], flush=True)
            if args.only in (None, "burst"):
                reset()
                prepare(action_type, integration, policy, count=args.burst, broker_url=broker_url)
                with celery(env, log_dir=Path(tmp), workers=workers, beats=beats):
                    figures = burst(count=args.burst, with_tasks=with_tasks)
                extra = f"  cleared in {figures.get('cleared', float('nan')):.1f} s = {figures.get('rate', 0):.0f}/s"
                good = figures["duplicates"] == 0 and figures["missed"] == 0 and figures.get("rate", 0) >= 200
                lines.append(
                    report(f"burst {args.burst}, {mode}", figures, extra) + ("" if good else "   <-- target missed")
                )
                ok &= good
                print(lines[-1], flush=True)
    print("targets met" if ok else "TARGETS MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
