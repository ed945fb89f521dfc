"""What a governance lead configures: roles, action types, ownership, rosters, policies.

Rules that must never be broken are database constraints as well as validation in
``governance.services`` (which the admin and the API both call).
"""

from __future__ import annotations

import uuid
from datetime import datetime, time
from typing import TYPE_CHECKING
from zoneinfo import available_timezones

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q

from governance import rbac
from governance.audit import AuditReasonMixin
from governance.urlguard import OutboundURLValidator

if TYPE_CHECKING:
    from django.contrib.auth.models import User

TIME_ZONE_CHOICES = sorted((tz, tz) for tz in available_timezones())


class Level(models.IntegerChoices):
    """Ordered scale shared by severity and blast radius."""

    LOW = 1, "Low"
    MEDIUM = 2, "Medium"
    HIGH = 3, "High"
    CRITICAL = 4, "Critical"


class Criterion(models.TextChoices):
    """A yes/no attribute in a policy rule: match either value, or only one."""

    ANY = "any", "Any"
    YES = "yes", "Yes"
    NO = "no", "No"


class TimeStamped(models.Model):
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class DecisionRole(AuditReasonMixin, TimeStamped):
    """A named human role that can own decisions. Never an AI, a queue or an alert."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=120, unique=True)
    description = models.TextField(blank=True)
    chat_webhook_url = models.URLField(
        blank=True,
        validators=[OutboundURLValidator()],
        help_text="Slack-compatible incoming webhook: people asked to sign in this role are announced there.",
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


# The EU AI Act (Art. 26(6)) asks deployers to keep the logs of a high-risk system at least six months.
MIN_RETENTION_MONTHS = 6


class ActionType(AuditReasonMixin, TimeStamped):
    """A kind of action an AI may recommend."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=120, unique=True)
    description = models.TextField(blank=True)
    changes_production_state = models.BooleanField(
        default=True,
        help_text="Isolates, disables, blocks or otherwise changes what runs in production.",
    )
    touches_regulated_data = models.BooleanField(
        default=False, help_text="Reads, moves, discloses or reports regulated (personal, payment, health) data."
    )
    system_owned = models.BooleanField(
        default=False,
        help_text=(
            "The system may carry it out without a human when a policy allows it. Only for actions that "
            "change no production state and touch no regulated data (enrichment, deduplication)."
        ),
    )
    retention_months = models.PositiveSmallIntegerField(
        default=MIN_RETENTION_MONTHS,
        help_text=(
            "How long its closed decisions (and their log) are kept before they may be archived and removed. "
            f"At least {MIN_RETENTION_MONTHS} months (EU AI Act Art. 26(6))."
        ),
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                name="action_type_retention_minimum",
                condition=Q(retention_months__gte=MIN_RETENTION_MONTHS),
                violation_error_message=f"Decisions are kept at least {MIN_RETENTION_MONTHS} months.",
            ),
            models.CheckConstraint(
                name="action_type_risky_never_system_owned",
                condition=Q(system_owned=False) | Q(changes_production_state=False, touches_regulated_data=False),
                violation_error_message=(
                    "An action type that changes production state or touches regulated data can never be system-owned."
                ),
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def needs_human(self) -> bool:
        return not self.system_owned


class OwnershipAssignment(AuditReasonMixin, TimeStamped):
    """Action type -> owning role, for a period. At most one per action type at any instant."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    action_type = models.ForeignKey(ActionType, on_delete=models.PROTECT, related_name="ownership_assignments")
    owner_role = models.ForeignKey(DecisionRole, on_delete=models.PROTECT, related_name="owned_assignments")
    deputy_role = models.ForeignKey(
        DecisionRole,
        on_delete=models.PROTECT,
        related_name="deputy_assignments",
        null=True,
        blank=True,
        help_text="Signs when nobody in the owning role is on call and certified.",
    )
    effective_from = models.DateTimeField()
    effective_to = models.DateTimeField(null=True, blank=True, help_text="Empty: until further notice.")

    class Meta:
        ordering = ["action_type__name", "-effective_from"]
        constraints = [
            models.CheckConstraint(
                name="ownership_period_positive",
                condition=Q(effective_to__isnull=True) | Q(effective_to__gt=F("effective_from")),
                violation_error_message="The end of an ownership period must be after its start.",
            ),
            models.CheckConstraint(
                name="ownership_deputy_differs",
                condition=Q(deputy_role__isnull=True) | ~Q(deputy_role=F("owner_role")),
                violation_error_message="The deputy role must differ from the owning role.",
            ),
            models.UniqueConstraint(
                fields=["action_type"],
                condition=Q(effective_to__isnull=True),
                name="ownership_one_open_ended_per_action_type",
                violation_error_message="This action type already has an open-ended owner.",
            ),
        ]
        indexes = [models.Index(fields=["action_type", "effective_from"])]

    def __str__(self) -> str:
        return f"{self.action_type} → {self.owner_role}"

    def is_current(self, at: datetime) -> bool:
        return self.effective_from <= at and (self.effective_to is None or at < self.effective_to)


class Roster(AuditReasonMixin, TimeStamped):
    """Who is on call for a role: ordered members hand off every N days at a local time."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    role = models.ForeignKey(DecisionRole, on_delete=models.PROTECT, related_name="rosters")
    name = models.CharField(max_length=120, unique=True)
    time_zone = models.CharField(max_length=64, choices=TIME_ZONE_CHOICES, default="UTC")
    rotation_days = models.PositiveSmallIntegerField(
        default=7,
        validators=[MinValueValidator(1), MaxValueValidator(366)],
        help_text="Days between hand-offs: 1 for daily, 7 for weekly.",
    )
    handoff_time = models.TimeField(default=time(9, 0), help_text="Local time of the hand-off.")
    rotation_start = models.DateField(help_text="Local date of the first hand-off, to the first member.")
    coverage_start = models.TimeField(
        null=True, blank=True, help_text="Local start of daily coverage. Empty with the end: around the clock."
    )
    coverage_end = models.TimeField(
        null=True, blank=True, help_text="Local end of daily coverage; before the start means over midnight."
    )
    swaps_need_lead_approval = models.BooleanField(
        default=False,
        help_text="A shift swap or cover agreed by both people also needs a governance lead's approval.",
    )
    members: models.ManyToManyField[User, RosterMember] = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="RosterMember", related_name="rosters"
    )

    class Meta:
        ordering = ["role__name", "name"]
        constraints = [
            models.CheckConstraint(
                name="roster_rotation_positive",
                condition=Q(rotation_days__gte=1),
                violation_error_message="A rotation lasts at least one day.",
            ),
            models.CheckConstraint(
                name="roster_coverage_both_or_neither",
                condition=(Q(coverage_start__isnull=True) & Q(coverage_end__isnull=True))
                | (
                    Q(coverage_start__isnull=False)
                    & Q(coverage_end__isnull=False)
                    & ~Q(coverage_start=F("coverage_end"))
                ),
                violation_error_message="Set both coverage times (different from each other) or neither.",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def around_the_clock(self) -> bool:
        return self.coverage_start is None


class RosterMember(AuditReasonMixin, models.Model):
    """One position in a roster's rotation order."""

    roster = models.ForeignKey(Roster, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="roster_memberships")
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["roster", "position", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["roster", "user"], name="roster_member_once"),
        ]

    def __str__(self) -> str:
        return f"{self.roster}: #{self.position} {self.user}"

    def get_additional_data(self) -> dict:
        data = super().get_additional_data() or {}
        data["roster"] = {"id": self.roster_id, "name": str(self.roster)}
        return data


class RosterOverride(AuditReasonMixin, TimeStamped):
    """A one-off: this person covers the roster for this period, whoever the rotation says."""

    roster = models.ForeignKey(Roster, on_delete=models.CASCADE, related_name="overrides")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="roster_overrides")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["roster", "starts_at"]
        constraints = [
            models.CheckConstraint(
                name="override_period_positive",
                condition=Q(ends_at__gt=F("starts_at")),
                violation_error_message="An override must end after it starts.",
            ),
        ]
        indexes = [models.Index(fields=["roster", "starts_at", "ends_at"])]

    def __str__(self) -> str:
        return f"{self.user} covers {self.roster}"

    def get_additional_data(self) -> dict:
        data = super().get_additional_data() or {}
        data["roster"] = {"id": self.roster_id, "name": str(self.roster)}
        return data


