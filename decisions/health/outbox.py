"""The outbox's backlog, for /readyz and /metrics. There is no outbox yet: this returns None
(reported as "no outbox"); the outbox wires its own selector in here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class OutboxBacklog:
    """Side effects written but not yet performed, and when the oldest of them was written."""

    pending: int
    oldest_at: datetime | None


def outbox_backlog() -> OutboxBacklog | None:
    """The outbox backlog now, or None when there is no outbox."""
    return None
