"""Realistic past decisions for demos and benchmarks (``manage.py seed_history``).

Every decision is simulated in memory against the demo governance model, then written with a
few bulk inserts per batch, not replayed through the services (which would take many minutes
for 100,000 decisions and could not backdate anything). The simulation reuses the real rules
wherever they exist: policies are matched by ``selectors.match_policy``, owners and on-call
people come from the governance snapshot and the roster arithmetic, the quorum is checked by
``eligibility.quorum_met``, the snapshot is built with routing's own entry helpers, and the
decision log is hash-chained with ``eventlog.event_hash``, so ``verify_decision_log`` passes.

Everything is closed: nothing is left pending, and grants (which routing revokes at closing)
are not written. Deterministic: the same ``seed`` and ``now`` against the same governance rows
give the same rows, public ids included (so seeding twice with both equal is refused).

The package, by concern:
- ``tables``: the data the simulation draws from (models, action mix, verdict and reason
  weights, rationales, outcome notes, targets, when decisions arrive and how fast people answer);
- ``world``: the governance model as the simulation reads it (policies, who is on call and
  certified, owners), cached;
- ``records``: what one simulated decision is made of (stages, the decision record, its rows);
- ``simulation``: the generator of one decision, from submission to outcome, and its event log;
- ``verdicts``: who signs, when, and whether the quorum is reached;
- ``writer``: the bulk writer (COPY or bulk_create, a writer thread on PostgreSQL).
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from django.utils import timezone

from decisions.models import DecisionRequest, DecisionStatus
from decisions.seeding.demo import demo_integration
from decisions.seeding.history.simulation import Generator
from decisions.seeding.history.tables import draw_arrivals
from decisions.seeding.history.writer import BATCH, open_writer
from governance.demo import GovernanceDemo
from governance.snapshot import pinned_snapshot

__all__ = ["MAX_DAYS", "HistoryError", "seed_history"]

MAX_DAYS = 3660


class HistoryError(ValueError):
    """The history cannot be generated as asked; the message says why."""


def seed_history(*, decisions: int, days: int = 90, seed: int = 0, now: datetime | None = None) -> dict[str, Any]:
    """Generate ``decisions`` closed past decisions over the ``days`` days before ``now``.

    Makes sure the demo SOC and its integration exist first (``GovernanceDemo().build()``),
    then writes in batches of BATCH decisions, each in one transaction: the decisions, their
    escalations, sign-offs, outcomes and hash-chained events. No grants, no notifications, no
    webhooks. On PostgreSQL outside a transaction, a second connection writes each batch while
    the next is generated. Returns the counts written. Raises HistoryError for a bad request.
    """
    if decisions < 1:
        raise HistoryError("Generate at least one decision.")
    if not 1 <= days <= MAX_DAYS:
        raise HistoryError(f"days must be between 1 and {MAX_DAYS}.")
    now = now or timezone.now()
    if timezone.is_naive(now):
        raise HistoryError("now must be an aware datetime.")
    now = now.astimezone(UTC)
    start = now - timedelta(days=days)
    system, action_types = GovernanceDemo().build()
    integration = demo_integration(actor=system, action_types=list(action_types.values()))
    rng = random.Random(f"countersign-history:{seed}:{now.isoformat()}")  # noqa: S311 - not security
    statuses: Counter[str] = Counter()
    counts: Counter[str] = Counter()
    with pinned_snapshot() as snapshot:
        generator = Generator(rng=rng, start=start, now=now, integration=integration, snapshot=snapshot)
        arrivals = draw_arrivals(rng, start, now, decisions)
        writer = open_writer()
        try:
            for offset in range(0, decisions, BATCH):
                batch = [generator.decision(created) for created in arrivals[offset : offset + BATCH]]
                if offset == 0 and DecisionRequest.objects.filter(public_id=batch[0].decision.public_id).exists():
                    raise HistoryError(f"This history (seed {seed}, now {now.isoformat()}) was already generated.")
                writer.put(batch)
                for rows in batch:
                    statuses[rows.decision.status] += 1
                    counts["signoffs"] += len(rows.signoffs)
                    counts["escalations"] += len(rows.escalations)
                    counts["outcomes"] += rows.outcome is not None
        finally:
            writer.close()
    return {
        "decisions": decisions,
        "start": start.isoformat(),
        "end": now.isoformat(),
        "statuses": {status: statuses[status] for status in DecisionStatus.values if statuses[status]},
        "signoffs": counts["signoffs"],
        "escalations": counts["escalations"],
        "outcomes": counts["outcomes"],
        "events": writer.events,
        "integration": integration.name,
        "seed": seed,
    }
