"""Verify a decision receipt offline: no Django, no database, only this file, ``pymerkle`` and
``cryptography`` (``pip install pymerkle cryptography``).

    python decisions/verifier.py receipt.json [--trusted-key BASE64_ED25519_PUBLIC_KEY]

A receipt (downloaded from the decision page or ``GET /api/v1/decisions/{id}/receipt/``) holds a
decision's events, each event's inclusion proof in the one append-only log of all decisions
(a Merkle tree hashed as RFC 6962 / RFC 9162: leaf ``SHA-256(0x00 || event hash)``, node
``SHA-256(0x01 || left || right)``), and the signed checkpoint (tree size, root, time) the proofs
lead to. This script recomputes every event's hash from its content, checks that each event
links to the previous one, checks each inclusion proof against the checkpoint's root, and checks
the checkpoint's Ed25519 signature. Pass ``--trusted-key`` with the public key your organisation
publishes: without it the key carried in the receipt is used, which proves integrity but not
origin. Exit status 0 when everything verifies, 1 naming what does not.

The portal computes hashes with these same functions (``decisions.lifecycle.eventlog`` imports
them), so the two can never disagree.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

GENESIS = "0" * 64
RECEIPT_FORMAT = "countersign-receipt/1"
LEAF_PREFIX = b"\x00"


def event_hash(
    *, decision_public_id: str, seq: int, kind: str, at: datetime, actor_id: int | None, data: Any, prev_hash: str
) -> str:
    """SHA-256 over the canonical JSON of an event's content and the previous event's hash."""
    body = {
        "decision": str(decision_public_id),
        "seq": seq,
        "kind": kind,
        "at": at.astimezone(UTC).isoformat(timespec="microseconds"),
        "actor": actor_id,
        "data": data,
        "prev": prev_hash,
    }
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def leaf_hash(event_hash_hex: str) -> bytes:
    """The event's leaf in the log's Merkle tree (RFC 9162 leaf prefix)."""
    return hashlib.sha256(LEAF_PREFIX + bytes.fromhex(event_hash_hex)).digest()


def key_id(public_key: bytes) -> str:
    """A short, stable name for an Ed25519 public key: the first 16 hex digits of its SHA-256."""
    return hashlib.sha256(public_key).hexdigest()[:16]


def checkpoint_body(*, origin: str, tree_size: int, root_hash: str, timestamp: str) -> bytes:
    """The exact bytes a checkpoint's signature covers (one field per line, as in signed notes)."""
    return f"{origin}\n{tree_size}\n{root_hash}\n{timestamp}\n".encode()


def signature_valid(*, public_key: bytes, body: bytes, signature_b64: str) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(_b64(signature_b64), body)
    except (InvalidSignature, ValueError):
        return False
    return True


def checkpoint_signature_valid(checkpoint: dict[str, Any], public_key: bytes) -> bool:
    body = checkpoint_body(
        origin=checkpoint["origin"],
        tree_size=checkpoint["tree_size"],
        root_hash=checkpoint["root_hash"],
        timestamp=checkpoint["timestamp"],
    )
    return checkpoint.get("key_id") == key_id(public_key) and signature_valid(
        public_key=public_key, body=body, signature_b64=checkpoint["signature"]
    )


@dataclass
class Report:
    """What verifying a receipt found: ``problems`` empty means everything verified."""

    decision: str
    events: int
    problems: list[str]
    key_pinned: bool

    @property
    def ok(self) -> bool:
        return not self.problems


def _parse_at(value: str) -> datetime:
    """An instant exactly as the portal writes it (ISO 8601 with its offset; one spelling only)."""
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None or parsed.isoformat() != value:
        raise ValueError(f"not an instant in its canonical form: {value}")
    return parsed


def _b64(value: str) -> bytes:
    """Base64 in its one canonical spelling (the padding bits of the last character matter)."""
    decoded = base64.b64decode(value, validate=True)
    if base64.b64encode(decoded).decode() != value:
        raise ValueError("base64 not in its canonical form")
    return decoded


def _check_chain(decision_id: str, events: Sequence[dict[str, Any]], problems: list[str]) -> None:
    prev = GENESIS
    for expected_seq, event in enumerate(events, start=1):
        where = f"event #{event.get('seq')}"
        if event.get("seq") != expected_seq:
            problems.append(f"{where}: expected event #{expected_seq} next (an event is missing or out of order)")
        if event.get("prev_hash") != prev:
            problems.append(f"{where}: does not link to the previous event")
        recomputed = event_hash(
            decision_public_id=decision_id,
            seq=event["seq"],
            kind=event["kind"],
            at=_parse_at(event["at"]),
            actor_id=event.get("actor_id"),
            data=event.get("data"),
            prev_hash=event["prev_hash"],
        )
        if recomputed != event.get("hash"):
            problems.append(f"{where}: its content does not match its hash (the event was altered)")
        prev = event.get("hash", "")


