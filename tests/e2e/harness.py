"""The moving parts of the end-to-end tests: ``celery worker`` and ``celery beat`` as
subprocesses (each in its own process group), a Redis broker to look inside, a redis-server of
our own to stop and start, and a bounded ``wait_until``."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import pytest
import redis
from django.db import connection
from kombu import pools

from portal.celery import app as celery_app

PROJECT_DIR = Path(__file__).resolve().parents[2]
E2E_REDIS_DB = 9  # a Redis database of its own: flushed at the start of every test
SWEEP_SECONDS = "1"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
READY_LINE = {"worker": " ready.", "beat": "beat: Starting..."}


def wait_until(predicate: Callable[[], Any], *, timeout: float = 20.0, interval: float = 0.1, what: str = "") -> Any:
    """Poll ``predicate`` until it returns something truthy (returned) or ``timeout`` passes (fail)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"waited {timeout:.0f} s for {what or predicate}")
        time.sleep(interval)


def with_db(url: str, db: int) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{db}", parts.query, ""))


def database_url() -> str:
    """The test database (``test_<name>``) as a DATABASE_URL for the child processes."""
    db = connection.settings_dict
    credentials = quote(db["USER"] or "", safe="")
    if db["PASSWORD"]:
        credentials += ":" + quote(db["PASSWORD"], safe="")
    host = quote(db["HOST"] or "127.0.0.1", safe="")  # a socket directory is written %2F...
    port = f":{db['PORT']}" if db["PORT"] else ""
    return f"postgres://{credentials}@{host}{port}/{quote(db['NAME'], safe='')}"


@dataclass
class Broker:
    """A Redis database used as the Celery broker, and a client to look inside it."""

    url: str
    client: redis.Redis

    def queued(self, queue: str = "celery") -> int:
        """Messages waiting in ``queue`` (not yet fetched by any worker)."""
        return self.client.llen(queue)

    def queued_tasks(self, queue: str = "celery") -> list[str]:
        """The task names of the messages waiting in ``queue``."""
        return [json.loads(raw)["headers"]["task"] for raw in self.client.lrange(queue, 0, -1)]

    def held_tasks(self) -> dict[str, str]:
        """Task id -> task name of the messages a worker fetched and has not acknowledged yet
        (ETA tasks it holds until they are due, tasks running with ``acks_late``)."""
        headers = [json.loads(raw)[0]["headers"] for raw in self.client.hvals("unacked")]
        return {h["id"]: h["task"] for h in headers}


def reset_producer_pools() -> None:
    """Forget this process's broker connections, so the next publish connects to ``broker_url``."""
    pools.reset()
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


@dataclass
class TaskSending:
    """This process publishes tasks to a real broker; ``use(url)`` points it at another one."""

    url: str

    def use(self, url: str) -> None:
        self.url = url
        # Celery reads CELERY_BROKER_URL from the environment before its configuration.
        os.environ["CELERY_BROKER_URL"] = url
        celery_app.conf.broker_url = url
        reset_producer_pools()


def _signal_group(process: subprocess.Popen, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)  # the worker's pool children too


