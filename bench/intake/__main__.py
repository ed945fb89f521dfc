"""bench/intake: decision submissions through the real HTTP stack (gunicorn, PostgreSQL).

    .venv/bin/python -m bench.intake [--total 2000] [--concurrency 8] [--workers 4]

Measures, in the same run and against the same server, a minimal DRF endpoint that inserts
one row of the same size (the baseline), the same endpoint behind the API's key
authentication and throttle, and POST /api/v1/decisions/ with one integration key.
Prints throughput and p50/p99 latency for both, the ratio, and whether the targets hold:
intake p50 at most 2x the baseline's, and at least 20 submissions/s for a single key.
"""

from __future__ import annotations

import argparse
import sys

from bench.common import Server, fresh_demo_database, manage, run_load

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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--total", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()

    database_url, env = fresh_demo_database()
    manage(env, "shell", "-c", "from django.core.cache import cache; cache.clear()")
    key = create_key(env)
    print(f"intake benchmark: {args.total} submissions, concurrency {args.concurrency}, gunicorn x{args.workers}")
    print(f"database {database_url}; cache {env['CACHE_URL']}")

    with Server(env, port=args.port, workers=args.workers):
        common = {"port": args.port, "concurrency": args.concurrency}
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
    print(baseline.line())
    print(baseline_auth.line())
    print(intake.line())
    ratio = intake.p50 / baseline.p50
    print(f"intake/baseline p50 ratio: {ratio:.2f} (target <= 2.00)")
    print(f"intake/(baseline + API key) p50 ratio: {intake.p50 / baseline_auth.p50:.2f}")
    print(f"intake throughput for one key: {intake.throughput:.1f}/s (target >= 20)")
    verified = manage(env, "verify_decision_log").strip()
    print(verified)
    ok = ratio <= 2.0 and intake.throughput >= 20 and set(intake.statuses) == {201}
    print("targets met" if ok else "TARGETS MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
