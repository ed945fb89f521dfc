"""The one append-only log over all decisions: every decision event is a leaf of a Merkle tree
(RFC 9162 hashing), whose signed checkpoints are published outside the database.

- ``LedgerPending``: events written but not yet in the tree (a database trigger adds each new
  event here, whoever inserts it); the sequencer moves them into the tree in batches.
- ``LedgerLeaf``: position -> event, with the leaf hash. Insert-only. A leaf outlives its event
  when a retention run removes the event (``decisions.models.retention.ArchivedEvent``).
- ``LedgerNode``: the hash of every complete subtree of 2^8, 2^16, 2^24 ... leaves ("tiles"),
  so roots and proofs read a few hundred rows, never the whole log. Insert-only.
- ``LedgerHead``: one row, the tree's size; its row lock serialises the sequencer.
- ``LedgerCheckpoint``: a signed (tree size, root, time), also appended to the witness outside
  the database; the witness, not this table, is what verification trusts.
- ``LedgerVerification``: every verification run and its result, for the evidence pack.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import F, Q

from decisions.models.events import DecisionEvent


class LedgerHead(models.Model):
    """The tree's size (leaves in it). One row (id 1)."""

    size = models.BigIntegerField(default=0)
    sequenced_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(name="ledger_head_singleton", condition=Q(id=1)),
            models.CheckConstraint(name="ledger_head_size_non_negative", condition=Q(size__gte=0)),
        ]

    def __str__(self) -> str:
        return f"ledger of {self.size} leaves"


class LedgerPending(models.Model):
    """An event not yet in the tree."""

    event = models.OneToOneField(DecisionEvent, on_delete=models.PROTECT, primary_key=True, related_name="+")

    def __str__(self) -> str:
        return f"pending event {self.event_id}"


class LedgerLeaf(models.Model):
    """Leaf ``position`` (from 0) of the tree: one decision event."""

    position = models.BigIntegerField(primary_key=True)
    # No foreign-key constraint: a retention run removes archived events and their leaves stay
    # (decisions.models.retention.ArchivedEvent names them); the database's triggers guard deletion.
    event = models.OneToOneField(DecisionEvent, on_delete=models.DO_NOTHING, db_constraint=False, related_name="leaf")
    hash = models.BinaryField(max_length=32)
    decision_public_id = models.UUIDField(help_text="Names the decision even if its rows were deleted.")

    class Meta:
        constraints = [models.CheckConstraint(name="ledger_leaf_position", condition=Q(position__gte=0))]

    def __str__(self) -> str:
        return f"leaf {self.position}"


class LedgerNode(models.Model):
    """The root of the complete subtree of 2^``level`` leaves starting at leaf ``index << level``."""

    level = models.PositiveSmallIntegerField()
    index = models.BigIntegerField()
    hash = models.BinaryField(max_length=32)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["level", "index"], name="ledger_node_once"),
            models.CheckConstraint(name="ledger_node_level", condition=Q(level__gt=0)),
        ]

    def __str__(self) -> str:
        return f"node {self.level}/{self.index}"


class LedgerCheckpoint(models.Model):
    """A signed statement: at ``timestamp`` the log held ``tree_size`` leaves with this root."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    origin = models.CharField(max_length=200)
    tree_size = models.BigIntegerField()
    root_hash = models.CharField(max_length=64)
    timestamp = models.CharField(max_length=40, help_text="ISO 8601, UTC: exactly as signed.")
    key_id = models.CharField(max_length=16)
    signature = models.CharField(max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["tree_size", "id"]
        constraints = [
            models.UniqueConstraint(fields=["tree_size", "root_hash"], name="ledger_checkpoint_once_per_state"),
            models.CheckConstraint(name="ledger_checkpoint_size", condition=Q(tree_size__gt=0)),
        ]

    def __str__(self) -> str:
        return f"checkpoint {self.tree_size} @ {self.timestamp}"

    def as_signed(self) -> dict[str, object]:
        """The checkpoint as the witness stores it and a receipt carries it."""
        return {
            "origin": self.origin,
            "tree_size": self.tree_size,
            "root_hash": self.root_hash,
            "timestamp": self.timestamp,
            "key_id": self.key_id,
            "signature": self.signature,
        }


class VerificationMode(models.TextChoices):
    INCREMENTAL = "incremental", "Incremental (from the last verified checkpoint)"
    FULL = "full", "Full (every event)"


class LedgerVerification(models.Model):
    """One verification of the log and what it found."""

    mode = models.CharField(max_length=12, choices=VerificationMode.choices)
    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField()
    intact = models.BooleanField()
    problems = models.JSONField(default=list, help_text="What did not verify (the first 100).")
    checkpoint_size = models.BigIntegerField(default=0, help_text="The newest signed checkpoint verified against.")
    checkpoint_root = models.CharField(max_length=64, blank=True)
    from_size = models.BigIntegerField(default=0, help_text="Leaves before this were proven by an earlier run.")
    events_checked = models.BigIntegerField(default=0)
    decisions = models.BigIntegerField(default=0)
    events = models.BigIntegerField(default=0)
    unsequenced = models.BigIntegerField(default=0, help_text="Events not yet in a signed checkpoint.")
    xid = models.BigIntegerField(
        default=0, help_text="PostgreSQL: the transaction the run started in (rows written later are re-read next)."
    )

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [
            models.Index(fields=["mode", "intact", "-started_at"], name="ledger_verification_idx"),
            # The newest run of any mode: the health banner reads it on every page.
            models.Index(fields=["-started_at", "-id"], name="ledger_verification_latest"),
        ]
        constraints = [
            models.CheckConstraint(name="ledger_verification_sizes", condition=Q(from_size__lte=F("checkpoint_size"))),
        ]

    def __str__(self) -> str:
        return f"{self.mode} verification {self.started_at:%Y-%m-%d %H:%M}: {'intact' if self.intact else 'BROKEN'}"
