"""Draft approval policies: a change to a policy (or a new one) that routing never sees until a
lead activates it, replayed over past decisions first (``decisions.replay``).

A draft lives in its own table, so no matching code can pick it up by mistake: routing reads
``ApprovalPolicy`` only. Activation writes the draft's values onto the policy through
``governance.services.approval_policy_save`` (every policy rule, a new version, an audit entry
with the reason) and keeps, on the draft, the replay report the lead activated it on.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from governance.models import (
    ActionType,
    ApprovalPolicy,
    Criterion,
    DecisionRole,
    EscalationChain,
    Level,
    rule_constraints,
)

# The fields a draft proposes, named as on ApprovalPolicy (activation copies them across).
RULE_FIELDS = (
    "name",
    "description",
    "priority",
    "enabled",
    "min_severity",
    "min_blast_radius",
    "max_blast_radius",
    "min_ai_confidence",
    "max_ai_confidence",
    "regulated_data",
    "customer_impact",
    "required_approvals",
    "time_to_act_seconds",
    "escalation_chain",
    "allow_auto_approval",
)
RULE_M2M_FIELDS = ("action_types", "cosigner_roles")


class DraftStatus(models.TextChoices):
    DRAFT = "draft", "Draft (not in force)"
    ACTIVATED = "activated", "Activated"


def _confidence_field(help_text: str) -> models.DecimalField:
    return models.DecimalField(
        max_digits=4,
        decimal_places=3,
        null=True,
        blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(1)],
        help_text=help_text,
    )


class PolicyDraft(models.Model):
    """A proposed version of an approval policy (``policy`` set) or a new one (``policy`` empty)."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    policy = models.ForeignKey(
        ApprovalPolicy,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="The policy this draft changes. Empty: the draft is a new policy.",
    )
    base_version = models.PositiveIntegerField(
        null=True, blank=True, editable=False, help_text="The policy's version the draft started from."
    )
    status = models.CharField(max_length=10, choices=DraftStatus.choices, default=DraftStatus.DRAFT, editable=False)

    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    priority = models.PositiveIntegerField(help_text="Lower is tried first.")
    enabled = models.BooleanField(default=True, help_text="Untick to replay (and then make) the policy disabled.")
    action_types = models.ManyToManyField(ActionType, blank=True, related_name="+", help_text="Empty: every one.")
    min_severity = models.PositiveSmallIntegerField(choices=Level.choices, null=True, blank=True)
    min_blast_radius = models.PositiveSmallIntegerField(choices=Level.choices, null=True, blank=True)
    max_blast_radius = models.PositiveSmallIntegerField(choices=Level.choices, null=True, blank=True)
    min_ai_confidence = _confidence_field("Only with a maximum blast radius of medium or lower.")
    max_ai_confidence = _confidence_field("Only with a maximum blast radius of medium or lower.")
    regulated_data = models.CharField(max_length=3, choices=Criterion.choices, default=Criterion.ANY)
    customer_impact = models.CharField(max_length=3, choices=Criterion.choices, default=Criterion.ANY)
    required_approvals = models.PositiveSmallIntegerField(
        default=1, validators=[MinValueValidator(1), MaxValueValidator(10)], help_text="Distinct people."
    )
    cosigner_roles = models.ManyToManyField(DecisionRole, blank=True, related_name="+")
    time_to_act_seconds = models.PositiveIntegerField(default=900, help_text="Seconds before the first escalation.")
    escalation_chain = models.ForeignKey(EscalationChain, on_delete=models.PROTECT, related_name="+")
    allow_auto_approval = models.BooleanField(default=False)

    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    activated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+", editable=False
    )
    activated_at = models.DateTimeField(null=True, blank=True, editable=False)
    activation_reason = models.TextField(blank=True, editable=False)
    activation_ticket_ref = models.CharField(max_length=100, blank=True, editable=False)
    activated_version = models.PositiveIntegerField(null=True, blank=True, editable=False)
    activated_policy = models.ForeignKey(
        ApprovalPolicy, on_delete=models.PROTECT, null=True, blank=True, related_name="+", editable=False
    )
    replay_report = models.JSONField(
        null=True, blank=True, editable=False, help_text="The replay (parameters and aggregates) it was activated on."
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [("activate_policydraft", "Can activate a draft approval policy")]
        constraints = [
            *rule_constraints("policy_draft"),
            # An activated draft always says who activated it, when, why, and on which replay.
            models.CheckConstraint(
                name="policy_draft_activation_complete",
                condition=Q(status=DraftStatus.DRAFT)
                | (
                    Q(activated_by__isnull=False)
                    & Q(activated_at__isnull=False)
                    & ~Q(activation_reason="")
                    & Q(replay_report__isnull=False)
                    & Q(activated_policy__isnull=False)
                ),
                violation_error_message="An activation needs its actor, time, reason, replay report and policy.",
            ),
        ]

    def __str__(self) -> str:
        what = f"change to {self.policy.name}" if self.policy_id and self.policy else "new policy"
        return f"Draft {self.name} ({what}, {self.get_status_display().lower()})"

    @property
    def is_draft(self) -> bool:
        return self.status == DraftStatus.DRAFT
