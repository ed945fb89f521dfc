"""bench/longpoll: intake and sign-off latency with and without 200 long-poll waiters (gunicorn
gthread workers, PostgreSQL).

    .venv/bin/python -m bench.longpoll [--waiters 200] [--total 600] [--signoffs 200] [--workers 4] [--threads 64]

Three phases against the same server, one after the other, each with the same intake load (POST
/api/v1/decisions/) and the same sign-off load (POST …/signoffs/ with personal tokens, each on a
decision of its own): with nobody waiting, then while ``--waiters`` clients hold ``GET
/api/v1/decisions/{id}/?wait=N`` on the very decisions the sign-off load signs (they arrive spread
over one wait and ask again whenever a wait ends pending), then with nobody waiting again. The
baseline is the two quiet phases together (a shared machine's drift evens out). Prints each
load's p50/p99 and the ratios (with waiters / without), how many waits the server held, how long
a waiter took to hear of its verdict after the sign-off's answer, and how many PostgreSQL
connections the server held while everyone waited.
Targets: intake and sign-off p50 within 1.5x and p99 within 2x of the baseline; every waiter
hears its verdict within 2 s; fewer connections than waiters.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time

from bench.common import PYTHON, LoadResult, Server, api_call, bench_env, manage, recreate_database, run_load
from bench.intake.__main__ import submission as demo_submission

DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/countersign_bench_longpoll"
SIGNERS = 6  # a person's rate limit is 600 requests a minute: the sign-off load is shared out
APPROVE = {"verdict": "approve", "reason_code": "evidence_sufficient", "rationale": "Bench: evidence checked."}

SCENARIO = """
import json
from datetime import timedelta
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone
from decisions import integrations
from governance import models as g, rbac
from datetime import date, time as dtime
now = timezone.now()
role = g.DecisionRole.objects.create(slug="bench-owner", name="Bench owner")
tokens = []
for n in range(%(signers)d):
    user = get_user_model().objects.create(username=f"bench-signer-{n}", email=f"s{n}@example.com")
    user.groups.add(Group.objects.get(name=rbac.ANALYST))
    roster = g.Roster.objects.create(name=f"bench {n}", role=role, rotation_days=7, handoff_time=dtime(9),
                                     rotation_start=date(2026, 1, 5))
    g.RosterMember.objects.create(roster=roster, user=user, position=0)
    g.Certification.objects.create(user=user, role=role, valid_from=now - timedelta(days=1),
                                   valid_until=now + timedelta(days=30))
    tokens.append(integrations.personal_token_create(user=user, name="bench", expires_at=now + timedelta(days=1)).plain)
action_type = g.ActionType.objects.create(slug="bench-isolate", name="Bench isolate")
g.OwnershipAssignment.objects.create(action_type=action_type, owner_role=role, effective_from=now - timedelta(days=1))
chain = g.EscalationChain.objects.create(name="bench chain")
g.EscalationStep.objects.create(chain=chain, position=0, role=role, wait_seconds=86400)
policy = g.ApprovalPolicy.objects.create(name="bench", priority=0, required_approvals=1, time_to_act_seconds=86400,
                                         escalation_chain=chain)
policy.action_types.set([action_type])
integration = integrations.integration_create(actor=None, name="bench", team_contact="bench",
    allowed_action_types=[action_type], rate_limit_per_minute=10**7, max_pending=10**7)
