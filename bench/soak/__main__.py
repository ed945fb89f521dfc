"""bench/soak: the demo load on the embedded defaults for a long while; does anything stop or get lost?

    .venv/bin/python -m bench.soak [--minutes 30] [--rate 1.0] [--dir var/soak]

The embedded defaults, as ``make run`` has them: an SQLite database, kombu's SQLAlchemy broker
on an SQLite file, the processes of the Procfile (runserver, a threaded worker, beat), a fresh
directory for all of it. A scenario of its own: an owner role and a second role, one on-call
certified signer each, a wait of --wait seconds per step, chat webhooks and the verdict webhook
pointed at a receiver in this process. For --minutes, --rate submissions per second through the
API; of each, about half are approved by the owner within seconds, a fifth by the second role
after the escalation, the rest escalate twice and expire. Then the load stops and everything
drains. Figures:
  worker crashes   a process of the Procfile that exited (it is restarted and counted), and
                   CRITICAL / "Unrecoverable error" lines in the worker's log;
  lost tasks       messages the broker stored that no worker received, plus publishes the web
                   process, a task ("could not queue") or beat ("Couldn't apply") could not make;
  missed           decisions still pending after the drain; closed decisions whose verdict
                   webhook never arrived; notification events without their chat message;
  duplicates       the same webhook-id accepted twice, a step escalated twice;
and lateness of the escalations, API statuses, broker rows. Exit 1 when a crash, a lost task,
a miss or a duplicate was seen.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shlex
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from bench.common import ROOT, api_call

PORT = 8790
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


@dataclass
class Receiver:
    """Verdict webhooks and chat messages, counted by webhook-id and by text."""

    webhooks: Counter = field(default_factory=Counter)
    chats: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    def start(self) -> str:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                with receiver.lock:
                    if self.path.startswith("/hook"):
                        receiver.webhooks[self.headers.get("webhook-id", "")] += 1
                    else:
                        receiver.chats.append(body)
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.server.server_address[1]}"


def procfile() -> dict[str, str]:
    """The processes ``make run`` starts, from the Procfile itself."""
    entries = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_-]+):\s*(.+)$", line)
        if match:
            entries[match[1]] = match[2]
    return entries


@dataclass
class Supervised:
    """The Procfile's processes, each restarted (and counted) when it exits."""

    env: dict[str, str]
    directory: Path
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    exits: list[tuple[str, int]] = field(default_factory=list)

    def start(self, name: str) -> None:
        command = procfile()[name].replace("$PORT", str(PORT))
        log = open(self.directory / f"{name}.log", "a")  # noqa: SIM115 - kept open for the process
        self.processes[name] = subprocess.Popen(  # noqa: S603 - the project's own Procfile
            shlex.split(command), cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT
        )

    def check(self) -> None:
        for name, process in list(self.processes.items()):
            if process.poll() is not None:
                self.exits.append((name, process.returncode))
                print(f"  !! {name} exited with {process.returncode}; restarting it", flush=True)
                self.start(name)

    def stop(self, *, drained: Callable[[], bool]) -> None:
        """Beat first; the worker once the broker holds nothing more for it (at most 30 s)."""
        self.processes.pop("beat").terminate()
        deadline = time.monotonic() + 30
        while not drained() and time.monotonic() < deadline:
            time.sleep(0.5)
        for process in self.processes.values():
            process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


def wait_for_web() -> None:
    deadline = time.monotonic() + 60
    while request("GET", "/api/schema/", "")[0] != 200:
        if time.monotonic() > deadline:
            raise SystemExit("the web process did not answer within 60 s")
        time.sleep(0.5)
    time.sleep(3)  # the worker and beat connect


def configure(env: dict[str, str]) -> None:
    os.environ.update(env)
    import django

    django.setup()


