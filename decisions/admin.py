"""Integrations and their API keys, for governance leads; decisions read-only for reviewers."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.views.main import ChangeList
from django.db.models import Max
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from rest_framework_api_key.admin import APIKeyModelAdmin
from rest_framework_api_key.models import APIKey

from decisions import integrations
from decisions.models import (
    DecisionEvent,
    DecisionRequest,
    Integration,
    IntegrationAPIKey,
    LegalHold,
    PersonalToken,
    RetentionRun,
    ReviewCadence,
    ReviewReport,
    ReviewSchedule,
    SignOff,
)
from decisions.replay import admin as _replay_admin  # noqa: F401 - registers the draft policies' admin
from decisions.retention import services as retention
from decisions.review import cycle as review_cycle
from governance.admin import AuditedAdmin, ReasonRequiredAdmin
from governance.forms import ChangeReasonForm, ReasonForm
from governance.gaps import GapKind, gaps_by_kind

admin.site.unregister(APIKey)


class IntegrationAPIKeyInline(admin.TabularInline):
    model = IntegrationAPIKey
    fields = ("prefix", "name", "created", "expiry_date", "last_used_at", "revoked")
    readonly_fields = ("prefix", "name", "created", "expiry_date", "last_used_at")
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False  # keys are created on their own page, where the key is shown once


class IntegrationForm(ReasonForm):
    class Meta:
        model = Integration
        fields = [
            "name",
            "team_contact",
            "is_active",
            "allowed_action_types",
            "rate_limit_per_minute",
            "max_pending",
            "webhook_url",
        ]


def _shown_once(request, integrations_made: list[Integration], *, title: str) -> TemplateResponse:
    """The page that shows new signing secrets, once: never cached, never stored in clear."""
    response = TemplateResponse(
        request,
        "admin/decisions/integration/secret_once.html",
        {
            **admin.site.each_context(request),
            "title": title,
            "integrations": integrations_made,
            "opts": Integration._meta,
        },
    )
    response["Cache-Control"] = "no-store"
    return response


@admin.register(Integration)
class IntegrationAdmin(ReasonRequiredAdmin):
    """Webhook URL, allowed action types, limits: each change states its reason. The signing
    secret is stored encrypted and shown once, to the lead who made it (creation, rotation)."""

    form = IntegrationForm
    list_display = ("name", "team_contact", "is_active", "rate_limit_per_minute", "max_pending", "webhook_url")
    list_filter = ("is_active",)
    search_fields = ("name", "team_contact")
    filter_horizontal = ("allowed_action_types",)
    readonly_fields = ("service_account", "signing_secret")
    inlines = (IntegrationAPIKeyInline,)
    actions = ("rotate_webhook_secret",)
    fieldsets = (
        (None, {"fields": ("name", "team_contact", "is_active", "allowed_action_types")}),
        ("Limits", {"fields": ("rate_limit_per_minute", "max_pending")}),
        ("Verdict webhook", {"fields": ("webhook_url", "signing_secret")}),
        ("Identity", {"fields": ("service_account",)}),
    )

    @admin.display(description="Webhook signing secret")
    def signing_secret(self, obj: Integration) -> str:
        if not obj.pk:
            return "Generated when the integration is saved, and shown to you once."
        made = obj.webhook_secret_rotated_at
        when = f" Made {date_format(timezone.localtime(made), 'DATETIME_FORMAT')}." if made else ""
        return (
            f"Stored encrypted; shown only once, to whoever created or rotated it.{when} "
            "Lost it? Rotate it (action on the list) and update the receiver."
        )

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
        else:
            integrations.integration_provision(actor=request.user, integration=obj)

    def response_add(self, request, obj, post_url_continue=None):
        return _shown_once(request, [obj], title=f"Integration “{obj}” created: its webhook signing secret")

    @admin.action(description="Rotate the webhook signing secret", permissions=["change"])
    def rotate_webhook_secret(self, request, queryset):
        """Asks for the reason first; then rotates and shows the new secrets, once."""
        form = ChangeReasonForm(request.POST if "confirm" in request.POST else None)
        if not form.is_valid():
            return TemplateResponse(
                request,
                "admin/decisions/integration/rotate_confirm.html",
                {
                    **self.admin_site.each_context(request),
                    "title": "Rotate webhook signing secrets",
                    "integrations": list(queryset),
                    "form": form,
                    "opts": self.model._meta,
                    "action_checkbox_name": ACTION_CHECKBOX_NAME,
                },
            )
        rotated = []
        for integration in queryset:
            rotated.append(
                integrations.integration_rotate_secret(
                    actor=request.user,
                    integration=integration,
                    reason=form.cleaned_data["change_reason"],
                    ticket_ref=form.cleaned_data["ticket_ref"],
                )
            )
        return _shown_once(request, rotated, title="New webhook signing secrets")


@admin.register(IntegrationAPIKey)
class IntegrationAPIKeyAdmin(ReasonRequiredAdmin, APIKeyModelAdmin):
    """The plain key is shown once, in a message, when the key is created; only its hash is kept.
    Creating, expiring or revoking a key states its reason (audited)."""

    form = ReasonForm

    # rest_framework_api_key types its admin's option tuples by their length, hence the ignores.
    list_display = ("prefix", "name", "integration", "created", "expiry_date", "last_used_at", "revoked")  # type: ignore[assignment]
    list_filter = ("integration", "revoked")  # type: ignore[assignment]
    list_select_related = ("integration",)
    search_fields = ("name", "prefix", "integration__name")  # type: ignore[assignment]

    def get_readonly_fields(self, request, obj=None):
        fields = (*super().get_readonly_fields(request, obj), "last_used_at")
        return (*fields, "integration") if obj is not None else fields


@admin.register(PersonalToken)
class PersonalTokenAdmin(APIKeyModelAdmin):
    list_display = ("prefix", "name", "user", "created", "expiry_date", "last_used_at", "revoked")  # type: ignore[assignment]
    list_filter = ("revoked",)
    list_select_related = ("user",)
    search_fields = ("name", "prefix", "user__username")  # type: ignore[assignment]

    def has_add_permission(self, request):
        return False  # people create their own tokens (manage.py issue_token for now)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(DecisionRequest)
class DecisionRequestAdmin(ReadOnlyAdmin):
    list_display = ("title", "status", "action_type", "integration", "owner_role", "created_at", "deadline")
    list_filter = ("status", "action_type", "integration")
    list_select_related = ("action_type", "integration", "owner_role")
    search_fields = ("title", "incident_ref", "public_id")
    date_hierarchy = "created_at"


@admin.register(SignOff)
class SignOffAdmin(ReadOnlyAdmin):
    list_display = ("decision", "signer", "signed_as", "verdict", "reason_code", "created_at", "voided_at")
    list_filter = ("verdict", "reason_code")
    list_select_related = ("decision", "signer", "signed_as")


@admin.register(DecisionEvent)
class DecisionEventAdmin(ReadOnlyAdmin):
    list_display = ("decision", "seq", "kind", "at", "actor")
    list_filter = ("kind",)
    list_select_related = ("decision", "actor")


# --- the periodic review ------------------------------------------------------------------


def _local(moment: datetime, tz_name: str) -> str:
    return f"{moment.astimezone(ZoneInfo(tz_name)):%a %Y-%m-%d %H:%M} {tz_name}"


def next_period_end(schedule: ReviewSchedule, *, now: datetime) -> datetime:
    """When the period running at ``now`` ends (the next report is frozen then, at the
    following beat check): one day, week or calendar month after the last complete one."""
    tz = ZoneInfo(schedule.time_zone)
    start = review_cycle.last_complete_period(schedule, now=now).end.astimezone(tz).date()
    if schedule.cadence == ReviewCadence.DAILY:
        end = start + timedelta(days=1)
    elif schedule.cadence == ReviewCadence.MONTHLY:
        end = (start.replace(day=28) + timedelta(days=4)).replace(day=1)
    else:
        end = start + timedelta(days=7)
    return datetime.combine(end, time.min, tzinfo=tz)


PERIOD_FIELDS = ReviewSchedule.PERIOD_FIELDS
PERIODS_LOCKED = (
    "Fixed once a report has been frozen. To review on other periods, disable this schedule and add another schedule."
)


@admin.register(ReviewSchedule)
class ReviewScheduleAdmin(AuditedAdmin):
    """Governance leads set when the review is frozen; celery beat does the freezing."""

    list_display = ("name", "cadence", "first_day", "time_zone", "enabled", "last_frozen", "next_end")
    list_filter = ("enabled", "cadence")
    search_fields = ("name",)
    readonly_fields = ("last_frozen", "next_end")
    actions = ("freeze_last_complete_period",)
    fieldsets = (
        (None, {"fields": ("name", "enabled")}),
        ("Periods", {"fields": ("cadence", "period_starts_on", "time_zone")}),
        ("Status", {"fields": ("last_frozen", "next_end")}),
    )

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(last_frozen_start=Max("reports__period_start"), last_frozen_end=Max("reports__period_end"))
        )

    def get_readonly_fields(self, request, obj=None):
        # The rule is ReviewSchedule.clean(); shown read-only here so nobody types in vain.
        if obj is not None and obj.reports.exists():
            return (*self.readonly_fields, *PERIOD_FIELDS)
        return self.readonly_fields

    def get_fieldsets(self, request, obj=None):
        if obj is None or not obj.reports.exists():
            return self.fieldsets
        locked = {"fields": PERIOD_FIELDS, "description": PERIODS_LOCKED}
        return tuple((name, locked if name == "Periods" else options) for name, options in self.fieldsets)

    @admin.display(description="First day", ordering="period_starts_on")
    def first_day(self, obj: ReviewSchedule) -> str:
        return obj.get_period_starts_on_display() if obj.cadence == ReviewCadence.WEEKLY else "—"

    @admin.display(description="Last frozen period", ordering="last_frozen_start")
    def last_frozen(self, obj: ReviewSchedule) -> str:
        start = getattr(obj, "last_frozen_start", None)
        if start is None:
            return "None yet"
        end = obj.last_frozen_end  # type: ignore[attr-defined]  # annotated by get_queryset
        tz = ZoneInfo(obj.time_zone)
        return f"{start.astimezone(tz):%Y-%m-%d} – {end.astimezone(tz):%Y-%m-%d}"

    @admin.display(description="Current period ends")
    def next_end(self, obj: ReviewSchedule) -> str:
        if obj.pk is None:
            return "Shown once the schedule is saved."
        end = _local(next_period_end(obj, now=timezone.now()), obj.time_zone)
        return end if obj.enabled else f"{end} (disabled: nothing will be frozen)"

    @admin.action(description="Freeze the last complete period now", permissions=["change"])
    def freeze_last_complete_period(self, request, queryset):
        now = timezone.now()
        for schedule in queryset:
            period = review_cycle.last_complete_period(schedule, now=now)
            report = review_cycle.freeze_report(schedule=schedule, period=period, now=now)
            url = reverse("admin:decisions_reviewreport_change", args=[report.pk])
            if report.frozen_at == now:
                messages.success(request, format_html('{}: froze <a href="{}">{}</a>.', schedule, url, report))
            else:
                messages.info(
                    request, format_html('{}: <a href="{}">{}</a> was frozen already.', schedule, url, report)
                )


class SignedOffFilter(admin.SimpleListFilter):
    title = "signed off"
    parameter_name = "signed_off"

    def lookups(self, request, model_admin):
        return (("yes", "Signed off"), ("no", "Waiting for sign-off"))

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(signed_off_at__isnull=False)
        if self.value() == "no":
            return queryset.filter(signed_off_at__isnull=True)
        return queryset


class LogIntactFilter(admin.SimpleListFilter):
    title = "decision log"
    parameter_name = "log"

    def lookups(self, request, model_admin):
        return (("intact", "Intact"), ("broken", "Broken"))

    def queryset(self, request, queryset):
        if self.value() == "intact":
            return queryset.filter(log_verification__intact=True)
        if self.value() == "broken":
            return queryset.exclude(log_verification__intact=True)
        return queryset


class ReviewReportChangeList(ChangeList):
    def get_queryset(self, request, exclude_parameters=None):
        # The list never shows the figures, the largest column; the change page does.
        return super().get_queryset(request, exclude_parameters).defer("figures")


SIGNOFF_FIELDS = ("signed_off_by", "signed_off_at", "signoff_notes", "follow_up_actions")
TOTALS_SHOWN = (
    ("total", "Decisions"),
    ("auto", "Auto-approved"),
    ("approved", "Approved"),
    ("overridden", "Overridden"),
    ("rejected", "Rejected"),
    ("expired", "Expired"),
    ("pending", "Pending when frozen"),
    ("false_positive_rate", "False-positive rate"),
    ("over_blocking_rate", "Over-blocking rate"),
    ("escalations_per_decision", "Escalations per decision"),
)


@admin.register(ReviewReport)
class ReviewReportAdmin(AuditedAdmin):
    """Reports are frozen by celery beat and never edited: read-only here. A lead signs a
    review off on its report page, which the change page links to."""

    list_display = (
        "__str__",
        "schedule",
        "frozen_at",
        "signed_off_by",
        "signed_off_at",
        "log_intact",
        "gap_count",
        "critical_gap_count",
    )
    list_filter = (SignedOffFilter, LogIntactFilter, "schedule")
    list_select_related = ("schedule", "signed_off_by")
    fieldsets = (
        (None, {"fields": ("report_page", "schedule", "period_start", "period_end", "frozen_at")}),
        ("Frozen figures", {"fields": ("totals", "gap_summary", "log_summary")}),
        ("Sign-off", {"fields": SIGNOFF_FIELDS}),
    )
    readonly_fields = (
        "report_page",
        "schedule",
        "period_start",
        "period_end",
        "frozen_at",
        "totals",
        "gap_summary",
        "log_summary",
        *SIGNOFF_FIELDS,
    )

    def get_changelist(self, request, **kwargs):
        return ReviewReportChangeList

    def has_add_permission(self, request):
        return False  # beat freezes reports (or the schedule's "freeze now" action)

    def has_change_permission(self, request, obj=None):
        return False  # frozen; the sign-off goes through its own page and service

    def has_delete_permission(self, request, obj=None):
        return False  # evidence stays

    @admin.display(description="Log intact", boolean=True)
    def log_intact(self, obj: ReviewReport) -> bool | None:
        return obj.log_verification.get("intact")

    @admin.display(description="Gaps")
    def gap_count(self, obj: ReviewReport) -> int:
        return len(obj.gaps)

    @admin.display(description="Critical gaps")
    def critical_gap_count(self, obj: ReviewReport) -> int:
        return sum(1 for gap in obj.gaps if gap.get("kind") in GapKind.CRITICAL)

    @admin.display(description="Report")
    def report_page(self, obj: ReviewReport) -> str:
        url = reverse("decisions:review-report", args=[obj.public_id])
        action = "Read the report" if obj.is_signed_off else "Read and sign off the report"
        return format_html('<a href="{}">{}</a>', url, action)

    @admin.display(description="Totals")
    def totals(self, obj: ReviewReport) -> str:
        totals = obj.figures.get("totals", {})
        rows = [(label, "—" if totals.get(key) is None else totals[key]) for key, label in TOTALS_SHOWN]
        return format_html(
            '<table class="cs-preview"><tbody>{}</tbody></table>',
            format_html_join("", '<tr><th scope="row">{}</th><td>{}</td></tr>', rows),
        )

    @admin.display(description="Ownership gaps")
    def gap_summary(self, obj: ReviewReport) -> str:
        groups = [(g["label"], len(g["gaps"]), " (critical)" if g["critical"] else "") for g in gaps_by_kind(obj.gaps)]
        return format_html("<ul>{}</ul>", format_html_join("", "<li>{}: {}{}</li>", groups))

    @admin.display(description="Decision log")
    def log_summary(self, obj: ReviewReport) -> str:
        check = obj.log_verification
        if not check:
            return "Not checked"
        verdict = "intact" if check.get("intact") else f"BROKEN: {check.get('first_break')}"
        return f"{verdict} ({check.get('decisions', 0)} decisions, {check.get('events', 0)} events checked)"


# --- retention and legal hold -------------------------------------------------------------


class LegalHoldForm(forms.ModelForm):
    class Meta:
        model = LegalHold
        fields = ("incident_ref", "decision_public_id", "reason", "release_reason")

    def clean(self):
        cleaned = super().clean() or {}
        if self.instance.pk is None and not self.errors:
            try:
                retention.legal_hold_check(
                    reason=cleaned.get("reason") or "",
                    incident_ref=cleaned.get("incident_ref") or "",
                    decision_public_id=cleaned.get("decision_public_id"),
                )
            except retention.RetentionError as refused:
                raise forms.ValidationError(str(refused)) from refused
        return cleaned


@admin.register(LegalHold)
class LegalHoldAdmin(AuditedAdmin):
    """Leads place holds here and release them by giving a release reason; holds are never deleted."""

    form = LegalHoldForm
    list_display = ("__str__", "reason", "placed_by", "placed_at", "released_at")
    list_filter = (("released_at", admin.EmptyFieldListFilter),)
    list_select_related = ("placed_by", "released_by")
    search_fields = ("incident_ref", "decision_public_id", "reason")

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("incident_ref", "decision_public_id", "reason")
        return ("incident_ref", "decision_public_id", "reason", "placed_by", "placed_at", "release_reason",
                "released_by", "released_at")  # fmt: skip

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        fixed = ("incident_ref", "decision_public_id", "reason", "placed_by", "placed_at", "released_by", "released_at")
        return (*fixed, "release_reason") if obj.released_at else fixed

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        if not change:
            placed = retention.legal_hold_place(
                actor=request.user,
                reason=obj.reason,
                incident_ref=obj.incident_ref,
                decision_public_id=obj.decision_public_id,
            )
            obj.pk = placed.pk
            return
        if obj.release_reason.strip():
            retention.legal_hold_release(hold=obj, actor=request.user, reason=obj.release_reason)


@admin.register(RetentionRun)
class RetentionRunAdmin(ReadOnlyAdmin):
    list_display = ("started_at", "status", "decisions_removed", "events_removed", "held", "deferred", "started_by")
    list_filter = ("status",)
    list_select_related = ("started_by",)
    readonly_fields = [f.name for f in RetentionRun._meta.fields]
