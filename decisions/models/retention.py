"""Retention and legal hold: how closed decisions leave the database without leaving the log.

- ``LegalHold``: on an incident reference or one decision; while in force, nothing it covers
  is removed (the retention service skips it and, on PostgreSQL, the database refuses it).
  Released, never deleted.
- ``RetentionRun``: one run of the retention service. It names the signed checkpoint taken
  before anything was removed, the archive it wrote first (path and SHA-256), and a manifest of
  what it removed, signed with the ledger key (outside the database).
- ``ArchivedDecision`` / ``ArchivedEvent``: what a run removed. The events' leaves stay in the
  log's tree; each archived event names its leaf position and its hash, so verification still
  proves the tree and knows which positions were removed, by which run. Insert-only.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from decisions.models.ledger import LedgerCheckpoint


class LegalHold(models.Model):
    """Keep everything of an incident (by its reference) or of one decision, whatever its age."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    incident_ref = models.CharField(max_length=100, blank=True, help_text="Every decision of this incident.")
    decision_public_id = models.UUIDField(null=True, blank=True, help_text="Or one decision (its id).")
    reason = models.CharField(max_length=500, help_text="Why (the matter, the request, the ticket).")
    placed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    placed_at = models.DateTimeField(auto_now_add=True)
    released_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    released_at = models.DateTimeField(null=True, blank=True)
    release_reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-placed_at", "-id"]
        constraints = [
            models.CheckConstraint(
                name="legal_hold_one_subject",
                condition=(~Q(incident_ref="") & Q(decision_public_id__isnull=True))
                | (Q(incident_ref="") & Q(decision_public_id__isnull=False)),
                violation_error_message="A legal hold is on an incident or on one decision, exactly one.",
            ),
            models.CheckConstraint(
                name="legal_hold_release_complete",
                condition=(Q(released_at__isnull=True) & Q(released_by__isnull=True))
                | (Q(released_at__isnull=False) & Q(released_by__isnull=False) & ~Q(release_reason="")),
                violation_error_message="A release names who released the hold and why.",
            ),
        ]
        indexes = [models.Index(fields=["incident_ref"], name="legal_hold_incident_idx")]

    def __str__(self) -> str:
        subject = f"incident {self.incident_ref}" if self.incident_ref else f"decision {self.decision_public_id}"
        return f"legal hold on {subject}{' (released)' if self.released_at else ''}"

    @property
    def in_force(self) -> bool:
        return self.released_at is None


class RetentionStatus(models.TextChoices):
    STARTED = "started", "Started"
    REMOVING = "removing", "Removing (archive written, manifest signed)"
    DONE = "done", "Done"
    NOTHING = "nothing", "Nothing to remove"
    FAILED = "failed", "Failed (nothing removed)"


class RetentionRun(models.Model):
    """One run of the retention service (``decisions.retention.services.retention_run``)."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=RetentionStatus.choices, default=RetentionStatus.STARTED)
    checkpoint = models.ForeignKey(
        LedgerCheckpoint, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        help_text="Signed before anything was removed; covers every removed event.",
    )  # fmt: skip
    archive_path = models.CharField(max_length=500, blank=True)
    archive_sha256 = models.CharField(max_length=64, blank=True)
    manifest_sha256 = models.CharField(max_length=64, blank=True, help_text="What was removed, as signed.")
    key_id = models.CharField(max_length=16, blank=True)
    signature = models.CharField(max_length=100, blank=True, help_text="Ed25519, by the ledger key.")
    decisions_removed = models.PositiveIntegerField(default=0)
    events_removed = models.PositiveIntegerField(default=0)
    held = models.PositiveIntegerField(default=0, help_text="Old enough, but kept by a legal hold.")
    deferred = models.PositiveIntegerField(default=0, help_text="Old enough, with events newer than the checkpoint.")
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"retention run {self.started_at:%Y-%m-%d %H:%M} ({self.status})"


class ArchivedDecision(models.Model):
    """A decision a retention run archived and removed (its row, sign-offs, outcome, events)."""

    run = models.ForeignKey(RetentionRun, on_delete=models.PROTECT, related_name="decisions")
    decision_pk = models.BigIntegerField(help_text="The removed row's primary key (the database's guard reads it).")
    decision_public_id = models.UUIDField(unique=True)
    action_type = models.CharField(max_length=64)
    incident_ref = models.CharField(max_length=100, blank=True)
    status = models.CharField(max_length=16)
    created_at = models.DateTimeField()
    decided_at = models.DateTimeField()
    retention_months = models.PositiveSmallIntegerField()
    kept_until = models.DateTimeField(help_text="decided_at plus the retention: removable from then on.")
    event_count = models.PositiveIntegerField()
    last_event_hash = models.CharField(max_length=64)

    class Meta:
        ordering = ["run", "decision_pk"]
        indexes = [models.Index(fields=["run", "decision_pk"], name="archived_decision_run_idx")]

    def __str__(self) -> str:
        return f"archived decision {self.decision_public_id}"


class ArchivedEvent(models.Model):
    """The event at leaf ``position`` of the log, removed by ``run``; ``event_hash`` is the hash
    the leaf commits to (``leaf = SHA-256(0x00 || event_hash)``)."""

    position = models.BigIntegerField(primary_key=True)
    run = models.ForeignKey(RetentionRun, on_delete=models.PROTECT, related_name="events")
    decision_public_id = models.UUIDField()
    seq = models.PositiveIntegerField()
    event_hash = models.CharField(max_length=64)

    class Meta:
        ordering = ["position"]

    def __str__(self) -> str:
        return f"archived event at leaf {self.position}"