def scenario(*, base_url: str, wait: int) -> dict[str, str]:
    """Two roles with one always-on-call certified signer each, a policy and a chain of ``wait``
    seconds per step, an integration whose verdicts go to the receiver; the credentials."""
    from datetime import date, timedelta
    from datetime import time as dtime

    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.utils import timezone

    from decisions import integrations
    from governance import models as g
    from governance import rbac

    user_model = get_user_model()
    now = timezone.now()
    credentials: dict[str, str] = {}
    roles = []
    for slug in ("soak-owner", "soak-next"):
        role = g.DecisionRole.objects.create(slug=slug, name=slug, chat_webhook_url=f"{base_url}/chat/{slug}")
        user = user_model.objects.create(username=f"{slug}-signer", email=f"{slug}@example.com")
        user.groups.add(Group.objects.get(name=rbac.ANALYST))
        roster = g.Roster.objects.create(
            name=f"{slug} roster", role=role, rotation_days=7, handoff_time=dtime(9), rotation_start=date(2026, 1, 5)
        )
        g.RosterMember.objects.create(roster=roster, user=user, position=0)
        g.Certification.objects.create(
            user=user, role=role, valid_from=now - timedelta(days=1), valid_until=now + timedelta(days=30)
        )
        credentials[slug] = integrations.personal_token_create(
            user=user, name="soak", expires_at=now + timedelta(days=1)
        ).plain
        roles.append(role)
    action_type = g.ActionType.objects.create(slug="soak-isolate", name="Soak isolate")
    g.OwnershipAssignment.objects.create(
        action_type=action_type, owner_role=roles[0], effective_from=now - timedelta(days=1)
    )
    chain = g.EscalationChain.objects.create(name="soak chain")
    g.EscalationStep.objects.create(chain=chain, position=0, role=roles[1], wait_seconds=wait)
    policy = g.ApprovalPolicy.objects.create(
        name="soak policy", priority=1, escalation_chain=chain, time_to_act_seconds=wait
    )
    policy.action_types.set([action_type])
    integration = integrations.integration_create(
        actor=None,
        name="soak",
        team_contact="soak",
        allowed_action_types=[action_type],
        webhook_url=f"{base_url}/hook",
        rate_limit_per_minute=10**6,
        max_pending=10**6,
    )
    credentials["key"] = integrations.integration_key_create(integration=integration, name="soak").plain
    return credentials


def request(method: str, path: str, auth: str, body: dict | None = None) -> tuple[int, dict]:
    try:
        status, raw, _retry_after = api_call(PORT, method, path, auth, body, timeout=60)
    except OSError:
        return 0, {}
    return status, (json.loads(raw) if raw.startswith(b"{") else {})


@dataclass
class Load:
    credentials: dict[str, str]
    wait: int
    statuses: Counter = field(default_factory=Counter)
    submitted: int = 0
    timers: list[threading.Timer] = field(default_factory=list)

    def sign(self, decision_id: str, who: str) -> None:
        status, _ = request(
            "POST",
            f"/api/v1/decisions/{decision_id}/signoffs/",
            f"Bearer {self.credentials[who]}",
            {"verdict": "approve", "reason_code": "evidence_sufficient", "rationale": "Soak: evidence checked."},
        )
        self.statuses[f"signoff {status}"] += 1

    def submit(self, i: int) -> None:
        status, body = request(
            "POST",
            "/api/v1/decisions/",
            f"Api-Key {self.credentials['key']}",
            {
                "action_type": "soak-isolate",
                "title": f"Soak {i}",
                "recommendation": "Isolate the host.",
                "target": {"host": f"wks-{i}"},
                "ai_confidence": 0.9,
                "blast_radius": "medium",
                "severity": "high",
                "incident_ref": f"SOAK-{i}",
                "evidence": {"alerts": [i]},
                "model": {"name": "soak", "version": "1"},
            },
        )
        self.statuses[f"submit {status}"] += 1
        self.submitted += 1
        if status != 201:
            return
        roll = random.random()
        if roll < 0.5:
            delay, who = random.uniform(1, self.wait * 0.6), "soak-owner"
        elif roll < 0.7:
            delay, who = self.wait + random.uniform(self.wait * 0.3, self.wait * 0.7), "soak-next"
        else:
            return
        timer = threading.Timer(delay, self.sign, args=(body["id"], who))
        timer.daemon = True
        timer.start()
        self.timers.append(timer)


