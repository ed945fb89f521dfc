"""/readyz: can this portal sign and escalate right now? Each component is checked with a short
timeout; the answer names components and ages, never addresses, credentials or errors' text."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from celery import current_app
from django.conf import settings
from django.core.cache import cache
from django.db import connection

from decisions.health.heartbeat import (
    STALE_PERIODS,
    HealthState,
    escalation_stall_alert,
    health_state,
    sweep_stale_after,
)
from decisions.health.outbox import outbox_backlog
from decisions.models import Heartbeat

logger = logging.getLogger(__name__)
BROKER_TIMEOUT_SECONDS = 2


@dataclass
class Readiness:
    """``ready`` is False when a component needed to sign or to escalate is down."""

    checks: dict[str, dict[str, Any]] = field(default_factory=dict)
    ready: bool = True

    def as_json(self) -> dict[str, Any]:
        return {"status": "ready" if self.ready else "unavailable", "checks": self.checks}


def _timed(check: Callable[[], None]) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        check()
    except Exception as exc:  # any failure means "down"; its text may hold an address, so only its kind
        return {"ok": False, "error": type(exc).__name__, "ms": round((time.perf_counter() - started) * 1000, 1)}
    return {"ok": True, "ms": round((time.perf_counter() - started) * 1000, 1)}


def _database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def _broker() -> None:
    with current_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=BROKER_TIMEOUT_SECONDS)


def _cache() -> None:
    cache.set("countersign:readyz", 1, timeout=10)
    if cache.get("countersign:readyz") != 1:
        raise LookupError("the cache did not keep a value")


def _sweep(state: HealthState) -> dict[str, Any]:
    age = state.sweep_age
    return {
        "ok": age is not None and not state.sweep_stalled,
        "last_sweep_at": state.sweep_at.isoformat() if state.sweep_at else None,
        "age_seconds": round(age.total_seconds(), 1) if age is not None else None,
        "stale_after_seconds": sweep_stale_after().total_seconds(),
    }


def _break_glass_sweep(state: HealthState) -> dict[str, Any]:
    """The break-glass review sweep's heartbeat (one query): reported, and stale after three of
    its periods, but it does not make the portal unready (signing and escalating still work)."""
    at = Heartbeat.objects.filter(name=Heartbeat.BREAK_GLASS_SWEEP).values_list("at", flat=True).first()
    age = None if at is None else state.now - at
    stale_after = settings.BREAK_GLASS_SWEEP_SECONDS * STALE_PERIODS
    return {
        "ok": age is not None and age.total_seconds() <= stale_after,
        "last_sweep_at": at.isoformat() if at else None,
        "age_seconds": round(age.total_seconds(), 1) if age is not None else None,
        "stale_after_seconds": stale_after,
    }


def _outbox() -> dict[str, Any]:
    backlog = outbox_backlog()
    oldest = backlog.oldest_at
    return {
        "ok": True,
        "present": True,
        "backlog": backlog.pending,
        "oldest_at": oldest.isoformat() if oldest else None,
    }


def readiness() -> Readiness:
    """Database, broker and cache reachable; the escalation sweep alive; the break-glass review
    sweep's age; the outbox backlog. The cache and the break-glass sweep are reported but never
    make the portal unready (rate limits fail open without the cache).
    Side effect: a stalled sweep is announced to the leads (``escalation_stall_alert``)."""
    result = Readiness()
    result.checks["database"] = _timed(_database)
    result.checks["broker"] = _timed(_broker)
    result.checks["cache"] = _timed(_cache)
    if result.checks["database"]["ok"]:
        state = health_state()
        result.checks["escalation_sweep"] = _sweep(state)
        result.checks["break_glass_sweep"] = _break_glass_sweep(state)
        result.checks["decision_log"] = {
            "ok": not state.ledger_failing,
            "last_verified_at": state.verified_at.isoformat() if state.verified_at else None,
            "intact": state.verified_intact,
        }
        try:
            escalation_stall_alert(state=state)
        except Exception:  # telling the leads must never take /readyz down with it
            logger.exception("the stall alert failed")
        result.checks["outbox"] = _outbox()
    else:
        result.checks["escalation_sweep"] = {"ok": False, "error": "database unavailable"}
    result.ready = all(result.checks[name]["ok"] for name in ("database", "broker", "escalation_sweep"))
    return result