class ShiftSwap(AuditReasonMixin, TimeStamped):
    """An on-call person hands a period of their shift to another member (a cover), or trades it
    for a period of the other's (a swap). Agreed by the other person, approved by a governance
    lead when the roster asks for it, and applied as roster overrides (``governance.swaps``)."""

    class Kind(models.TextChoices):
        SWAP = "swap", "Swap (trade shifts)"
        COVER = "cover", "Cover (take my shift)"

    class Status(models.TextChoices):
        PROPOSED = "proposed", "Waiting for the other person"
        AWAITING_LEAD = "awaiting_lead", "Waiting for a lead's approval"
        APPLIED = "applied", "Applied"
        DECLINED = "declined", "Declined by the other person"
        REFUSED = "refused", "Refused"
        WITHDRAWN = "withdrawn", "Withdrawn"

    OPEN = (Status.PROPOSED, Status.AWAITING_LEAD)

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    roster = models.ForeignKey(Roster, on_delete=models.PROTECT, related_name="swaps")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    proposer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    counterpart = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    starts_at = models.DateTimeField(help_text="Start of the proposer's period the other person takes.")
    ends_at = models.DateTimeField()
    return_starts_at = models.DateTimeField(null=True, blank=True, help_text="Swap: the other's period in return.")
    return_ends_at = models.DateTimeField(null=True, blank=True)
    note = models.CharField(max_length=500)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PROPOSED)
    accepted_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.CharField(max_length=500, blank=True)
    cover_override = models.ForeignKey(
        RosterOverride, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    return_override = models.ForeignKey(
        RosterOverride, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["roster", "starts_at", "pk"]
        permissions = [("approve_shiftswap", "Can approve or refuse a shift swap")]
        constraints = [
            models.CheckConstraint(
                name="shift_swap_two_people",
                condition=~Q(proposer=F("counterpart")),
                violation_error_message="A swap is between two different people.",
            ),
            models.CheckConstraint(
                name="shift_swap_period_positive",
                condition=Q(ends_at__gt=F("starts_at")),
                violation_error_message="A period must end after it starts.",
            ),
            models.CheckConstraint(
                name="shift_swap_return_fits_kind",
                condition=(
                    Q(kind="cover", return_starts_at__isnull=True, return_ends_at__isnull=True)
                    | Q(kind="swap", return_starts_at__isnull=False, return_ends_at__gt=F("return_starts_at"))
                ),
                violation_error_message="A swap has a period in return; a cover has none.",
            ),
            models.CheckConstraint(
                name="shift_swap_note_present", condition=~Q(note=""), violation_error_message="Say why."
            ),
        ]
        indexes = [models.Index(fields=["roster", "status", "starts_at"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.proposer} → {self.counterpart} ({self.status})"

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN


class Certification(AuditReasonMixin, TimeStamped):
    """User X is trained and certified for a role (or one action type) for a period."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="certifications")
    role = models.ForeignKey(
        DecisionRole, on_delete=models.PROTECT, null=True, blank=True, related_name="certifications"
    )
    action_type = models.ForeignKey(
        ActionType, on_delete=models.PROTECT, null=True, blank=True, related_name="certifications"
    )
    valid_from = models.DateTimeField()
    valid_until = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    evidence = models.CharField(max_length=200, blank=True, help_text="Course, exam or sign-off reference.")

    class Meta:
        ordering = ["valid_until"]
        constraints = [
            models.CheckConstraint(
                name="certification_role_xor_action_type",
                condition=(Q(role__isnull=False) & Q(action_type__isnull=True))
                | (Q(role__isnull=True) & Q(action_type__isnull=False)),
                violation_error_message="A certification is for a role or for an action type, exactly one.",
            ),
            models.CheckConstraint(
                name="certification_period_positive",
                condition=Q(valid_until__gt=F("valid_from")),
                violation_error_message="A certification must expire after it starts.",
            ),
        ]
        indexes = [models.Index(fields=["user", "valid_until"])]

    def __str__(self) -> str:
        return f"{self.user} · {self.role or self.action_type}"

    def is_valid_at(self, at: datetime) -> bool:
        revoked = self.revoked_at is not None and self.revoked_at <= at
        return self.valid_from <= at < self.valid_until and not revoked


class EscalationChain(AuditReasonMixin, TimeStamped):
    """Ordered roles to try when nobody acts in time, and what happens after the last one."""

    class FinalOutcome(models.TextChoices):
        EXPIRE = "expire", "Expire: no action (fail safe)"
        REJECT = "reject", "Reject the recommendation"
        AUTO_APPROVE = "auto_approve", "Approve automatically (never for production-changing actions)"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=120, unique=True)
    description = models.TextField(blank=True)
    final_outcome = models.CharField(max_length=16, choices=FinalOutcome.choices, default=FinalOutcome.EXPIRE)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class EscalationStep(AuditReasonMixin, models.Model):
    """One step: this role gets the decision and has ``wait_seconds`` to act."""

    chain = models.ForeignKey(EscalationChain, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField()
    role = models.ForeignKey(DecisionRole, on_delete=models.PROTECT, related_name="escalation_steps")
    wait_seconds = models.PositiveIntegerField(help_text="Seconds this role has before the next step.")

    class Meta:
        ordering = ["chain", "position"]
        constraints = [
            models.UniqueConstraint(fields=["chain", "position"], name="escalation_step_position_unique"),
            models.CheckConstraint(
                name="escalation_step_wait_positive",
                condition=Q(wait_seconds__gt=0),
                violation_error_message="Every wait must be longer than zero seconds.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.chain} #{self.position}: {self.role} ({self.wait_seconds}s)"

    def get_additional_data(self) -> dict:
        data = super().get_additional_data() or {}
        data["chain"] = {"id": self.chain_id, "name": str(self.chain)}
        return data


class StepUp(models.TextChoices):
    """What a policy asks of a signer's authentication at the moment of signing."""

    NONE = "none", "No fresh authentication"
    RECENT = "recent", "Authenticated within the last N minutes"
    MFA = "mfa", "Authenticated with MFA within the last N minutes"


def rule_constraints(prefix: str) -> list[models.CheckConstraint]:
    """The rules every approval rule obeys in the database, named ``<prefix>_...``: a policy's
    (``policy``) and a draft of one (``policy_draft``, ``decisions.PolicyDraft``) alike."""
    return [
        models.CheckConstraint(
            name=f"{prefix}_required_approvals_range",
            condition=Q(required_approvals__gte=1) & Q(required_approvals__lte=10),
            violation_error_message="A policy requires between 1 and 10 approvals.",
        ),
        models.CheckConstraint(
            name=f"{prefix}_time_to_act_positive",
            condition=Q(time_to_act_seconds__gt=0),
            violation_error_message="The time to act must be longer than zero seconds.",
        ),
        models.CheckConstraint(
            name=f"{prefix}_confidence_never_lowers_high_blast_bar",
            condition=(Q(min_ai_confidence__isnull=True) & Q(max_ai_confidence__isnull=True))
            | Q(max_blast_radius__isnull=False, max_blast_radius__lte=Level.MEDIUM),
            violation_error_message=(
                "A rule conditioned on AI confidence may not match a high or critical blast radius: "
                "set its maximum blast radius to medium or lower."
            ),
        ),
        models.CheckConstraint(
            name=f"{prefix}_blast_radius_range",
            condition=Q(min_blast_radius__isnull=True)
            | Q(max_blast_radius__isnull=True)
            | Q(min_blast_radius__lte=F("max_blast_radius")),
            violation_error_message="The minimum blast radius must not exceed the maximum.",
        ),
        models.CheckConstraint(
            name=f"{prefix}_confidence_range",
            condition=Q(min_ai_confidence__isnull=True)
            | Q(max_ai_confidence__isnull=True)
            | Q(min_ai_confidence__lte=F("max_ai_confidence")),
            violation_error_message="The minimum AI confidence must not exceed the maximum.",
        ),
    ]


class ApprovalPolicy(AuditReasonMixin, TimeStamped):
    """An ordered rule: decisions whose attributes match need these approvals, in this time.

    Rules are tried by ascending ``priority``; the first enabled rule that matches applies.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=120, unique=True)
    description = models.TextField(blank=True)
    priority = models.PositiveIntegerField(unique=True, help_text="Lower is tried first.")
    enabled = models.BooleanField(default=True)
    version = models.PositiveIntegerField(default=1, editable=False)

    # What the rule matches. Empty / "any" means "whatever the value".
    action_types = models.ManyToManyField(
        ActionType, blank=True, related_name="policies", help_text="Empty: every action type."
    )
    min_severity = models.PositiveSmallIntegerField(choices=Level.choices, null=True, blank=True)
    min_blast_radius = models.PositiveSmallIntegerField(choices=Level.choices, null=True, blank=True)
    max_blast_radius = models.PositiveSmallIntegerField(choices=Level.choices, null=True, blank=True)
    min_ai_confidence = models.DecimalField(
        max_digits=4,
        decimal_places=3,
        null=True,
        blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(1)],
        help_text="Only with a maximum blast radius of medium or lower.",
    )
    max_ai_confidence = models.DecimalField(
        max_digits=4,
        decimal_places=3,
        null=True,
        blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(1)],
        help_text="Only with a maximum blast radius of medium or lower.",
    )
    regulated_data = models.CharField(max_length=3, choices=Criterion.choices, default=Criterion.ANY)
    customer_impact = models.CharField(max_length=3, choices=Criterion.choices, default=Criterion.ANY)

    # What the rule demands.
    required_approvals = models.PositiveSmallIntegerField(
        default=1, validators=[MinValueValidator(1), MaxValueValidator(10)], help_text="Distinct people."
    )
    cosigner_roles = models.ManyToManyField(
        DecisionRole,
        blank=True,
        related_name="cosigned_policies",
        help_text=(
            "Roles that must each co-sign besides the action type's owning role (for example a privacy "
            "officer). Required approvals count distinct people and must cover the owner and every co-signer."
        ),
    )
    time_to_act_seconds = models.PositiveIntegerField(default=900, help_text="Seconds before the first escalation.")
    escalation_chain = models.ForeignKey(EscalationChain, on_delete=models.PROTECT, related_name="policies")
    allow_auto_approval = models.BooleanField(
        default=False,
        help_text="System-owned action types matched by this rule go through without a human.",
    )
    allows_break_glass = models.BooleanField(
        default=False,
        help_text=(
            "A person certified for the owning role may execute a pending decision before its quorum, with a "
            "reason; the skipped approvers and the leads are told at once and a post-hoc review is due."
        ),
    )
    break_glass_review_hours = models.PositiveSmallIntegerField(
        default=24,
        validators=[MinValueValidator(1), MaxValueValidator(720)],
        help_text="Hours within which a different certified person must confirm or condemn a break-glass.",
    )
    step_up = models.CharField(
        "fresh authentication at signing",
        max_length=8,
        choices=StepUp.choices,
        default=StepUp.NONE,
        help_text="Signers re-authenticate (SSO round trip, password or MFA) when their last authentication is "
        "older than the minutes below. Personal API tokens never satisfy it.",
    )
    step_up_minutes = models.PositiveSmallIntegerField(
        "within (minutes)", default=5, validators=[MinValueValidator(1), MaxValueValidator(720)]
    )

    class Meta:
        ordering = ["priority"]
        verbose_name_plural = "approval policies"
        constraints = [
            *rule_constraints("policy"),
            models.CheckConstraint(
                name="policy_step_up_minutes_range",
                condition=Q(step_up_minutes__gte=1) & Q(step_up_minutes__lte=720),
                violation_error_message="A fresh authentication is asked for within 1 to 720 minutes.",
            ),
            models.CheckConstraint(
                name="policy_break_glass_review_hours_range",
                condition=Q(break_glass_review_hours__gte=1) & Q(break_glass_review_hours__lte=720),
                violation_error_message="A break-glass review is due within 1 to 720 hours.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.priority}. {self.name}"


class ConfigVersion(models.Model):
    """One row whose ``token`` changes (to a random value) whenever any table that routing
    reads changes. Database triggers maintain it, so every write path (admin, services, shell,
    migrations) is covered; routing caches its in-memory snapshot per process by this token."""

    token = models.CharField(max_length=64)
    changed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.token


class IdPGroupMapping(AuditReasonMixin, TimeStamped):
    """One IdP group (a value of the groups claim or attribute) gives one portal group.

    At every SSO login the user's portal groups are recomputed from these rows alone: a user whose
    claim matches none gets no access (never a default role), a group that is no longer claimed
    is taken away. The Integration group is never mapped (integrations sign in with keys).
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    provider = models.CharField(
        max_length=64,
        blank=True,
        help_text="The IdP's provider id (OIDC_PROVIDER_ID, the SAML organisation slug); empty: any IdP.",
    )
    idp_group = models.CharField(
        "IdP group", max_length=255, help_text="The value as the IdP sends it (a name, a DN or an Entra object id)."
    )
    group = models.ForeignKey(
        "auth.Group",
        on_delete=models.PROTECT,
        related_name="idp_mappings",
        limit_choices_to=Q(name__in=rbac.SSO_MAPPABLE_GROUPS),
    )
    enabled = models.BooleanField(default=True)

    class Meta:
        ordering = ["provider", "idp_group", "group__name"]
        verbose_name = "IdP group mapping"
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "idp_group", "group"],
                name="idp_group_mapping_unique",
                violation_error_message="This IdP group already gives this portal group.",
            ),
            models.CheckConstraint(name="idp_group_present", condition=~Q(idp_group="")),
        ]

    def __str__(self) -> str:
        where = self.provider or "any IdP"
        return f"{self.idp_group} ({where}) → {self.group.name}"