def broker_waiting(path: Path) -> int:
    if not path.exists():
        return 0
    with sqlite3.connect(path, timeout=30) as conn:
        return conn.execute("SELECT count(*) FROM kombu_message WHERE visible").fetchone()[0]


def broker_figures(path: Path, worker_log: str) -> dict:
    """Messages the broker stored, those no worker received, those still waiting."""
    received = set(re.findall(rf"\[({UUID})\] received", worker_log))
    stored: dict[str, str] = {}
    with sqlite3.connect(path, timeout=30) as conn:
        rows = conn.execute("SELECT payload, visible FROM kombu_message").fetchall()
    waiting = 0
    for payload, visible in rows:
        headers = json.loads(payload)["headers"]
        stored[headers["id"]] = headers["task"]
        waiting += bool(visible)
    unreceived = {i: t for i, t in stored.items() if i not in received}
    return {"rows": len(rows), "tasks": len(stored), "waiting": waiting, "unreceived": unreceived}


def outcome_figures(receiver: Receiver) -> dict:
    from django.db.models import Count

    from decisions.models import DecisionEvent, DecisionRequest, Escalation, EventKind

    decisions = DecisionRequest.objects.filter(integration__name="soak")
    by_status = dict(Counter(decisions.values_list("status", flat=True)))
    closed = list(decisions.exclude(status="pending").values_list("public_id", "status"))
    without_webhook = [pk for pk, status in closed if receiver.webhooks[f"msg_{pk.hex}_{status}"] == 0]
    chat_events = DecisionEvent.objects.filter(kind=EventKind.NOTIFIED, data__channel="chat").count()
    # Each routing and each escalation to a role opens a stage whose people are told on chat (a
    # decision signed before its chat task ran is rightly not announced: counted, not a miss).
    stages = DecisionEvent.objects.filter(kind__in=[EventKind.ROUTED, EventKind.ESCALATED]).count()
    late = sorted(ms / 1000 for ms in Escalation.objects.values_list("lateness_ms", flat=True))
    twice = (
        Escalation.objects.values("decision", "from_step").annotate(n=Count("id")).filter(n__gt=1).count()
    )  # the unique (decision, step) row makes this 0 unless the constraint is gone
    return {
        "by_status": by_status,
        "pending": by_status.get("pending", 0),
        "without_webhook": len(without_webhook),
        "webhook_duplicates": sum(n - 1 for n in receiver.webhooks.values() if n > 1),
        "webhook_failed_attempts": DecisionEvent.objects.filter(kind=EventKind.WEBHOOK_FAILED).count(),
        "notification_failed": DecisionEvent.objects.filter(kind=EventKind.NOTIFICATION_FAILED).count(),
        "chat_events": chat_events,
        "chats_received": len(receiver.chats),
        "stages_without_chat": stages - chat_events,
        "escalations": len(late),
        "escalated_twice": twice,
        "lateness": late,
    }


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    return values[min(len(values) - 1, max(0, round(p / 100 * len(values)) - 1))]


