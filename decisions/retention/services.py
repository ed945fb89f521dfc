"""Retention and legal hold: the one service that removes closed decisions, and the holds that
stop it.

``retention_run`` removes the closed decisions whose action type's retention period has passed
(``ActionType.retention_months``, at least six months), except those a legal hold in force
covers, in this order, never skipping a step:

1. a ``RetentionRun`` row is recorded (who, when), whatever follows;
2. the log is verified (incrementally); a broken log stops the run: nothing that could be
   evidence of tampering is removed;
3. a checkpoint of the log is signed and witnessed (or the newest one is taken when nothing is
   new): it covers every event about to be removed;
4. in one transaction, with the decisions' rows locked: each decision (row, sign-offs, outcome,
   escalations and every event with its inclusion proof against the checkpoint, i.e. a receipt
   that ``decisions/verifier.py`` checks offline) is written to an archive file, fsynced, under
   ``RETENTION_ARCHIVE_DIR``; the removed leaf positions and decisions are recorded
   (``ArchivedEvent`` / ``ArchivedDecision``); the manifest of what is removed is signed with
   the ledger key and written next to the archive; then the rows are deleted, which the database
   allows only for this run's archived decisions (``countersign.retention_run``, migration
   0018).

Decisions with an event newer than the checkpoint are left for the next run. Every run, even
one that removed nothing or failed, stays recorded; so does every hold, placed and released.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core import serializers
from django.db import connection, transaction
from django.utils import timezone

from decisions.ledger import archive, keys
from decisions.ledger.checkpoints import LedgerInconsistent, checkpoint_now
from decisions.ledger.receipts import ReceiptNotReady, receipt_for
from decisions.ledger.tree import StoredTree
from decisions.ledger.verification import newest_checkpoint, verify_ledger
from decisions.models import (
    ArchivedDecision,
    ArchivedEvent,
    DecisionEvent,
    DecisionRequest,
    DecisionRequestUserObjectPermission,
    Escalation,
    LedgerCheckpoint,
    LegalHold,
    Outcome,
    RetentionRun,
    RetentionStatus,
    SignOff,
)
from decisions.retention.selectors import held, months_after, past_retention
from governance.audit import acting_as

logger = logging.getLogger(__name__)

ARCHIVE_FORMAT = "countersign-archive/1"
BATCH = 200
PLACE_HOLD, RELEASE_HOLD = "decisions.add_legalhold", "decisions.change_legalhold"


class RetentionError(Exception):
    """A hold or a run that cannot be done as asked (the message says why)."""


# --- legal holds --------------------------------------------------------------------------------


def legal_hold_place(
    *, actor: Any, reason: str, incident_ref: str = "", decision_public_id: uuid.UUID | None = None
) -> LegalHold:
    """Hold every decision of ``incident_ref``, or the decision ``decision_public_id``: the
    retention service keeps them (and the database refuses their removal) until released.
    Side effects: the hold row and its audit-log entry."""
    if not actor.has_perm(PLACE_HOLD):
        raise RetentionError("Only a governance lead may place a legal hold.")
    legal_hold_check(reason=reason, incident_ref=incident_ref, decision_public_id=decision_public_id)
    incident_ref = incident_ref.strip()
    with transaction.atomic(), acting_as(actor):
        return LegalHold.objects.create(
            incident_ref=incident_ref, decision_public_id=decision_public_id, reason=reason.strip(), placed_by=actor
        )


def legal_hold_check(*, reason: str, incident_ref: str = "", decision_public_id: uuid.UUID | None = None) -> None:
    """Raise RetentionError unless a hold could be placed with these values (a reason; an
    incident or one decision that is in the database): what ``legal_hold_place`` checks, for
    forms to show before they save."""
    if not reason.strip():
        raise RetentionError("Say why the hold is placed.")
    if bool(incident_ref.strip()) == (decision_public_id is not None):
        raise RetentionError("A legal hold is on an incident or on one decision, exactly one.")
    if decision_public_id is not None and not DecisionRequest.objects.filter(public_id=decision_public_id).exists():
        raise RetentionError(f"No decision {decision_public_id} is held in the database (archived or never existed).")


def legal_hold_release(*, hold: LegalHold, actor: Any, reason: str) -> LegalHold:
    """Release ``hold`` (once), saying why. Locks its row. Side effects: the audit-log entry."""
    if not actor.has_perm(RELEASE_HOLD):
        raise RetentionError("Only a governance lead may release a legal hold.")
    if not reason.strip():
        raise RetentionError("Say why the hold is released.")
    with transaction.atomic(), acting_as(actor):
        locked = LegalHold.objects.select_for_update().get(pk=hold.pk)
        if locked.released_at is not None:
            raise RetentionError("This hold was released already.")
        locked.released_at = timezone.now()
        locked.released_by = actor
        locked.release_reason = reason.strip()
        locked.save(update_fields=["released_at", "released_by", "release_reason"])
    return locked


# --- the run ------------------------------------------------------------------------------------


def retention_run(*, actor: Any, now: datetime | None = None, limit: int = BATCH) -> RetentionRun:
    """Archive and remove up to ``limit`` closed decisions past their retention (see the module
    docstring). Returns the run: ``done``, ``nothing`` (nothing was due) or ``failed`` (nothing
    removed; ``error`` says why). Locks the decisions it removes, and the ledger head while the
    checkpoint is signed."""
    now = now or timezone.now()
    with acting_as(actor):
        run = RetentionRun.objects.create(started_by=actor, started_at=now)
    due = past_retention(now=now)
    run.held = due.filter(on_hold=True).count()
    chosen = list(due.filter(on_hold=False).order_by("decided_at", "pk").values_list("pk", flat=True)[:limit])
    if not chosen:
        return _finish(run, RetentionStatus.NOTHING, actor=actor)
    verification = verify_ledger()
    if not verification.intact:
        return _finish(
            run, RetentionStatus.FAILED, actor=actor, error=f"the log does not verify: {verification.problems[0]}"
        )
    try:
        checkpoint = checkpoint_now() or newest_checkpoint()
    except (keys.SigningKeyMissing, LedgerInconsistent) as exc:
        return _finish(run, RetentionStatus.FAILED, actor=actor, error=f"no checkpoint could be signed: {exc}")
    if checkpoint is None:
        return _finish(run, RetentionStatus.FAILED, actor=actor, error="the log has no signed checkpoint")
    with acting_as(actor):
        run.checkpoint = checkpoint
        run.save(update_fields=["checkpoint", "held"])
    try:
        with transaction.atomic(), acting_as(actor):
            _remove(run, chosen, checkpoint, now=now)
    except Exception as exc:  # rolled back: nothing removed; the run says why
        logger.exception("retention run %s failed; nothing was removed", run.public_id)
        for path in (run.archive_path, f"{run.archive_path}.manifest.json"):
            if path:
                Path(path).unlink(missing_ok=True)
        run.refresh_from_db()
        return _finish(run, RetentionStatus.FAILED, actor=actor, error=str(exc) or type(exc).__name__)
    logger.warning(
        "retention run %s removed %s decisions (%s events), archived in %s; %s kept by legal holds",
        run.public_id, run.decisions_removed, run.events_removed, run.archive_path, run.held,
    )  # fmt: skip
    return run


def _finish(run: RetentionRun, status: str, *, actor: Any, error: str = "") -> RetentionRun:
    with acting_as(actor):
        run.status = status
        run.error = error
        run.finished_at = timezone.now()
        run.save()
    if status == RetentionStatus.FAILED:
        logger.error("retention run %s removed nothing: %s", run.public_id, error)
    return run


def _removable(pks: list[int], checkpoint: LedgerCheckpoint) -> tuple[list[Any], dict[int, list[DecisionEvent]], int]:
    """The decisions (rows locked) whose every event is in ``checkpoint`` and that no hold
    covers now, their events, and how many were deferred."""
    decisions = list(
        DecisionRequest.objects.select_for_update(of=("self",))
        .filter(pk__in=pks)
        .annotate(on_hold=held())
        .select_related("action_type")
        .order_by("pk")
    )
    events: dict[int, list[DecisionEvent]] = {d.pk: [] for d in decisions}
    for event in DecisionEvent.objects.filter(decision_id__in=events).select_related("leaf").order_by("seq"):
        events[event.decision_id].append(event)

    def covered(event: DecisionEvent) -> bool:
        leaf = getattr(event, "leaf", None)
        return leaf is not None and leaf.position < checkpoint.tree_size

    kept = [d for d in decisions if not d.on_hold and events[d.pk] and all(covered(e) for e in events[d.pk])]
    return kept, events, len(decisions) - len(kept)


def _remove(run: RetentionRun, pks: list[int], checkpoint: LedgerCheckpoint, *, now: datetime) -> None:
    decisions, events, deferred = _removable(pks, checkpoint)
    run.deferred = deferred
    if not decisions:
        run.status, run.finished_at = RetentionStatus.NOTHING, timezone.now()
        run.save()
        return
    path = _write_archive(run, decisions, checkpoint, now=now)
    ArchivedDecision.objects.bulk_create([_archived(run, d, events[d.pk]) for d in decisions])
    removed = [(e.leaf.position, e.hash) for d in decisions for e in events[d.pk]]
    ArchivedEvent.objects.bulk_create(
        ArchivedEvent(position=position, run=run, decision_public_id=d.public_id, seq=e.seq, event_hash=e.hash)
        for d in decisions
        for e in events[d.pk]
        for position in [e.leaf.position]
    )
    statement = archive.manifest(run, events=removed, decisions=[str(d.public_id) for d in decisions])
    run.manifest_sha256, run.key_id, run.signature = archive.sign(statement)
    _write_file(Path(f"{path}.manifest.json"), json.dumps({**statement, "signature": run.signature,
                                                           "key_id": run.key_id}, indent=2).encode())  # fmt: skip
    run.status = RetentionStatus.REMOVING
    run.save()
    ids = [d.pk for d in decisions]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('countersign.retention_run', %s, true)", [str(run.public_id)])
    DecisionEvent.objects.filter(decision_id__in=ids).delete()
    SignOff.objects.filter(decision_id__in=ids).delete()
    Outcome.objects.filter(decision_id__in=ids).delete()
    Escalation.objects.filter(decision_id__in=ids).delete()
    DecisionRequestUserObjectPermission.objects.filter(content_object_id__in=ids).delete()
    DecisionRequest.objects.filter(pk__in=ids).delete()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('countersign.retention_run', '', true)")
    run.status, run.finished_at = RetentionStatus.DONE, timezone.now()
    run.decisions_removed, run.events_removed = len(decisions), len(removed)
    run.save()


def _archived(run: RetentionRun, decision: DecisionRequest, events: list[DecisionEvent]) -> ArchivedDecision:
    decided = decision.decided_at or decision.created_at
    months = decision.action_type.retention_months
    return ArchivedDecision(
        run=run,
        decision_pk=decision.pk,
        decision_public_id=decision.public_id,
        action_type=decision.action_type.slug,
        incident_ref=decision.incident_ref,
        status=decision.status,
        created_at=decision.created_at,
        decided_at=decided,
        retention_months=months,
        kept_until=months_after(decided, months),
        event_count=len(events),
        last_event_hash=events[-1].hash,
    )


def _rows(decision: DecisionRequest) -> list[dict[str, Any]]:
    """The decision's rows as Django serialises them (every field, as stored)."""
    objects: list[Any] = [decision, *decision.signoffs.all(), *decision.escalations.all()]
    objects += list(Outcome.objects.filter(decision=decision))
    return json.loads(serializers.serialize("json", objects))