key = integrations.integration_key_create(integration=integration, name="bench").plain
print(json.dumps({"key": key, "tokens": tokens}))
"""


def submission(i: int) -> dict:
    return {**demo_submission(i), "action_type": "bench-isolate"}


def call(port: int, method: str, path: str, auth: str, body: dict | None = None, timeout: float = 90):
    status, raw, retry_after = api_call(port, method, path, auth, body, timeout=timeout)
    return status, json.loads(raw or b"{}"), retry_after


def pending_decisions(port: int, key: str, count: int, prefix: str) -> list[str]:
    ids = []
    for i in range(count):
        status, body, _ = call(
            port, "POST", "/api/v1/decisions/", f"Api-Key {key}", submission(10_000 + len(prefix) * 100_000 + i)
        )
        if status != 201 or body["status"] != "pending":
            raise SystemExit(f"a bench decision was not routed to the bench signers: {status} {body}")
        ids.append(body["id"])
    return ids


class Waiters:
    """``count`` clients long-polling one decision each until it is not pending (or ``stop``)."""

    def __init__(self, port: int, key: str, ids: list[str], wait: int) -> None:
        self.port, self.key, self.ids, self.wait = port, key, ids, wait
        self.heard: dict[str, float] = {}
        self.polls = 0
        self.refused = 0
        self.errors = 0
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.run, args=(i,), daemon=True) for i in ids]

    def run(self, decision_id: str) -> None:
        while not self.stop.is_set():
            try:
                status, body, retry = call(
                    self.port, "GET", f"/api/v1/decisions/{decision_id}/?wait={self.wait}", f"Api-Key {self.key}"
                )
            except OSError:
                with self.lock:
                    self.errors += 1
                time.sleep(1)
                continue
            with self.lock:
                self.polls += 1
                self.refused += retry is not None
            if status == 200 and body["status"] != "pending":
                self.heard[decision_id] = time.perf_counter()
                return
            if status != 200:
                with self.lock:
                    self.errors += 1
            if retry:
                time.sleep(float(retry))

    def start(self, over: float) -> None:
        """Start the waiters spread over ``over`` seconds (they arrive over time, not at one instant)."""
        for t in self.threads:
            t.start()
            time.sleep(over / len(self.threads))

    def join(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for t in self.threads:
            t.join(max(0.0, deadline - time.monotonic()))
        self.stop.set()


def sign_load(port: int, ids: list[str], tokens: list[str], concurrency: int, name: str):
    """Sign each decision once (tokens in turn); the load figures and when each sign-off answered."""
    answered: dict[str, float] = {}
    result = run_load(
        name=name,
        port=port,
        path="/bench/never",  # replaced per request below
        make_body=lambda i: APPROVE,
        headers=lambda i: {"Authorization": f"Bearer {tokens[i % len(tokens)]}"},
        total=len(ids),
        concurrency=concurrency,
        path_for=lambda i: f"/api/v1/decisions/{ids[i]}/signoffs/",
        on_answer=lambda i: answered.__setitem__(ids[i], time.perf_counter()),
    )
    return result, answered


def merged(name: str, *results: LoadResult) -> LoadResult:
    statuses: dict[int, int] = {}
    for result in results:
        for status, count in result.statuses.items():
            statuses[status] = statuses.get(status, 0) + count
    return LoadResult(
        name=name,
        latencies=[latency for result in results for latency in result.latencies],
        statuses=statuses,
        elapsed=sum(result.elapsed for result in results),
    )


def server_connections(env: dict[str, str]) -> int:
    script = (
        "from django.db import connection\n"
        "with connection.cursor() as c:\n"
        "    c.execute('SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND pid <> pg_backend_pid()')\n"
        "    print(c.fetchone()[0])"
    )
    return int(manage(env, "shell", "-c", script).strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--waiters", type=int, default=200)
    parser.add_argument("--total", type=int, default=600, help="submissions per phase")
    parser.add_argument("--signoffs", type=int, default=200, help="sign-offs per phase (at least --waiters)")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=64)
    parser.add_argument("--wait", type=int, default=60, help="each long-poll's ?wait= (the client asks for 60)")
    parser.add_argument("--port", type=int, default=8775)
    args = parser.parse_args()
    signoffs = max(args.signoffs, args.waiters)

    database_url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB)
    recreate_database(database_url)
    # One connection per request: 4 x 64 threads each keeping a persistent connection would
    # exceed PostgreSQL's max_connections (README, "Deploying at scale").
    env = bench_env(database_url, CONN_MAX_AGE="0", LONGPOLL_MAX_WAITERS=str(args.threads - 8))
    manage(env, "migrate", "--noinput")
    manage(env, "seed_demo")
    manage(env, "shell", "-c", "from django.core.cache import cache; cache.clear()")
    credentials = json.loads(manage(env, "shell", "-c", SCENARIO % {"signers": SIGNERS}).strip().splitlines()[-1])
    key, tokens = credentials["key"], credentials["tokens"]
    print(
        f"long-poll benchmark: {args.waiters} waiters (?wait={args.wait}), {args.total} submissions and "
        f"{signoffs} sign-offs per phase, concurrency {args.concurrency}, "
        f"gunicorn {args.workers} gthread workers x {args.threads} threads; {sys.version.split()[0]} {PYTHON}"
    )
    auth = {"Authorization": f"Api-Key {key}"}

    with Server(env, port=args.port, workers=args.workers, threads=args.threads):
        common = {"port": args.port, "concurrency": args.concurrency, "path": "/api/v1/decisions/"}
        run_load(
            name="warm-up",
            make_body=submission,
            headers=lambda i: {**auth, "Idempotency-Key": f"warm-{i}"},
            total=100,
            **common,
        )
        quiet_ids = {phase: pending_decisions(args.port, key, signoffs, phase) for phase in ("before", "after")}
        busy_ids = pending_decisions(args.port, key, signoffs, "busy")

        def quiet(phase: str):
            intake = run_load(
                name=f"intake, no waiters ({phase})",
                make_body=submission,
                headers=lambda i: {**auth, "Idempotency-Key": f"quiet-{phase}-{i}"},
                total=args.total,
                **common,
            )
            sign, _ = sign_load(args.port, quiet_ids[phase], tokens, args.concurrency, f"sign-off, none ({phase})")
            return intake, sign

        quiet_before = quiet("before")

        waiters = Waiters(args.port, key, busy_ids[: args.waiters], args.wait)
        # The waiters arrive spread over one wait, as in a steady state: their asking again is
        # spread too (waiters / wait per second), not 200 at one instant.
        waiters.start(over=args.wait)
        time.sleep(2)  # the last waiter is holding its wait too
        held = waiters.polls
        connections = server_connections(env)
        intake_busy = run_load(
            name=f"intake, {args.waiters} waiters",
            make_body=submission,
            headers=lambda i: {**auth, "Idempotency-Key": f"busy-{i}"},
            total=args.total,
            **common,
        )
        sign_busy, answered = sign_load(
            args.port, busy_ids, tokens, args.concurrency, f"sign-off, {args.waiters} waiters"
        )
        waiters.join(timeout=args.wait + 10)
        quiet_after = quiet("after")  # the baseline is measured before and after: the machine's drift evens out

    intake_quiet = merged("intake, no waiters", quiet_before[0], quiet_after[0])
    sign_quiet = merged("sign-off, no waiters", quiet_before[1], quiet_after[1])
    lags = [waiters.heard[i] - answered[i] for i in waiters.ids if i in waiters.heard and i in answered]
    for result in (quiet_before[0], quiet_after[0], intake_quiet, intake_busy):
        print(result.line())
    for result in (quiet_before[1], quiet_after[1], sign_quiet, sign_busy):
        print(result.line())
    ratios = {
        "intake p50": intake_busy.p50 / intake_quiet.p50,
        "intake p99": intake_busy.percentile(99) / intake_quiet.percentile(99),
        "sign-off p50": sign_busy.p50 / sign_quiet.p50,
        "sign-off p99": sign_busy.percentile(99) / sign_quiet.percentile(99),
    }
    for name, ratio in ratios.items():
        target = 1.5 if "p50" in name else 2.0
        print(f"{name} with waiters / without: {ratio:.2f} (target <= {target:.2f})")
    heard = len(lags)
    print(
        f"waiters: {heard}/{len(waiters.ids)} heard their verdict; after the sign-off's answer: "
        f"p50 {statistics.median(lags) * 1000:.0f} ms, max {max(lags) * 1000:.0f} ms"
        if lags
        else "waiters: none heard a verdict"
    )
    print(
        f"long-polls: {waiters.polls} answered ({held} before the loads began: waits ended or refused), "
        f"{waiters.refused} refused at once (a process's share full), {waiters.errors} errors"
    )
    print(f"PostgreSQL connections while {args.waiters} waited (whole database, incl. listeners): {connections}")
    ok = (
        ratios["intake p50"] <= 1.5
        and ratios["sign-off p50"] <= 1.5
        and ratios["intake p99"] <= 2.0
        and ratios["sign-off p99"] <= 2.0
        and heard == len(waiters.ids)
        and (max(lags) if lags else 99) <= 2.0
        and connections < args.waiters
        and set(intake_busy.statuses) == {201}
        and set(sign_busy.statuses) == {201}
    )
    print("targets met" if ok else "TARGETS MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
