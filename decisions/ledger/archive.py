"""What retention removed, as the log sees it: the manifest of a retention run (which leaf
positions it removed, with the hash each leaf commits to, under which signed checkpoint, with
which archive), signed with the ledger key kept outside the database, and the checks
verification runs on it.

A removed event's leaf stays in the tree, so every checkpoint still verifies. Verification asks
this module which positions were removed and checks, for each: that its leaf is the hash of the
archived event hash, that the run that removed it is signed by a trusted key and that its
manifest still lists exactly the positions the database says it removed. A row deleted any other
way (a superuser with the triggers off) has no such record and is reported as deleted.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable
from typing import Any

from django.conf import settings

from decisions.ledger import keys
from decisions.models import ArchivedDecision, ArchivedEvent, RetentionRun, RetentionStatus
from decisions.verifier import key_id, leaf_hash, signature_valid

MANIFEST_FORMAT = "countersign-retention/1"


def manifest(run: RetentionRun, *, events: Iterable[tuple[int, str]], decisions: Iterable[str]) -> dict[str, Any]:
    """The statement a run signs: its checkpoint, its archive, the positions (and the event hash
    at each) and the decisions it removed."""
    checkpoint = run.checkpoint
    return {
        "format": MANIFEST_FORMAT,
        "origin": settings.LEDGER_ORIGIN,
        "run": str(run.public_id),
        "checkpoint": {
            "tree_size": checkpoint.tree_size if checkpoint else 0,
            "root_hash": checkpoint.root_hash if checkpoint else "",
        },
        "archive_sha256": run.archive_sha256,
        "removed": sorted([int(position), digest] for position, digest in events),
        "decisions": sorted(decisions),
    }


def manifest_bytes(statement: dict[str, Any]) -> bytes:
    return json.dumps(statement, sort_keys=True, separators=(",", ":")).encode()


def sign(statement: dict[str, Any]) -> tuple[str, str, str]:
    """(manifest SHA-256, key id, base64 signature) of ``statement``, with the ledger key.
    Raises SigningKeyMissing without one."""
    key = keys.signing_key()
    body = manifest_bytes(statement)
    return (
        hashlib.sha256(body).hexdigest(),
        key_id(keys.public_bytes(key)),
        base64.b64encode(key.sign(body)).decode(),
    )


def stored_manifest(run: RetentionRun) -> dict[str, Any]:
    """The run's manifest rebuilt from what the database says it removed."""
    events = ArchivedEvent.objects.filter(run=run).values_list("position", "event_hash")
    decisions = (str(d) for d in ArchivedDecision.objects.filter(run=run).values_list("decision_public_id", flat=True))
    return manifest(run, events=events, decisions=decisions)


def check_runs(runs: Iterable[RetentionRun], trusted: dict[str, bytes]) -> list[str]:
    """Every finished run that removed something is signed by a trusted key over exactly what
    the database says it removed."""
    problems = []
    for run in runs:
        where = f"retention run {run.public_id}"
        if run.status != RetentionStatus.DONE:
            if run.events.exists() or run.decisions.exists():
                problems.append(f"{where}: archived events but never finished ({run.status})")
            continue
        body = manifest_bytes(stored_manifest(run))
        key = trusted.get(run.key_id)
        if key is None:
            problems.append(f"{where}: signed by key {run.key_id or 'none'}, which is not trusted")
        elif hashlib.sha256(body).hexdigest() != run.manifest_sha256 or not signature_valid(
            public_key=key, body=body, signature_b64=run.signature
        ):
            problems.append(f"{where}: its signed manifest does not match what the database says it removed")
    return problems


def removed_at(positions: Iterable[int]) -> dict[int, ArchivedEvent]:
    """The archive records of the given leaf positions (those a retention run removed)."""
    wanted = list(positions)
    if not wanted:
        return {}
    return {a.position: a for a in ArchivedEvent.objects.filter(position__in=wanted).select_related("run")}


def check_removed(where: str, position: int, digest: bytes, archived: ArchivedEvent | None) -> str | None:
    """None when the event at ``position`` was removed by a finished retention run and its leaf
    commits to the hash the run archived; else what is wrong."""
    if archived is None:
        return f"{where}, leaf {position}: its event was deleted from the database"
    if archived.run.status != RetentionStatus.DONE:
        return f"{where}, leaf {position}: removed by retention run {archived.run.public_id}, which never finished"
    if digest != leaf_hash(archived.event_hash):
        run = archived.run.public_id
        return f"{where}, leaf {position}: the event hash retention run {run} archived is not the leaf's"
    return None
