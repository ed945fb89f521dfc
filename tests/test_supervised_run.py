"""`make run` starts the Procfile under honcho: when one process dies, it says so and nothing is
left half-running. Run for real: honcho, runserver, a worker and beat on the embedded defaults
(an SQLite database and the SQLite broker in a temporary directory)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.harness import free_port, wait_until

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent


def descendants(pid: int, needle: str) -> list[int]:
    """The processes under ``pid`` whose command line contains ``needle``."""
    table = subprocess.run(["ps", "-eo", "pid=,ppid=,args="], capture_output=True, text=True, check=True).stdout  # noqa: S607
    rows = [line.split(None, 2) for line in table.splitlines() if line.strip()]
    parents = {int(row[0]): int(row[1]) for row in rows}
    found = []
    for row in rows:
        child = int(row[0])
        ancestor = parents.get(child)
        while ancestor and ancestor != pid:
            ancestor = parents.get(ancestor)
        if ancestor == pid and len(row) > 2 and needle in row[2]:
            found.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/stat")
    return not (status.exists() and status.read_text().split(") ", 1)[1].startswith("Z"))


@pytest.fixture
def embedded_env(tmp_path) -> dict[str, str]:
    env = {
        **os.environ,
        "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '')}",
        "DJANGO_SETTINGS_MODULE": "portal.settings.local",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'countersign.sqlite3'}",
        "CELERY_BROKER_URL": f"sqla+sqlite:///{tmp_path / 'broker.sqlite3'}",
        "CACHE_URL": "dbcache://countersign_cache",
        "LEDGER_SIGNING_KEY_FILE": str(tmp_path / "ledger-signing-key"),
        "LEDGER_WITNESS_FILE": str(tmp_path / "witness.jsonl"),
        "PYTHONUNBUFFERED": "1",
    }
    subprocess.run(  # noqa: S603 - our own manage.py
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True
    )
    subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", "ledger_keygen", "--if-missing"], cwd=ROOT, env=env, check=True
    )
    return env


def test_when_the_worker_dies_honcho_says_so_and_stops_web_and_beat(embedded_env, tmp_path):
    log = tmp_path / "honcho.log"
    with log.open("w") as out:
        honcho = subprocess.Popen(  # noqa: S603 - the Makefile's command
            [str(VENV_BIN / "honcho"), "start", "--no-colour", "-f", "Procfile", "-p", str(free_port())],
            cwd=ROOT,
            env=embedded_env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_until(lambda: " ready." in log.read_text(), timeout=60, what="the worker to be ready")
        wait_until(lambda: "beat: Starting" in log.read_text(), timeout=30, what="beat to start")
        text = log.read_text()
        for name in ("web.1", "worker.1", "beat.1"):
            assert f"{name} " in text or f"{name}|" in text  # one prefix per process
        workers = descendants(honcho.pid, "celery -A portal worker")
        others = descendants(honcho.pid, "runserver") + descendants(honcho.pid, "celery -A portal beat")
        assert workers
        assert len(others) >= 2

        for worker in workers:
            os.kill(worker, signal.SIGKILL)

        assert honcho.wait(timeout=30) != 0
        text = log.read_text()
        assert "worker.1" in text
        assert "stopped (rc=-9)" in text  # said loudly, with the signal
        wait_until(lambda: not any(alive(pid) for pid in others), timeout=15, what="web and beat to stop")
    finally:
        if honcho.poll() is None:
            os.killpg(honcho.pid, signal.SIGKILL)
            honcho.wait(timeout=10)
