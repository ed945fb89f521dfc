"""What happens: integrations, decision requests, sign-offs, outcomes and the decision log."""

from __future__ import annotations

import uuid
from datetime import timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from guardian.models import UserObjectPermissionBase
from rest_framework_api_key.models import AbstractAPIKey

from governance.models import TIME_ZONE_CHOICES, ActionType, ApprovalPolicy, DecisionRole, Level


class Integration(models.Model):
    """A SOAR tool or AI agent that submits recommendations. Acts through API keys and a
    service account that can never sign."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=120, unique=True)
    team_contact = models.CharField(max_length=200, help_text="Owning team and how to reach them.")
    service_account = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="integration", editable=False
    )
    allowed_action_types = models.ManyToManyField(ActionType, related_name="integrations", blank=True)
    webhook_url = models.URLField(blank=True, help_text="Verdicts are POSTed here (Standard Webhooks).")
    webhook_secret = models.CharField(max_length=100, editable=False)
    rate_limit_per_minute = models.PositiveIntegerField(
        default=1200, validators=[MinValueValidator(1)], help_text="Submissions and reads per API key per minute."
    )
    max_pending = models.PositiveIntegerField(
        default=1000, validators=[MinValueValidator(1)], help_text="Cap on this integration's pending decisions."
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class IntegrationAPIKey(AbstractAPIKey):
    """An integration's API key: only a hash is stored; the key is shown once, at creation."""

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="api_keys")
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta(AbstractAPIKey.Meta):
        verbose_name = "integration API key"
        verbose_name_plural = "integration API keys"