def _write_archive(
    run: RetentionRun, decisions: list[DecisionRequest], checkpoint: LedgerCheckpoint, *, now: datetime
) -> Path:
    """Write the archive (one JSON line per decision after a header), fsynced; record its path
    and SHA-256 on ``run``. Raises ReceiptNotReady when a decision cannot be proven."""
    folder = Path(settings.RETENTION_ARCHIVE_DIR)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{now:%Y%m%dT%H%M%SZ}-{run.public_id}.jsonl"
    header = {"format": ARCHIVE_FORMAT, "run": str(run.public_id), "checkpoint": checkpoint.as_signed()}
    lines = [json.dumps(header, sort_keys=True)]
    tree = StoredTree(checkpoint.tree_size)  # one tree: its cache of subtree roots serves every proof
    for decision in decisions:
        try:
            receipt = receipt_for(decision, checkpoint=checkpoint, tree=tree)
        except ReceiptNotReady as exc:
            raise RetentionError(f"decision {decision.public_id} cannot be proven: {exc}") from exc
        entry = {"decision": str(decision.public_id), "rows": _rows(decision), "receipt": receipt}
        lines.append(json.dumps(entry, sort_keys=True, default=str))
    body = ("\n".join(lines) + "\n").encode()
    _write_file(path, body)
    run.archive_path, run.archive_sha256 = str(path), hashlib.sha256(body).hexdigest()
    return path


def _write_file(path: Path, body: bytes) -> None:
    """Write ``body`` to ``path`` durably: a temporary file, fsynced, renamed into place."""
    temporary = path.with_name(path.name + ".part")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
    try:
        os.write(descriptor, body)
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    temporary.replace(path)
