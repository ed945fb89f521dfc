"""Intake: record a recommendation and route it, once per Idempotency-Key."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any, NamedTuple

from django.db import IntegrityError, transaction
from django.utils import timezone

from decisions.actors import Person
from decisions.errors import IdempotencyConflict, NotAllowed, PendingCapReached
from decisions.lifecycle import routing
from decisions.lifecycle.locks import NearTheCap, intake_limits
from decisions.lifecycle.writes import DecisionWrites
from decisions.models import DecisionRequest, EventKind, Integration


class Submission(NamedTuple):
    decision: DecisionRequest
    created: bool  # False: a replay of an earlier submission with the same Idempotency-Key


def fingerprint(payload: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON of a submission: same body, same fingerprint."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _find_existing(integration: Integration, idempotency_key: str) -> DecisionRequest | None:
    if not idempotency_key:
        return None
    return DecisionRequest.objects.filter(integration=integration, idempotency_key=idempotency_key).first()


def _replay(existing: DecisionRequest, request_fingerprint: str) -> DecisionRequest:
    if existing.request_fingerprint != request_fingerprint:
        raise IdempotencyConflict(
            "This Idempotency-Key was already used with a different request body. Use a new key for a new "
            "decision, or resend the original body.",
            field="Idempotency-Key",
        )
    return existing


def decision_submit(
    *,
    integration: Integration,
    actor: Person,
    data: dict[str, Any],
    request_fingerprint: str,
    idempotency_key: str = "",
    now: datetime | None = None,
) -> Submission:
    """Record a recommendation and route it. Returns the decision and whether it was created.

    A retry with the same Idempotency-Key and body returns the original decision; the same key
    with another body raises IdempotencyConflict. A retry is recognised by the unique
    (integration, idempotency_key) index refusing its insert, also when retries race: the
    loser's transaction rolls back and it returns the winner's row.

    Routing runs first, in memory (the governance snapshot is cached), into one plan; then one
    short transaction checks the limits (``intake_limits``: no lock shared by every submission
    of the integration while it is far from its pending cap) and writes the plan: the decision,
    its events, its grants, its outbox rows. After the commit the outbox publishes the deadline
    task and the notifications (or, when it ended at once, the verdict webhook).
    """
    now = now or timezone.now()
    action_type = data["action_type"]
    decision = DecisionRequest(
        integration=integration,
        submitted_by=actor,
        idempotency_key=idempotency_key,
        request_fingerprint=request_fingerprint,
        deadline=now,
        **data,
    )
    plan = DecisionWrites(decision)
    plan.log(
        EventKind.RECEIVED,
        at=now,
        actor=actor,
        data={
            "integration": integration.name,
            "action_type": action_type.slug,
            "ai_confidence": str(decision.ai_confidence),
            "blast_radius": decision.blast_radius,
            "severity": decision.severity,
            "model": {"name": decision.model_name, "version": decision.model_version},
            "request_fingerprint": request_fingerprint,
        },
    )
    routing.route(plan, now=now, actor=actor)
    try:
        try:
            _write_within_limits(plan, integration, action_type, alone=False)
        except NearTheCap:
            _write_within_limits(plan, integration, action_type, alone=True)
    except (IntegrityError, NotAllowed, PendingCapReached):
        # A retry of an earlier submission answers with it, even once the cap is reached. The
        # lookup happens only here, off the common path: new keys cost no extra query.
        existing = _find_existing(integration, idempotency_key)
        if existing is None:
            raise
        return Submission(_replay(existing, request_fingerprint), created=False)
    return Submission(decision, created=True)


def _write_within_limits(plan: DecisionWrites, integration: Integration, action_type: Any, *, alone: bool) -> None:
    """One short transaction: the limits (``intake_limits``: far from the cap, side by side with
    the integration's other submissions; near it, alone), then the plan's rows. Nothing is
    written before the limits are known, so a ``NearTheCap`` rollback leaves the plan intact."""
    with transaction.atomic():
        limits = intake_limits(integration, action_type, alone=alone)
        if not limits.allowed:
            raise NotAllowed(
                f"Integration {integration.name} may not submit {action_type.slug} decisions.",
                field="action_type",
            )
        if limits.pending >= integration.max_pending:
            raise PendingCapReached(
                f"{integration.name} already has {limits.pending} pending decisions "
                f"(cap {integration.max_pending}). Wait for verdicts or cancel stale requests."
            )
        plan.decision.pk = limits.decision_id
        plan.write()