class PersonalToken(AbstractAPIKey):
    """A person's API token (for signing through the API): hashed, expiring."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="personal_tokens")
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta(AbstractAPIKey.Meta):
        verbose_name = "personal API token"
        verbose_name_plural = "personal API tokens"
        constraints = [
            models.CheckConstraint(name="personal_token_expires", condition=Q(expiry_date__isnull=False)),
        ]


class DecisionStatus(models.TextChoices):
    AUTO_APPROVED = "auto_approved", "Auto-approved"
    PENDING = "pending", "Pending"
    APPROVED = "approved", "Approved"
    OVERRIDDEN = "overridden", "Overridden"
    REJECTED = "rejected", "Rejected"
    EXPIRED = "expired", "Expired"
    CANCELLED = "cancelled", "Cancelled"


CERTIFY = "certify_decisionrequest"  # the per-decision permission routing grants to the eligible

TERMINAL_STATUSES = frozenset(s for s in DecisionStatus.values if s != DecisionStatus.PENDING)


class DecisionRequest(models.Model):
    """One AI-assisted recommendation, as submitted, with its routing snapshot and verdict."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    integration = models.ForeignKey(Integration, on_delete=models.PROTECT, related_name="decisions")
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="submitted_decisions"
    )
    idempotency_key = models.CharField(max_length=255, blank=True)
    request_fingerprint = models.CharField(max_length=64)

    # The recommendation.
    action_type = models.ForeignKey(ActionType, on_delete=models.PROTECT, related_name="decisions")
    title = models.CharField(max_length=200)
    recommendation = models.TextField()
    target = models.JSONField(default=dict)
    ai_confidence = models.DecimalField(
        max_digits=4, decimal_places=3, validators=[MinValueValidator(0), MaxValueValidator(1)]
    )
    blast_radius = models.PositiveSmallIntegerField(choices=Level.choices)
    severity = models.PositiveSmallIntegerField(choices=Level.choices)
    affects_regulated_data = models.BooleanField(default=False)
    customer_impact = models.BooleanField(default=False)
    incident_ref = models.CharField(max_length=100, blank=True)
    evidence = models.JSONField(default=dict, blank=True)
    model_name = models.CharField(max_length=100)
    model_version = models.CharField(max_length=100, blank=True)
    proposed_chain = models.JSONField(default=list, blank=True)
    payload_version = models.PositiveIntegerField(default=1)

    # Routing (frozen at intake; configuration changes never rewrite it).
    status = models.CharField(max_length=16, choices=DecisionStatus.choices, default=DecisionStatus.PENDING)
    policy = models.ForeignKey(ApprovalPolicy, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    policy_version = models.PositiveIntegerField(null=True, blank=True)
    owner_role = models.ForeignKey(DecisionRole, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    required_approvals = models.PositiveSmallIntegerField(default=1)
    snapshot = models.JSONField(default=dict)
    current_step = models.PositiveSmallIntegerField(default=0, help_text="0: the owner; n: the chain's n-th step.")
    deadline = models.DateTimeField(null=True, blank=True)
    deadline_token = models.CharField(
        max_length=32, blank=True, help_text="Changes with every deadline; a deadline task carrying another is stale."
    )

    # Verdict.
    final_action = models.JSONField(null=True, blank=True, help_text="What the integration must execute.")
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    # Head of the hash-chained log, so that removing the newest events is detectable too.
    event_count = models.PositiveIntegerField(default=0)
    last_event_hash = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [
            (CERTIFY, "Can certify this decision"),
            ("reassign_decisionrequest", "Can reassign a pending decision to another role"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["integration", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="decision_idempotency_key_unique",
            ),
            models.CheckConstraint(
                name="decision_confidence_range", condition=Q(ai_confidence__gte=0) & Q(ai_confidence__lte=1)
            ),
            models.CheckConstraint(name="decision_status_valid", condition=Q(status__in=DecisionStatus.values)),
            models.CheckConstraint(
                name="decision_pending_has_deadline",
                condition=~Q(status=DecisionStatus.PENDING) | Q(deadline__isnull=False),
            ),
            models.CheckConstraint(
                name="decision_terminal_has_decided_at",
                condition=Q(status=DecisionStatus.PENDING) | Q(decided_at__isnull=False),
            ),
        ]
        indexes = [
            models.Index(fields=["integration", "-created_at"]),
            models.Index(fields=["status", "deadline"]),
            models.Index(fields=["integration", "status"]),
            models.Index(fields=["action_type", "-created_at"]),
            # The review, the exports and "All decisions" select a period of submission times.
            models.Index(fields=["-created_at", "-id"], name="decision_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.status})"

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def eligible_entries(self) -> list[dict]:
        """Everyone routing made eligible, as frozen in the snapshot: the stages newest first,
        then the co-signers (entries carry user_id, role_id, certification_id and why)."""
        snapshot = self.snapshot or {}
        stages = reversed(snapshot.get("stages", []))
        groups = [*stages, *snapshot.get("cosigners", [])]
        return [entry for group in groups for entry in group.get("eligible", [])]


class DecisionRequestUserObjectPermission(UserObjectPermissionBase):
    """guardian's direct foreign-key table for per-decision grants (fast joins, real FKs)."""

    content_object = models.ForeignKey(DecisionRequest, on_delete=models.CASCADE)


class NotificationPreference(models.Model):
    """How a person wants to hear that a decision waits for them. Absent row: the defaults."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preference"
    )
    email = models.BooleanField(default=True, help_text="Email me when a decision waits for my sign-off.")

    def __str__(self) -> str:
        return f"{self.user}: email {'on' if self.email else 'off'}"


class Escalation(models.Model):
    """One move of a decision past a step. The unique (decision, from_step) pair makes a second
    escalation of the same step impossible in the database, whatever raced."""

    class Reason(models.TextChoices):
        TIMEOUT = "timeout", "Nobody acted in time"
        NOBODY_ELIGIBLE = "nobody_eligible", "Nobody eligible"
        MANUAL = "manual", "Escalated by a signer"
        REASSIGNED = "reassigned", "Reassigned by a governance lead"

    decision = models.ForeignKey(DecisionRequest, on_delete=models.PROTECT, related_name="escalations")
    from_step = models.PositiveSmallIntegerField()
    reason = models.CharField(max_length=16, choices=Reason.choices)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    note = models.CharField(max_length=500, blank=True)
    at = models.DateTimeField()
    lateness_ms = models.IntegerField(null=True, blank=True, help_text="How long after the deadline it happened.")

    class Meta:
        ordering = ["decision", "from_step"]
        constraints = [
            models.UniqueConstraint(fields=["decision", "from_step"], name="escalation_once_per_step"),
        ]

    def __str__(self) -> str:
        return f"{self.decision_id} step {self.from_step} ({self.reason})"


class Verdict(models.TextChoices):
    APPROVE = "approve", "Approve"
    OVERRIDE = "override", "Override (change the action)"
    REJECT = "reject", "Reject"


class ReasonCode(models.TextChoices):
    EVIDENCE_SUFFICIENT = "evidence_sufficient", "Evidence supports the action"
    POLICY_REQUIRES = "policy_requires", "Required by policy or playbook"
    BUSINESS_ACCEPTED = "business_accepted", "Business impact accepted"
    SCOPE_TOO_BROAD = "scope_too_broad", "Scope too broad: narrowed"
    WRONG_TARGET = "wrong_target", "Wrong target: corrected"
    LESS_DISRUPTIVE = "less_disruptive", "A less disruptive action suffices"
    FALSE_POSITIVE = "false_positive", "False positive"
    INSUFFICIENT_EVIDENCE = "insufficient_evidence", "Evidence insufficient"
    IMPACT_TOO_HIGH = "impact_too_high", "Business impact too high"
    DUPLICATE = "duplicate", "Duplicate of another decision"
    OTHER = "other", "Other (explain in the rationale)"


REASONS_BY_VERDICT: dict[str, frozenset[str]] = {
    Verdict.APPROVE: frozenset(
        {ReasonCode.EVIDENCE_SUFFICIENT, ReasonCode.POLICY_REQUIRES, ReasonCode.BUSINESS_ACCEPTED, ReasonCode.OTHER}
    ),
    Verdict.OVERRIDE: frozenset(
        {ReasonCode.SCOPE_TOO_BROAD, ReasonCode.WRONG_TARGET, ReasonCode.LESS_DISRUPTIVE, ReasonCode.OTHER}
    ),
    Verdict.REJECT: frozenset(
        {
            ReasonCode.FALSE_POSITIVE,
            ReasonCode.INSUFFICIENT_EVIDENCE,
            ReasonCode.IMPACT_TOO_HIGH,
            ReasonCode.DUPLICATE,
            ReasonCode.OTHER,
        }
    ),
}


class SignOff(models.Model):
    """One person's verdict on a decision. A voided sign-off (the payload changed after it) no
    longer counts; the row stays for the record."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    decision = models.ForeignKey(DecisionRequest, on_delete=models.PROTECT, related_name="signoffs")
    signer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="signoffs")
    signed_as = models.ForeignKey(DecisionRole, on_delete=models.PROTECT, related_name="+")
    eligible_role_ids = models.JSONField(
        default=list, help_text="Every role the signer could sign as at signing (quorum matching)."
    )
    verdict = models.CharField(max_length=10, choices=Verdict.choices)
    reason_code = models.CharField(max_length=32, choices=ReasonCode.choices)
    rationale = models.TextField()
    override_action = models.JSONField(null=True, blank=True)
    step = models.PositiveSmallIntegerField()
    payload_version = models.PositiveIntegerField()
    certification_id_at_signing = models.BigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)
    voided_at = models.DateTimeField(null=True, blank=True)
    void_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["decision", "signer"],
                condition=Q(voided_at__isnull=True),
                name="signoff_one_live_per_person",
                violation_error_message="This person has already signed this decision.",
            ),
            models.CheckConstraint(
                name="signoff_rationale_present",
                condition=~Q(rationale=""),
                violation_error_message="Give a rationale.",
            ),
            models.CheckConstraint(
                name="signoff_override_carries_action",
                condition=~Q(verdict=Verdict.OVERRIDE) | Q(override_action__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.signer} {self.verdict} {self.decision_id}"


class OutcomeKind(models.TextChoices):
    TRUE_POSITIVE = "true_positive", "True positive"
    FALSE_POSITIVE = "false_positive", "False positive"
    BENIGN = "benign", "Benign (true but harmless)"


class Outcome(models.Model):
    """Later feedback on a decision: was the recommendation right, was the action reverted."""

    decision = models.OneToOneField(DecisionRequest, on_delete=models.PROTECT, related_name="outcome")
    kind = models.CharField(max_length=16, choices=OutcomeKind.choices)
    reverted = models.BooleanField(default=False)
    notes = models.TextField(blank=True)
    reported_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reported_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.decision_id}: {self.kind}"


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

    def __str__(self) -> str:
        return f"{self.decision_id}#{self.seq} {self.kind}"


class ReviewCadence(models.TextChoices):
    DAILY = "daily", "Daily"
    WEEKLY = "weekly", "Weekly"
    MONTHLY = "monthly", "Monthly"


class ReviewSchedule(models.Model):
    """When the periodic review is frozen: celery beat checks the schedules and freezes a
    ReviewReport for every period that has ended (once: one report per schedule and period)."""

    class Weekday(models.IntegerChoices):
        MONDAY = 0, "Monday"
        TUESDAY = 1, "Tuesday"
        WEDNESDAY = 2, "Wednesday"
        THURSDAY = 3, "Thursday"
        FRIDAY = 4, "Friday"
        SATURDAY = 5, "Saturday"
        SUNDAY = 6, "Sunday"

    name = models.CharField(max_length=120, unique=True, default="Weekly governance review")
    cadence = models.CharField(max_length=8, choices=ReviewCadence.choices, default=ReviewCadence.WEEKLY)
    period_starts_on = models.PositiveSmallIntegerField(
        choices=Weekday.choices, default=Weekday.MONDAY, help_text="Weekly cadence: the first day of each period."
    )
    time_zone = models.CharField(
        max_length=64,
        choices=TIME_ZONE_CHOICES,
        default="UTC",
        help_text="Periods start at local midnight in this time zone.",
    )
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(name="review_schedule_weekday", condition=Q(period_starts_on__lte=6)),
        ]

    PERIOD_FIELDS = ("cadence", "period_starts_on", "time_zone")

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        """Once a report is frozen the periods are fixed: others would overlap the frozen ones,
        or share a start with one (one report per schedule and start) and never freeze."""
        if self.pk is None or not self.reports.exists():
            return
        stored = type(self).objects.filter(pk=self.pk).values(*self.PERIOD_FIELDS).first() or {}
        changed = [name for name in self.PERIOD_FIELDS if name in stored and stored[name] != getattr(self, name)]
        if changed:
            raise ValidationError(
                {
                    name: "Fixed once a report has been frozen: disable this schedule and add another."
                    for name in changed
                }
            )


class ReviewReport(models.Model):
    """The figures and ownership gaps of one period, frozen when the period ended. The frozen
    parts never change; a governance lead signs the review off with notes and follow-ups."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    schedule = models.ForeignKey(
        ReviewSchedule, on_delete=models.PROTECT, null=True, blank=True, related_name="reports"
    )
    period_start = models.DateTimeField()
    period_end = models.DateTimeField()
    frozen_at = models.DateTimeField()
    figures = models.JSONField(help_text="The review figures of the period, as frozen.")
    gaps = models.JSONField(help_text="The ownership gaps when the report was frozen.")
    log_verification = models.JSONField(default=dict, help_text="verify_decision_log when the report was frozen.")
    signed_off_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    signed_off_at = models.DateTimeField(null=True, blank=True)
    signoff_notes = models.TextField(blank=True)
    follow_up_actions = models.TextField(blank=True, help_text="One follow-up action per line.")
    leads_notified_at = models.DateTimeField(
        null=True, blank=True, help_text="When the governance leads were emailed that the review waits."
    )

    class Meta:
        ordering = ["-period_start", "-id"]
        permissions = [("signoff_reviewreport", "Can sign off a periodic review")]
        constraints = [
            models.UniqueConstraint(fields=["schedule", "period_start"], name="review_report_once_per_period"),
            models.CheckConstraint(name="review_report_period_positive", condition=Q(period_end__gt=F("period_start"))),
            models.CheckConstraint(
                name="review_report_signoff_complete",
                condition=(Q(signed_off_by__isnull=True) & Q(signed_off_at__isnull=True))
                | (Q(signed_off_by__isnull=False) & Q(signed_off_at__isnull=False) & ~Q(signoff_notes="")),
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def title(self) -> str:
        """``Review 2026-01-05 – 2026-01-11``: the first and last local days of the period, in the
        schedule's time zone (where its periods start at midnight), else the display one."""
        tz = ZoneInfo(self.schedule.time_zone) if self.schedule_id else timezone.get_current_timezone()
        first = self.period_start.astimezone(tz).date()
        last = (self.period_end - timedelta(microseconds=1)).astimezone(tz).date()
        return f"Review {first:%Y-%m-%d} – {last:%Y-%m-%d}"

    @property
    def is_signed_off(self) -> bool:
        return self.signed_off_at is not None
