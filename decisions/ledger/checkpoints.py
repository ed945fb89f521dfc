"""Signed checkpoints, and the witness outside the database that keeps them.

A checkpoint says: at this instant the log held N leaves with this root. It is signed with the
Ed25519 key kept outside the database (``decisions.ledger.keys``) and appended to the witness: an
append-only file (``LEDGER_WITNESS_FILE``, one JSON object per line, fsynced), plus, when
configured, an email to the auditors and a signed POST to a witness URL. A new checkpoint is
signed only if the tree it states is consistent with the newest one the witness already holds
(a consistency proof, checked against that signed root): a log rewritten in the database is
never signed over.
"""

from __future__ import annotations

import base64
import json
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from pymerkle import InvalidProof

from decisions.ledger import keys
from decisions.ledger.sequencer import lock_head, sequence_pending
from decisions.ledger.tree import StoredTree
from decisions.models import LedgerCheckpoint
from decisions.outbox import messages, store
from decisions.verifier import checkpoint_body, checkpoint_signature_valid, key_id

logger = logging.getLogger(__name__)


class LedgerInconsistent(Exception):
    """The tree in the database no longer extends the newest witnessed checkpoint."""


@dataclass(frozen=True)
class Witnessed:
    """One checkpoint as the witness holds it (``line``: where, for messages)."""

    checkpoint: dict[str, Any]
    line: int

    @property
    def tree_size(self) -> int:
        return int(self.checkpoint["tree_size"])

    @property
    def root(self) -> bytes:
        return bytes.fromhex(self.checkpoint["root_hash"])

    def __str__(self) -> str:
        return f"checkpoint of {self.checkpoint.get('timestamp')} (size {self.tree_size}, witness line {self.line})"


def witness_path() -> Path:
    return Path(settings.LEDGER_WITNESS_FILE)


def witnessed() -> list[Witnessed]:
    """Every checkpoint in the witness, in the order written (none when it does not exist)."""
    path = witness_path()
    if not path.exists():
        return []
    found = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                found.append(Witnessed(checkpoint=json.loads(line), line=number))
    return found


def _append_to_witness(signed: dict[str, Any]) -> None:
    path = witness_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(signed, sort_keys=True, separators=(",", ":")) + "\n"
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(descriptor, line.encode())
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _timestamp(now: datetime) -> str:
    return now.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def sign(*, tree_size: int, root: bytes, now: datetime) -> dict[str, Any]:
    """A signed checkpoint (as the witness stores it) with the current signing key."""
    key = keys.signing_key()
    fields = {
        "origin": settings.LEDGER_ORIGIN,
        "tree_size": tree_size,
        "root_hash": root.hex(),
        "timestamp": _timestamp(now),
    }
    signature = key.sign(checkpoint_body(**fields))
    return {**fields, "key_id": key_id(keys.public_bytes(key)), "signature": base64.b64encode(signature).decode()}


def check_extends(tree: StoredTree, previous: Witnessed, size: int, root: bytes) -> None:
    """Raise LedgerInconsistent unless the tree of ``size`` leaves extends ``previous``."""
    if size < previous.tree_size:
        raise LedgerInconsistent(f"the log holds {size} leaves; {previous} signed {previous.tree_size}")
    if size == previous.tree_size:
        if root != previous.root:
            raise LedgerInconsistent(f"the log's root at size {size} differs from the signed {previous}")
        return
    try:
        proof = tree.prove_consistency(previous.tree_size, size)
        proof.verify(previous.root, root)
    except (InvalidProof, LookupError) as exc:
        raise LedgerInconsistent(f"the log is not an extension of the signed {previous}: {exc}") from exc


def checkpoint_now(*, now: datetime | None = None) -> LedgerCheckpoint | None:
    """Sequence what is pending, then sign and publish a checkpoint of the tree, if it grew.

    Locks the ledger head (one checkpoint at a time). Raises LedgerInconsistent when the tree no
    longer extends the newest witnessed checkpoint (nothing is signed then), SigningKeyMissing
    without a key. Side effects: a LedgerCheckpoint row, a line in the witness file, and after
    commit the email and witness-URL deliveries when configured."""
    sequence_pending()
    now = now or timezone.now()
    with transaction.atomic():
        head = lock_head()
        if head.size == 0:
            return None
        history = witnessed()
        previous = history[-1] if history else None
        tree = StoredTree(head.size)
        root = tree.get_root(head.size)
        if previous is not None:
            check_extends(tree, previous, head.size, root)
            if previous.tree_size == head.size:
                return None  # nothing new since the newest checkpoint
        signed = sign(tree_size=head.size, root=root, now=now)
        checkpoint = LedgerCheckpoint.objects.create(**signed)
        _append_to_witness(signed)
        if settings.LEDGER_WITNESS_EMAILS or settings.LEDGER_WITNESS_URL:
            store.record([messages.checkpoint_publication(checkpoint.pk)])
    logger.info("ledger checkpoint: %s leaves, root %s", checkpoint.tree_size, checkpoint.root_hash)
    return checkpoint


def verify_signature(witness: Witnessed, trusted: dict[str, bytes]) -> str | None:
    """None when ``witness`` is signed by a trusted key, else what is wrong."""
    key = trusted.get(str(witness.checkpoint.get("key_id")))
    if key is None:
        return f"{witness}: signed by key {witness.checkpoint.get('key_id')}, which is not trusted"
    if not checkpoint_signature_valid(witness.checkpoint, key):
        return f"{witness}: its signature does not verify (forged or altered)"
    return None


def iter_signed(history: list[Witnessed]) -> Iterator[tuple[Witnessed | None, Witnessed]]:
    """Consecutive pairs (previous, checkpoint) of the witness, the first with previous None."""
    previous = None
    for witness in history:
        yield previous, witness
        previous = witness
