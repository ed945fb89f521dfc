"""The outbox's backlog, for /readyz and /metrics: side effects written with their change but not
yet published (decisions.outbox)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone

from decisions.outbox import store


@dataclass(frozen=True)
class OutboxBacklog:
    """Side effects written but not yet published, and when the oldest of them was written."""

    pending: int
    oldest_at: datetime | None


def outbox_backlog() -> OutboxBacklog:
    """The outbox backlog now."""
    pending, age = store.backlog()
    return OutboxBacklog(pending=pending, oldest_at=timezone.now() - timedelta(seconds=age) if pending else None)