def main() -> int:  # noqa: PLR0915 - one linear script
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--rate", type=float, default=1.0, help="submissions per second")
    parser.add_argument("--wait", type=int, default=20, help="seconds to act per step")
    parser.add_argument("--dir", type=Path, default=ROOT / "var" / "soak")
    args = parser.parse_args()

    directory: Path = args.dir.resolve()
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    receiver = Receiver()
    base_url = receiver.start()
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
        "DJANGO_SETTINGS_MODULE": "portal.settings.local",
        "DATABASE_URL": f"sqlite:///{directory / 'countersign.sqlite3'}",
        "CELERY_BROKER_URL": f"sqla+sqlite:///{directory / 'broker.sqlite3'}",
        "CACHE_URL": "dbcache://countersign_cache",
        "LEDGER_SIGNING_KEY_FILE": str(directory / "ledger-signing-key"),
        "LEDGER_WITNESS_FILE": str(directory / "witness" / "checkpoints.jsonl"),
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
        "DEBUG": "false",
        "PYTHONUNBUFFERED": "1",
    }
    for key in ("CELERY_BROKER_URL", "CACHE_URL"):
        os.environ.pop(key, None)
    for command in (["migrate", "--noinput"], ["ledger_keygen", "--if-missing"]):
        subprocess.run([sys.executable, "manage.py", *command], cwd=ROOT, env=env, check=True, capture_output=True)  # noqa: S603
    configure(env)
    credentials = scenario(base_url=base_url, wait=args.wait)
    processes = Supervised(env=env, directory=directory)
    for name in procfile():
        processes.start(name)
    wait_for_web()
    print(
        f"soak: {args.minutes:g} min at {args.rate:g} submissions/s, {args.wait} s per step, embedded defaults in "
        f"{directory}",
        flush=True,
    )
    load = Load(credentials=credentials, wait=args.wait)
    started = time.monotonic()
    end = started + args.minutes * 60
    i = 0
    next_report = started + 60
    try:
        while time.monotonic() < end:
            load.submit(i)
            i += 1
            processes.check()
            if time.monotonic() >= next_report:
                next_report += 60
                print(
                    f"  {(time.monotonic() - started) / 60:5.1f} min  submitted {load.submitted}  "
                    f"{dict(sorted(load.statuses.items()))}",
                    flush=True,
                )
            time.sleep(max(0.0, started + i / args.rate - time.monotonic()))
        drain_until = time.monotonic() + 2 * args.wait + 60
        while time.monotonic() < drain_until:
            processes.check()
            from decisions.models import DecisionRequest

            if not DecisionRequest.objects.filter(integration__name="soak", status="pending").exists():
                time.sleep(20)  # the last webhooks and notifications
                break
            time.sleep(2)
    finally:
        processes.stop(drained=lambda: broker_waiting(directory / "broker.sqlite3") == 0)
    worker_log = (directory / "worker.log").read_text(errors="replace")
    logs = "".join((directory / f"{n}.log").read_text(errors="replace") for n in procfile())
    broker = broker_figures(directory / "broker.sqlite3", worker_log)
    outcome = outcome_figures(receiver)
    critical = len(re.findall(r"CRITICAL|Unrecoverable error", worker_log))
    # The web process or a task (Enqueue) and beat ("Couldn't apply scheduled task"): never stored.
    not_queued = len(re.findall(r"could not queue|Couldn't apply scheduled task", logs))
    late = outcome.pop("lateness")
    figures = {
        "minutes": args.minutes,
        "submitted": load.submitted,
        "api_statuses": dict(sorted(load.statuses.items())),
        "process_exits": processes.exits,
        "worker_critical_lines": critical,
        "publish_failures": not_queued,
        "broker_rows": broker["rows"],
        "broker_tasks": broker["tasks"],
        "broker_waiting_at_end": broker["waiting"],
        "tasks_never_received": len(broker["unreceived"]),
        "never_received_by_task": dict(Counter(broker["unreceived"].values())),
        **outcome,
        "lateness_p50_s": pct(late, 50),
        "lateness_p99_s": pct(late, 99),
        "lateness_max_s": late[-1] if late else float("nan"),
        "server_errors": sum(n for k, n in load.statuses.items() if k.endswith((" 500", " 502", " 503", " 0"))),
    }
    (directory / "figures.json").write_text(json.dumps(figures, indent=2, default=str))
    for key, value in figures.items():
        print(f"  {key:<26} {value}")
    crashes = len(processes.exits) + critical
    lost = figures["tasks_never_received"] + not_queued
    unheard = max(0, outcome["chat_events"] - outcome["chats_received"])
    missed = outcome["pending"] + outcome["without_webhook"] + unheard
    duplicates = outcome["webhook_duplicates"] + outcome["escalated_twice"]
    print(f"worker crashes {crashes}, lost tasks {lost}, missed {missed}, duplicates {duplicates}")
    return 0 if crashes == lost == missed == duplicates == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
