"""Receipts: one decision, proven offline. A receipt holds the decision's events exactly as
stored, each with its inclusion proof in the log, the signed checkpoint the proofs lead to and
the public key that signed it; ``decisions/verifier.py`` checks it without Django or a database.
"""

from __future__ import annotations

import base64
from typing import Any

from decisions.ledger import keys
from decisions.ledger.checkpoints import LedgerInconsistent, checkpoint_now
from decisions.ledger.state import CLOSING
from decisions.ledger.tree import StoredTree
from decisions.ledger.verification import newest_checkpoint
from decisions.models import DecisionEvent, DecisionRequest, DecisionStatus, EventKind, LedgerCheckpoint
from decisions.verifier import RECEIPT_FORMAT


class ReceiptNotReady(Exception):
    """Some of the decision's events are not in a signed checkpoint yet (and none can be signed)."""


def _covering_checkpoint(positions: list[int | None]) -> LedgerCheckpoint:
    """The newest checkpoint, signing one now if it does not cover every event yet."""
    checkpoint = newest_checkpoint()
    needed = max((p for p in positions if p is not None), default=-1) + 1
    if checkpoint is None or None in positions or checkpoint.tree_size < needed:
        try:
            checkpoint = checkpoint_now() or newest_checkpoint()
        except (keys.SigningKeyMissing, LedgerInconsistent) as exc:
            raise ReceiptNotReady(f"The log cannot be checkpointed now: {exc}") from exc
    if checkpoint is None:
        raise ReceiptNotReady("The log has no signed checkpoint yet.")
    return checkpoint


def _events_with_leaves(decision: DecisionRequest) -> list[DecisionEvent]:
    return list(DecisionEvent.objects.filter(decision=decision).select_related("leaf").order_by("seq"))


def receipt_for(
    decision: DecisionRequest, *, checkpoint: LedgerCheckpoint | None = None, tree: StoredTree | None = None
) -> dict[str, Any]:
    """The receipt of ``decision`` (see the module docstring). Signs a checkpoint first when
    the newest one does not cover the decision's latest events, unless ``checkpoint`` names the
    one to prove against (with ``tree``, its tree: one tree for many receipts reuses its cached
    subtree roots)."""
    events = _events_with_leaves(decision)
    if checkpoint is None:
        positions = [getattr(getattr(e, "leaf", None), "position", None) for e in events]
        checkpoint = _covering_checkpoint(positions)
        if None in positions:  # signing the checkpoint sequenced them: read their leaves again
            events = _events_with_leaves(decision)
    missing = [e.seq for e in events if getattr(e, "leaf", None) is None or e.leaf.position >= checkpoint.tree_size]
    if missing:
        raise ReceiptNotReady(f"Events {missing} are not in a signed checkpoint yet; try again in a minute.")
    if tree is None or tree.size != checkpoint.tree_size:
        tree = StoredTree(checkpoint.tree_size)
    key = keys.trusted_keys().get(checkpoint.key_id)
    if key is None:
        raise ReceiptNotReady(f"The checkpoint's signing key {checkpoint.key_id} is not configured as trusted.")
    closing = next((e for e in reversed(events) if e.kind in CLOSING), None)
    received = next((e for e in events if e.kind == EventKind.RECEIVED), None)
    return {
        "format": RECEIPT_FORMAT,
        # Only what the events prove (the verifier replays them): nothing it could not check.
        "decision": {
            "id": str(decision.public_id),
            "status": (closing.data.get("status", DecisionStatus.AUTO_APPROVED) if closing else DecisionStatus.PENDING),
            "final_action": closing.data.get("final_action") if closing else None,
            "decided_at": closing.at.isoformat() if closing else None,
            "action_type": received.data.get("action_type") if received else None,
            "event_count": len(events),
        },
        "events": [
            {
                "seq": event.seq,
                "kind": event.kind,
                "at": event.at.isoformat(),
                "actor_id": event.actor_id,
                "data": event.data,
                "prev_hash": event.prev_hash,
                "hash": event.hash,
                "position": event.leaf.position,
                "inclusion_proof": tree.prove_inclusion(event.leaf.position + 1, checkpoint.tree_size).serialize(),
            }
            for event in events
        ],
        "checkpoint": checkpoint.as_signed(),
        "public_key": {"key_id": checkpoint.key_id, "ed25519": base64.b64encode(key).decode()},
    }