def _check_inclusion(events: Sequence[dict[str, Any]], checkpoint: dict[str, Any], problems: list[str]) -> None:
    from pymerkle import InclusionProof, InvalidProof

    root = bytes.fromhex(checkpoint["root_hash"])
    size = checkpoint["tree_size"]
    for event in events:
        where = f"event #{event.get('seq')}"
        try:
            proof = InclusionProof.deserialize(event["inclusion_proof"])
            if proof.serialize() != event["inclusion_proof"] or proof.algorithm != "sha256":
                raise InvalidProof("not a SHA-256 proof in its canonical form")
            proof.verify(leaf_hash(event["hash"]), root, index=event["position"] + 1, size=size)
        except (InvalidProof, KeyError, TypeError, ValueError) as exc:
            problems.append(f"{where}: not in the signed log at position {event.get('position')} ({exc})")


CLOSING = {"decided", "expired", "cancelled", "auto_approved"}
EVENT_FIELDS = {"seq", "kind", "at", "actor_id", "data", "prev_hash", "hash", "position", "inclusion_proof"}


def _check_summary(decision: dict[str, Any], events: Sequence[dict[str, Any]], problems: list[str]) -> None:
    """The receipt's summary of the decision says what its events say."""
    logged: dict[str, Any] = {"status": "pending", "final_action": None, "decided_at": None, "action_type": None}
    for event in events:
        data = event.get("data") or {}
        if event.get("kind") == "received":
            logged["action_type"] = data.get("action_type")
        elif event.get("kind") in CLOSING:
            logged["status"] = data.get("status", "auto_approved")
            logged["final_action"] = data.get("final_action")
            logged["decided_at"] = event.get("at")
    logged["event_count"] = len(events)
    for name, value in logged.items():
        if decision.get(name) != value:
            problems.append(f"the receipt says {name} {decision.get(name)!r}, its events say {value!r}")
    extra = sorted(set(decision) - {"id", *logged})
    if extra:
        problems.append(f"the receipt's summary holds fields its events do not prove: {', '.join(extra)}")


def verify_receipt(receipt: dict[str, Any], *, trusted_key: bytes | None = None) -> Report:
    """Everything a receipt claims, checked; see the module docstring."""
    problems: list[str] = []
    decision_id = str(receipt.get("decision", {}).get("id", "?"))
    events = receipt.get("events", [])
    try:
        if receipt.get("format") != RECEIPT_FORMAT:
            problems.append(f"unknown receipt format {receipt.get('format')!r}")
        checkpoint = receipt["checkpoint"]
        carried = _b64(receipt["public_key"]["ed25519"])
        if receipt["public_key"].get("key_id") != key_id(carried) or set(receipt["public_key"]) != {
            "key_id",
            "ed25519",
        }:
            problems.append("the public key block does not name its key")
        public_key = trusted_key or carried
        if not checkpoint_signature_valid(checkpoint, public_key):
            problems.append(
                f"the checkpoint (size {checkpoint.get('tree_size')}) is not signed by key {key_id(public_key)}"
            )
        if not events:
            problems.append("the receipt holds no events")
        _check_chain(decision_id, events, problems)
        _check_inclusion(events, checkpoint, problems)
        _check_summary(receipt["decision"], events, problems)
        unproven = sorted(set(receipt) - {"format", "decision", "events", "checkpoint", "public_key"})
        if unproven:
            problems.append(f"the receipt holds parts nothing proves: {', '.join(unproven)}")
        for event in events:
            extra = sorted(set(event) - EVENT_FIELDS)
            if extra:
                problems.append(f"event #{event.get('seq')} holds fields its hash does not cover: {', '.join(extra)}")
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        problems.append(f"malformed receipt: {exc!r}")
    return Report(decision=decision_id, events=len(events), problems=problems, key_pinned=trusted_key is not None)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Verify a Countersign decision receipt offline.")
    parser.add_argument("receipt", help="path to the receipt (JSON)")
    parser.add_argument("--trusted-key", help="your organisation's published Ed25519 public key (base64)")
    args = parser.parse_args(argv)
    try:
        with open(args.receipt, encoding="utf-8") as handle:
            receipt = json.load(handle)
        trusted = base64.b64decode(args.trusted_key, validate=True) if args.trusted_key else None
    except (OSError, ValueError) as exc:
        print(f"cannot read the receipt: {exc}", file=sys.stderr)
        return 1
    report = verify_receipt(receipt, trusted_key=trusted)
    if report.ok:
        checkpoint = receipt["checkpoint"]
        print(
            f"VERIFIED: decision {report.decision}, {report.events} events, in the log signed at "
            f"{checkpoint['timestamp']} (size {checkpoint['tree_size']}, key {checkpoint['key_id']})"
        )
        if not report.key_pinned:
            print("note: the signing key came from the receipt itself; pass --trusted-key to check its origin")
        return 0
    print(f"NOT VERIFIED: decision {report.decision}", file=sys.stderr)
    for problem in report.problems:
        print(f"  - {problem}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
