"""The decision log: one append-only, hash-chained row per thing that happened to a decision."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from decisions.models.requests import DecisionRequest


class EventKind(models.TextChoices):
    RECEIVED = "received", "Received"
    ROUTED = "routed", "Routed"
    AUTO_APPROVED = "auto_approved", "Auto-approved"
    OWNERSHIP_GAP = "ownership_gap", "Ownership gap"
    NO_POLICY = "no_policy", "No policy matched"
    GRANTED = "granted", "Permission granted"
    REVOKED = "revoked", "Permissions revoked"
    NOTIFIED = "notified", "Notified"
    NOTIFICATION_FAILED = "notification_failed", "Notification failed"
    SIGNED = "signed", "Signed"
    APPROVALS_VOIDED = "approvals_voided", "Approvals voided"
    PAYLOAD_CHANGED = "payload_changed", "Payload changed"
    ESCALATED = "escalated", "Escalated"
    REASSIGNED = "reassigned", "Reassigned"
    DECIDED = "decided", "Decided"
    EXPIRED = "expired", "Expired"
    CANCELLED = "cancelled", "Cancelled"
    OUTCOME_REPORTED = "outcome_reported", "Outcome reported"
    WEBHOOK_DELIVERED = "webhook_delivered", "Webhook delivered"
    WEBHOOK_FAILED = "webhook_failed", "Webhook attempt failed"
    BREAK_GLASS = "break_glass", "Break-glass: executed before its quorum"
    BREAK_GLASS_NOTIFIED = "break_glass_notified", "Break-glass: skipped approvers and leads told"
    BREAK_GLASS_REVIEWED = "break_glass_reviewed", "Break-glass reviewed"
    BREAK_GLASS_ESCALATED = "break_glass_escalated", "Break-glass review overdue: escalated"


class DecisionEvent(models.Model):
    """Append-only, hash-chained log of a decision. ``hash`` covers the canonical content of
    the event and the previous event's hash; on PostgreSQL a trigger refuses UPDATE/DELETE."""

    decision = models.ForeignKey(DecisionRequest, on_delete=models.PROTECT, related_name="events")
    seq = models.PositiveIntegerField()
    kind = models.CharField(max_length=24, choices=EventKind.choices)
    at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    data = models.JSONField(default=dict)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    class Meta:
        ordering = ["decision", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["decision", "seq"], name="decision_event_seq_unique"),
        ]
        indexes = [
            # /metrics counts the failed deliveries at every scrape: only those rows, not the log.
            models.Index(
                fields=["kind"],
                name="decision_event_failures",
                condition=models.Q(kind__in=["webhook_failed", "notification_failed"]),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.decision_id}#{self.seq} {self.kind}"
