"""Break-glass: a pending decision executed before its quorum by one certified person, with a
reason, and the post-hoc review it owes (``decisions.breakglass``)."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from decisions.models.requests import DecisionRequest
from governance.models import DecisionRole


class BreakGlassReview(models.TextChoices):
    CONFIRMED = "confirmed", "Confirmed: it was right to act"
    CONDEMNED = "condemned", "Condemned: it should have waited"


class BreakGlass(models.Model):
    """One break-glass use. Unreviewed until a different certified person confirms or condemns
    it; while unreviewed its user cannot break glass again (a unique index says so). An overdue
    review escalates down the decision's frozen chain (``review_step``, ``review_next_at``)."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    decision = models.OneToOneField(DecisionRequest, on_delete=models.CASCADE, related_name="break_glass")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    role = models.ForeignKey(DecisionRole, on_delete=models.PROTECT, related_name="+")
    certification_id_at_use = models.BigIntegerField()
    reason = models.TextField()
    at = models.DateTimeField()
    skipped_user_ids = models.JSONField(default=list, help_text="Eligible people who had not approved.")
    review_due_at = models.DateTimeField()
    review_step = models.PositiveSmallIntegerField(
        default=0, help_text="0: the owning role reviews; n: escalated to the chain's n-th step (past it: the leads)."
    )
    review_next_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When an unreviewed use escalates next; empty once reviewed or escalated to the end.",
    )
    review_role_ids = models.JSONField(
        default=list, help_text="Roles whose certified people may review it: the owning role, then each escalation's."
    )
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    review = models.CharField(max_length=10, choices=BreakGlassReview.choices, blank=True)
    review_rationale = models.TextField(blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name_plural = "break-glass uses"
        constraints = [
            models.CheckConstraint(name="break_glass_reason_present", condition=~Q(reason="")),
            models.CheckConstraint(
                name="break_glass_reviewer_differs",
                condition=Q(reviewed_by__isnull=True) | ~Q(reviewed_by=F("user")),
                violation_error_message="A different person reviews a break-glass.",
            ),
            models.CheckConstraint(
                name="break_glass_review_complete",
                condition=Q(reviewed_at__isnull=True, reviewed_by__isnull=True, review="")
                | (Q(reviewed_at__isnull=False, reviewed_by__isnull=False) & ~Q(review="") & ~Q(review_rationale="")),
                violation_error_message="A review names its reviewer, its verdict and a rationale.",
            ),
            models.UniqueConstraint(
                fields=["user"],
                condition=Q(reviewed_at__isnull=True),
                name="break_glass_one_unreviewed_per_person",
                violation_error_message="You have a break-glass still waiting for its review.",
            ),
        ]
        indexes = [
            models.Index(
                fields=["review_next_at"], name="break_glass_review_due", condition=Q(reviewed_at__isnull=True)
            )
        ]

    def __str__(self) -> str:
        return f"break-glass by {self.user} on {self.decision_id}"

    @property
    def is_reviewed(self) -> bool:
        return self.reviewed_at is not None
