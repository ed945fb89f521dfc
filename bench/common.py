"""Shared pieces of the benchmarks: a fresh PostgreSQL database, a gunicorn server, a load loop.

Everything runs on loopback; request loops are bounded in count.
"""

from __future__ import annotations

import http.client
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/countersign_bench"


def bench_env(database_url: str, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "portal.settings.bench",
            "DATABASE_URL": database_url,
            "CACHE_URL": os.environ.get("BENCH_CACHE_URL", "redis://127.0.0.1:6379/15"),
            "CELERY_BROKER_URL": os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/14"),
            # The witness of this database's checkpoints (beats sign them): one per database,
            # emptied with it (recreate_database), never an earlier run's.
            "LEDGER_WITNESS_FILE": str(witness_file(database_url)),
            **extra,
        }
    )
    return env


def witness_file(database_url: str) -> Path:
    return ROOT / "var" / "bench-witness" / f"{urlsplit(database_url).path.lstrip('/')}.jsonl"


TOPOLOGIES = {
    # name: (gunicorn instances, celery workers, celery beats)
    "single": (1, 1, 1),
    "double": (2, 2, 2),  # two of everything against one PostgreSQL and one Redis
}


def recreate_database(database_url: str) -> None:
    """Drop and create the benchmark database (never the project's own)."""
    import psycopg

    parts = urlsplit(database_url)
    name = parts.path.lstrip("/")
    if "bench" not in name:
        raise SystemExit(f"refusing to recreate {name!r}: a benchmark database name contains 'bench'")
    admin_url = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    witness_file(database_url).unlink(missing_ok=True)


def manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(  # noqa: S603 - our own manage.py, fixed arguments
        [PYTHON, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    )
    return result.stdout


@dataclass
class Server:
    """gunicorn serving the project on loopback."""

    env: dict[str, str]
    port: int = 8765
    workers: int = 4
    threads: int = 0  # 0: gunicorn's sync workers; else gthread workers with this many threads each
    process: subprocess.Popen | None = field(default=None, init=False)

    def __enter__(self) -> Server:
        self.process = subprocess.Popen(  # noqa: S603 - gunicorn, fixed arguments
            [
                PYTHON,
                "-m",
                "gunicorn",
                "portal.wsgi",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                str(self.workers),
                "--log-level",
                "warning",
                *(["--worker-class", "gthread", "--threads", str(self.threads)] if self.threads else []),
            ],
            cwd=ROOT,
            env=self.env,
        )
        deadline = time.monotonic() + 120  # a busy machine (two shared cores) starts slowly
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", "/api/schema/")
                conn.getresponse().read()
                return self
            except OSError:
                time.sleep(0.5)
        self.__exit__()
        raise RuntimeError(f"gunicorn did not start on port {self.port}")

    def __exit__(self, *exc: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()


@contextmanager
def celery(env: dict[str, str], *, log_dir: Path, workers: int = 1, beats: int = 1) -> Iterator[None]:
    """``workers`` celery workers (prefork, default concurrency) and ``beats`` beats, each beat
    with a schedule file of its own; all stopped at the end."""
    processes = []
    for n in range(workers):
        processes.append(
            subprocess.Popen(  # noqa: S603 - fixed arguments
                [PYTHON, "-m", "celery", "-A", "portal", "worker", "--loglevel=WARNING", "-n", f"bench{n}@%h"],
                cwd=ROOT,
                env=env,
                stdout=open(log_dir / f"worker-{n}.log", "w"),  # noqa: SIM115
                stderr=subprocess.STDOUT,
            )
        )
    for n in range(beats):
        schedule = str(log_dir / f"beat-schedule-{n}")
        processes.append(
            subprocess.Popen(  # noqa: S603 - fixed arguments
                [PYTHON, "-m", "celery", "-A", "portal", "beat", "--loglevel=WARNING", "-s", schedule],
                cwd=ROOT,
                env=env,
                stdout=open(log_dir / f"beat-{n}.log", "w"),  # noqa: SIM115
                stderr=subprocess.STDOUT,
            )
        )
    try:
        time.sleep(6)  # the workers connect and the beats run their first sweep
        yield
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in reversed(processes):
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


@dataclass
class LoadResult:
    name: str
    latencies: list[float]
    statuses: dict[int, int]
    elapsed: float

    @property
    def count(self) -> int:
        return len(self.latencies)

    @property
    def throughput(self) -> float:
        return self.count / self.elapsed

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        index = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))
        return ordered[index]

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies)

    def line(self) -> str:
        return (
            f"{self.name:<22} n={self.count:>5}  {self.throughput:8.1f} req/s  "
            f"p50 {self.p50 * 1000:7.1f} ms  p99 {self.percentile(99) * 1000:7.1f} ms  "
            f"max {max(self.latencies) * 1000:7.1f} ms  statuses {dict(sorted(self.statuses.items()))}"
        )


def api_call(
    port: int, method: str, path: str, auth: str, body: dict | None = None, *, timeout: float
) -> tuple[int, bytes, str | None]:
    """One JSON request to the portal on 127.0.0.1:``port`` with an ``Authorization`` header:
    (status, raw body, Retry-After)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(
            method,
            path,
            body=json.dumps(body) if body is not None else None,
            headers={"Authorization": auth, "Content-Type": "application/json"},
        )
        response = conn.getresponse()
        return response.status, response.read(), response.getheader("Retry-After")
    finally:
        conn.close()


def fresh_demo_database(**extra: str) -> tuple[str, dict[str, str]]:
    """A new benchmark database (BENCH_DATABASE_URL), migrated, with the demo SOC: its URL and
    the environment for the processes that use it."""
    database_url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB)
    recreate_database(database_url)
    env = bench_env(database_url, **extra)
    manage(env, "migrate", "--noinput")
    manage(env, "seed_demo")  # outside any timing: the demo people's password hashing is slow on purpose
    return database_url, env


def run_load(
    *,
    name: str,
    port: int | list[int],
    path: str,
    make_body: Callable[[int], dict],
    headers: Callable[[int], dict[str, str]],
    total: int,
    concurrency: int,
    path_for: Callable[[int], str] | None = None,
    on_answer: Callable[[int], None] | None = None,
) -> LoadResult:
    """POST ``total`` JSON bodies with ``concurrency`` threads (to the ports in turn when there
    are several servers); every request is timed. ``path_for(i)`` gives a path per request
    instead of ``path``; ``on_answer(i)`` runs as each answer arrives."""
    ports = port if isinstance(port, list) else [port]
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    counter = iter(range(total))

    def worker() -> None:
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                return
            body = json.dumps(make_body(i))
            conn = http.client.HTTPConnection("127.0.0.1", ports[i % len(ports)], timeout=30)
            started = time.perf_counter()
            target = path_for(i) if path_for is not None else path
            conn.request("POST", target, body=body, headers={"Content-Type": "application/json", **headers(i)})
            response = conn.getresponse()
            response.read()
            took = time.perf_counter() - started
            if on_answer is not None:
                on_answer(i)
            conn.close()
            with lock:
                latencies.append(took)
                statuses[response.status] = statuses.get(response.status, 0) + 1

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return LoadResult(name=name, latencies=latencies, statuses=statuses, elapsed=time.perf_counter() - started)