@dataclass
class CeleryProcess:
    """One ``celery worker`` or ``celery beat`` in its own session (process group)."""

    kind: str
    process: subprocess.Popen
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while READY_LINE[self.kind] not in self.output():
            if self.process.poll() is not None:
                pytest.fail(f"celery {self.kind} exited with {self.process.returncode}:\n{self.output()[-3000:]}")
            if time.monotonic() > deadline:
                pytest.fail(f"celery {self.kind} not ready after {START_TIMEOUT:.0f} s:\n{self.output()[-3000:]}")
            time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL the whole group: no shutdown, nothing acknowledged or handed back."""
        _signal_group(self.process, signal.SIGKILL)
        self.process.wait(timeout=STOP_TIMEOUT)

    def stop(self) -> None:
        """Cold shutdown (SIGQUIT to the group: the test is over, nothing needs finishing);
        SIGKILL whatever is left after a bounded wait."""
        if self.process.poll() is None:
            _signal_group(self.process, signal.SIGQUIT)
        try:
            self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            _signal_group(self.process, signal.SIGKILL)
            self.process.wait(timeout=STOP_TIMEOUT)
        # A pool child may outlive its parent; never leave any behind.
        _signal_group(self.process, signal.SIGKILL)


@dataclass
class CeleryLauncher:
    """Starts worker and beat processes for one test and stops every one of them afterwards."""

    env: dict[str, str]
    directory: Path
    started: list[CeleryProcess] = field(default_factory=list)

    def start(self, kind: str, *, broker_url: str | None = None, wait: bool = True) -> CeleryProcess:
        number = len(self.started) + 1
        args = [sys.executable, "-m", "celery", "-A", "portal", kind, "--loglevel=INFO"]
        if kind == "worker":
            args += [
                f"--hostname=e2e-{os.getpid()}-{number}@%h",
                "--pool=prefork",
                "--concurrency=2",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ]
        else:
            args += [f"--schedule={self.directory / f'celerybeat-schedule-{number}'}", "--max-interval=1"]
        env = dict(self.env)
        if broker_url:
            env["CELERY_BROKER_URL"] = broker_url
        log = self.directory / f"{kind}-{number}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(  # noqa: S603 - our own interpreter, fixed arguments
                args,
                cwd=PROJECT_DIR,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        celery = CeleryProcess(kind=kind, process=process, log=log)
        self.started.append(celery)
        if wait:
            celery.wait_ready()
        return celery

    def start_together(self, *kinds: str, broker_url: str | None = None) -> list[CeleryProcess]:
        """Start several processes at once and wait until all of them are ready (faster)."""
        started = [self.start(kind, broker_url=broker_url, wait=False) for kind in kinds]
        for celery in started:
            celery.wait_ready()
        return started

    def logs(self) -> str:
        return "\n".join(f"--- {c.kind} {c.pid} ---\n{c.output()[-4000:]}" for c in self.started)

    def stop_all(self) -> None:
        for celery in self.started:
            if celery.process.poll() is None:
                _signal_group(celery.process, signal.SIGQUIT)
        for celery in self.started:
            celery.stop()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class RedisServer:
    """A redis-server of our own (no persistence), to stop and start as a test needs."""

    executable: str
    port: int
    directory: Path
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(  # noqa: S603 - fixed arguments
            [self.executable, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--appendonly", "no",
             "--daemonize", "no", "--dir", str(self.directory)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)
        wait_until(lambda: self._answers(client), timeout=10, what=f"redis-server on port {self.port}")
        client.close()

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=STOP_TIMEOUT)

    @staticmethod
    def _answers(client: redis.Redis) -> bool:
        try:
            return bool(client.ping())
        except (redis.RedisError, OSError):
            return False


@dataclass
class Gunicorn:
    """``gunicorn portal.wsgi`` (gthread workers, as deployed) on a free loopback port."""

    env: dict[str, str]
    log: Path
    workers: int = 1
    threads: int = 16
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        args = [sys.executable, "-m", "gunicorn", "portal.wsgi", "--bind", f"127.0.0.1:{self.port}",
                "--workers", str(self.workers), "--worker-class", "gthread", "--threads", str(self.threads),
                "--log-level", "warning", "--timeout", "120"]  # fmt: skip
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(  # noqa: S603 - our own interpreter, fixed arguments
                args, cwd=PROJECT_DIR, env=self.env, stdin=subprocess.DEVNULL, stdout=out,
                stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        wait_until(self._answers, timeout=START_TIMEOUT * 2, what=f"gunicorn on port {self.port}")

    def _answers(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            pytest.fail(f"gunicorn exited with {self.process.returncode}:\n{self.output()[-3000:]}")
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as conn:
                conn.sendall(b"GET /healthz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
                return conn.recv(12).startswith(b"HTTP/1.")
        except OSError:
            return False

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            _signal_group(self.process, signal.SIGTERM)
        try:
            self.process.wait(timeout=STOP_TIMEOUT * 3)
        except subprocess.TimeoutExpired:
            _signal_group(self.process, signal.SIGKILL)
            self.process.wait(timeout=STOP_TIMEOUT)
        _signal_group(self.process, signal.SIGKILL)
