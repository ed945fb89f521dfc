"""Decision requests, their per-decision grants, escalations and sign-offs."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from guardian.models import UserObjectPermissionBase

from decisions.models.integrations import Integration
from governance.models import ActionType, ApprovalPolicy, DecisionRole, Level


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
    auth_context = models.JSONField(
        default=dict,
        blank=True,
        help_text="How and when the signer authenticated: method, IdP, time, MFA, session or API token.",
    )
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


class PendingCount(models.Model):
    """PostgreSQL: how many pending decisions an integration has, kept by statement triggers on
    the decisions table (migration 0024) and read by intake's pending cap instead of counting
    the pending rows, a cost that grew with the backlog. Each transaction adds its changes to the
    row of its own ``slot`` (its backend's pid modulo 32), so concurrent
    submissions seldom wait on one another; the count is the sum over the slots. Never written
    by the application."""

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="+", db_index=False)
    slot = models.SmallIntegerField()
    pending = models.IntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["integration", "slot"], name="pending_count_slot_unique")]

    def __str__(self) -> str:
        return f"{self.integration_id}/{self.slot}: {self.pending}"
