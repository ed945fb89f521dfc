"""The governance lead's workspace. Admin classes parse, check access and call services."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from auditlog.admin import LogEntryAdmin as BaseLogEntryAdmin
from auditlog.mixins import AuditlogHistoryAdminMixin
from auditlog.models import LogEntry
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.contenttypes.models import ContentType
from django.db.models import CharField, OuterRef, Q, Subquery
from django.http import Http404
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.text import capfirst

from governance import services
from governance.audit import acting_as, change_reason
from governance.forms import (
    ApprovalPolicyForm,
    EscalationChainForm,
    EscalationStepFormSet,
    IdPGroupMappingForm,
    OwnershipAssignmentForm,
    ReasonForm,
    RosterForm,
    RosterMemberFormSet,
    UserReasonChangeForm,
    UserReasonCreationForm,
)
from governance.models import (
    ActionType,
    ApprovalPolicy,
    Certification,
    DecisionRole,
    EscalationChain,
    EscalationStep,
    IdPGroupMapping,
    Level,
    OwnershipAssignment,
    Roster,
    RosterMember,
    RosterOverride,
)
from governance.quorums import policy_quorum_warnings
from governance.rostering import RosterPlan
from governance.selectors import rosters_with_plans

if TYPE_CHECKING:
    from typing import TypedDict

    from django_stubs_ext import WithAnnotations

    class _CurrentOwner(TypedDict):
        current_owner: str | None  # ActionTypeAdmin.get_queryset's annotation


EXPIRY_WARNING = timedelta(days=30)


class AuditedAdmin(AuditlogHistoryAdminMixin, admin.ModelAdmin):
    """Every governance admin: the object's audit history one click from its page.

    ``audit_children`` names (model, additional_data key) pairs whose entries belong on the
    parent's history too (roster members on the roster, steps on the chain).
    """

    audit_children: tuple[tuple[type, str], ...] = ()
    show_auditlog_history_link = True
    auditlog_history_per_page = 25
    change_form_template = "admin/governance/change_form.html"

    def auditlog_history_view(self, request, object_id, extra_context=None):
        obj = self.get_object(request, object_id)
        if obj is None:
            raise Http404(f"No {self.model._meta.verbose_name} with this id.")
        if not self.has_view_permission(request, obj):
            return super().auditlog_history_view(request, object_id, extra_context)
        own = Q(content_type=ContentType.objects.get_for_model(self.model), object_pk=str(obj.pk))
        for model, key in self.audit_children:
            own |= Q(content_type=ContentType.objects.get_for_model(model), **{f"additional_data__{key}__id": obj.pk})
        entries = LogEntry.objects.filter(own).select_related("actor", "content_type").order_by("-timestamp")
        paginator = self.get_paginator(request, entries, self.auditlog_history_per_page)
        page_obj = paginator.get_page(request.GET.get("p", 1))
        context = {
            **self.admin_site.each_context(request),
            "title": f"Audit log: {obj}",
            "module_name": str(capfirst(self.model._meta.verbose_name_plural)),
            "page_range": paginator.get_elided_page_range(page_obj.number),
            "page_var": "p",
            "pagination_required": paginator.count > self.auditlog_history_per_page,
            "object": obj,
            "opts": self.model._meta,
            "log_entries": page_obj,
            **(extra_context or {}),
        }
        return TemplateResponse(request, self.auditlog_history_template, context)


class ReasonRequiredAdmin(AuditedAdmin):
    """Saves happen inside the audit context that carries the form's reason and ticket."""

    reason_fieldset = ("Why", {"fields": ("change_reason", "ticket_ref")})
    form_only_fields = ("change_reason", "ticket_ref", "confirm_coverage_gaps")

    def get_fieldsets(self, request, obj=None):
        fieldsets = []
        for name, opts in super().get_fieldsets(request, obj):
            fields = [f for f in opts["fields"] if f not in self.form_only_fields]
            if fields:
                fieldsets.append((name, {**opts, "fields": fields}))
        read_only = obj is not None and not self.has_change_permission(request, obj)
        if read_only:
            return fieldsets
        extra = [f for f in self.form_only_fields[2:] if f in self.form.base_fields]
        if extra:
            fieldsets.append(("Coverage check", {"fields": extra}))
        return [*fieldsets, self.reason_fieldset]

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        if request.method != "POST":
            return super().changeform_view(request, object_id, form_url, extra_context)
        reason = request.POST.get("change_reason", "").strip()
        ticket = request.POST.get("ticket_ref", "").strip()
        with acting_as(request.user, request.META.get("REMOTE_ADDR")), change_reason(reason, ticket):
            return super().changeform_view(request, object_id, form_url, extra_context)


@admin.register(DecisionRole)
class DecisionRoleAdmin(ReasonRequiredAdmin):
    form = ReasonForm
    list_display = ("name", "slug", "on_call_now", "roster_count")
    search_fields = ("name", "slug", "description")
    prepopulated_fields = {"slug": ("name",)}

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("rosters__memberships__user", "rosters__overrides__user")

    @admin.display(description="On call now")
    def on_call_now(self, role: DecisionRole) -> str:
        now = timezone.now()
        people = []
        for roster in role.rosters.all():
            found = RosterPlan.of(roster).on_call(now)
            if found and found[0] not in people:
                people.append(found[0])
        if not people:
            return format_html('<strong class="cs-gap">{}</strong>', "Nobody — governance gap")
        return ", ".join(p.get_full_name() or p.get_username() for p in people)

    @admin.display(description="Rosters")
    def roster_count(self, role: DecisionRole) -> int:
        return len(role.rosters.all())


def _owner_subquery(field: str):
    now = timezone.now()
    return Subquery(
        OwnershipAssignment.objects.filter(action_type=OuterRef("pk"), effective_from__lte=now)
        .filter(Q(effective_to__isnull=True) | Q(effective_to__gt=now))
        .values(field)[:1],
        output_field=CharField(),
    )


class HasOwnerFilter(admin.SimpleListFilter):
    title = "current owner"
    parameter_name = "owned"

    def lookups(self, request, model_admin):
        return (("yes", "Has an owner"), ("no", "No owner (gap)"))

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(current_owner__isnull=False)
        if self.value() == "no":
            return queryset.filter(current_owner__isnull=True)
        return queryset


@admin.register(ActionType)
class ActionTypeAdmin(ReasonRequiredAdmin):
    form = ReasonForm
    list_display = (
        "name",
        "slug",
        "changes_production_state",
        "touches_regulated_data",
        "system_owned",
        "retention_months",
        "owner_now",
    )
    list_filter = ("changes_production_state", "touches_regulated_data", "system_owned", HasOwnerFilter)
    search_fields = ("name", "slug", "description")
    prepopulated_fields = {"slug": ("name",)}

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(current_owner=_owner_subquery("owner_role__name"))

    @admin.display(description="Owner now", ordering="current_owner")
    def owner_now(self, obj: WithAnnotations[ActionType, _CurrentOwner]) -> str:
        if obj.current_owner:
            return obj.current_owner
        if obj.system_owned:
            return "System"
        return format_html('<strong class="cs-gap">{}</strong>', "No owner — governance gap")


class CurrentFilter(admin.SimpleListFilter):
    title = "period"
    parameter_name = "period"

    def lookups(self, request, model_admin):
        return (("current", "In force now"), ("future", "Starts later"), ("past", "Ended"))

    def queryset(self, request, queryset):
        now = timezone.now()
        if self.value() == "current":
            return queryset.filter(effective_from__lte=now).filter(
                Q(effective_to__isnull=True) | Q(effective_to__gt=now)
            )
        if self.value() == "future":
            return queryset.filter(effective_from__gt=now)
        if self.value() == "past":
            return queryset.filter(effective_to__lte=now)
        return queryset


@admin.register(OwnershipAssignment)
class OwnershipAssignmentAdmin(ReasonRequiredAdmin):
    form = OwnershipAssignmentForm
    list_display = ("action_type", "owner_role", "deputy_role", "effective_from", "effective_to", "status")
    list_filter = (CurrentFilter, "owner_role", "action_type__changes_production_state")
    list_select_related = ("action_type", "owner_role", "deputy_role")
    search_fields = ("action_type__name", "action_type__slug", "owner_role__name", "deputy_role__name")
    autocomplete_fields = ("action_type", "owner_role", "deputy_role")
    date_hierarchy = "effective_from"
    fieldsets = ((None, {"fields": ("action_type", "owner_role", "deputy_role", "effective_from", "effective_to")}),)

    @admin.display(description="Status")
    def status(self, obj: OwnershipAssignment) -> str:
        now = timezone.now()
        if obj.effective_from > now:
            return "Starts later"
        if obj.effective_to is not None and obj.effective_to <= now:
            return "Ended"
        return "In force"

    def save_model(self, request, obj, form, change):
        services.ownership_save(
            actor=request.user,
            assignment=obj,
            reason=form.cleaned_data["change_reason"],
            ticket_ref=form.cleaned_data.get("ticket_ref", ""),
        )


class RosterMemberInline(admin.TabularInline):
    model = RosterMember
    formset = RosterMemberFormSet
    extra = 1
    autocomplete_fields = ("user",)
    ordering = ("position", "pk")
    verbose_name = "member (rotation order by position)"
    verbose_name_plural = "members (rotation order by position)"


class RosterOverrideInline(admin.TabularInline):
    model = RosterOverride
    extra = 0
    autocomplete_fields = ("user",)
    fields = ("user", "starts_at", "ends_at", "note")
    ordering = ("-starts_at",)


@admin.register(Roster)
class RosterAdmin(ReasonRequiredAdmin):
    form = RosterForm
    inlines = (RosterMemberInline, RosterOverrideInline)
    audit_children = ((RosterMember, "roster"), (RosterOverride, "roster"))
    list_display = ("name", "role", "time_zone", "rotation", "member_count", "on_call_now", "next_on_call")
    list_filter = ("role", ("time_zone", admin.AllValuesFieldListFilter), "rotation_days")  # only zones in use
    search_fields = ("name", "role__name", "memberships__user__username", "memberships__user__last_name")
    readonly_fields = ("on_call_preview",)
    fieldsets = (
        (None, {"fields": ("name", "role")}),
        (
            "Rotation",
            {
                "fields": (
                    "time_zone",
                    "rotation_days",
                    "handoff_time",
                    "rotation_start",
                    "coverage_start",
                    "coverage_end",
                )
            },
        ),
        ("Shift swaps", {"fields": ("swaps_need_lead_approval",)}),
        ("Who is on call, next 14 days", {"fields": ("on_call_preview",)}),
    )

    def get_queryset(self, request):
        return rosters_with_plans()

    def _create_formsets(self, request, obj, change):
        formsets, inline_instances = super()._create_formsets(request, obj, change)
        # The coverage check on the members must see the overrides as submitted, not as stored.
        overrides = next((f for f in formsets if f.model is RosterOverride), None)
        for formset in formsets:
            if isinstance(formset, RosterMemberFormSet):
                formset.override_formset = overrides
        return formsets, inline_instances

    @admin.display(description="Rotation")
    def rotation(self, roster: Roster) -> str:
        every = {1: "Daily", 7: "Weekly"}.get(roster.rotation_days, f"Every {roster.rotation_days} days")
        hours = "" if roster.around_the_clock else f", covers {roster.coverage_start:%H:%M}–{roster.coverage_end:%H:%M}"
        return f"{every} at {roster.handoff_time:%H:%M}{hours}"

    @admin.display(description="Members")
    def member_count(self, roster: Roster) -> int:
        return len(roster.memberships.all())

    @staticmethod
    def _name(user) -> str:
        return user.get_full_name() or user.get_username()

    @admin.display(description="On call now")
    def on_call_now(self, roster: Roster) -> str:
        found = RosterPlan.of(roster).on_call(timezone.now())
        if found is None:
            return format_html('<strong class="cs-gap">{}</strong>', "Nobody")
        user, source, _ = found
        return self._name(user) + (" (override)" if source == "override" else "")

    @admin.display(description="Next")
    def next_on_call(self, roster: Roster) -> str:
        now = timezone.now()
        slots = RosterPlan.of(roster).slots(now, now + timedelta(days=14))
        current = slots[0] if slots and slots[0].starts_at <= now else None
        upcoming = [s for s in slots if s is not current]
        if not upcoming:
            return "—"
        nxt = upcoming[0]
        local = timezone.localtime(nxt.starts_at, RosterPlan.of(roster).tz)
        return f"{self._name(nxt.user)} from {local:%a %d %b %H:%M %Z}"

    @admin.display(description="Schedule")
    def on_call_preview(self, roster: Roster) -> str:
        if roster is None or roster.pk is None:
            return "Save the roster to see its schedule."
        roster = rosters_with_plans().get(pk=roster.pk)
        plan = RosterPlan.of(roster)
        now = timezone.now()
        slots = plan.slots(now, now + timedelta(days=14))
        if not slots:
            return format_html('<strong class="cs-gap">{}</strong>', "Nobody is on call in the next 14 days.")
        tz = plan.tz
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    timezone.localtime(s.starts_at, tz).strftime("%a %d %b %H:%M %Z"),
                    timezone.localtime(s.ends_at, tz).strftime("%a %d %b %H:%M %Z"),
                    self._name(s.user),
                    "override" if s.source == "override" else "rotation",
                )
                for s in slots
            ),
        )
        return format_html(
            '<table class="cs-preview"><thead><tr><th scope="col">From ({})</th><th scope="col">Until</th>'
            '<th scope="col">On call</th><th scope="col">Why</th></tr></thead><tbody>{}</tbody></table>',
            roster.time_zone,
            rows,
        )


class ExpiryFilter(admin.SimpleListFilter):
    title = "validity"
    parameter_name = "validity"

    def lookups(self, request, model_admin):
        return (
            ("valid", "Valid now"),
            ("expiring", "Expires within 30 days"),
            ("expired", "Expired"),
            ("revoked", "Revoked"),
        )

    def queryset(self, request, queryset):
        now = timezone.now()
        live = queryset.filter(revoked_at__isnull=True)
        match self.value():
            case "valid":
                return live.filter(valid_from__lte=now, valid_until__gt=now)
            case "expiring":
                return live.filter(valid_until__gt=now, valid_until__lte=now + EXPIRY_WARNING)
            case "expired":
                return live.filter(valid_until__lte=now)
            case "revoked":
                return queryset.filter(revoked_at__isnull=False)
        return queryset


@admin.register(Certification)
class CertificationAdmin(ReasonRequiredAdmin):
    form = ReasonForm
    list_display = ("user", "scope", "valid_from", "valid_until", "validity")
    list_filter = (ExpiryFilter, "role", "action_type")
    list_select_related = ("user", "role", "action_type")
    search_fields = ("user__username", "user__first_name", "user__last_name", "evidence")
    autocomplete_fields = ("user", "role", "action_type")
    date_hierarchy = "valid_until"
    ordering = ("valid_until",)

    @admin.display(description="For")
    def scope(self, cert: Certification) -> str:
        return f"Role: {cert.role}" if cert.role_id else f"Action: {cert.action_type}"

    @admin.display(description="Validity")
    def validity(self, cert: Certification) -> str:
        now = timezone.now()
        if cert.revoked_at and cert.revoked_at <= now:
            return "Revoked"
        if cert.valid_until <= now:
            return format_html('<strong class="cs-gap">{}</strong>', "Expired")
        if cert.valid_from > now:
            return "Not yet valid"
        if cert.valid_until <= now + EXPIRY_WARNING:
            return format_html('<strong class="cs-warn">Expires in {} days</strong>', (cert.valid_until - now).days)
        return "Valid"


class EscalationStepInline(admin.TabularInline):
    model = EscalationStep
    formset = EscalationStepFormSet
    extra = 0
    min_num = 1
    autocomplete_fields = ("role",)
    ordering = ("position",)


@admin.register(EscalationChain)
class EscalationChainAdmin(ReasonRequiredAdmin):
    form = EscalationChainForm
    inlines = (EscalationStepInline,)
    audit_children = ((EscalationStep, "chain"),)
    list_display = ("name", "final_outcome", "step_summary")
    list_filter = ("final_outcome",)
    search_fields = ("name", "description")
    fieldsets = ((None, {"fields": ("name", "description", "final_outcome")}),)

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("steps__role")

    @admin.display(description="Steps")
    def step_summary(self, chain: EscalationChain) -> str:
        steps = sorted(chain.steps.all(), key=lambda s: s.position)
        return " → ".join(f"{s.role.name} ({s.wait_seconds}s)" for s in steps) or "—"


@admin.register(ApprovalPolicy)
class ApprovalPolicyAdmin(ReasonRequiredAdmin):
    form = ApprovalPolicyForm
    list_display = ("priority", "name", "enabled", "criteria", "required_approvals", "escalation_chain", "version")
    list_display_links = ("priority", "name")
    list_filter = ("enabled", "required_approvals", "escalation_chain")
    search_fields = ("name", "description")
    filter_horizontal = ("action_types", "cosigner_roles")
    readonly_fields = ("version",)
    fieldsets = (
        (None, {"fields": ("name", "description", "priority", "enabled", "version")}),
        (
            "Matches decisions with",
            {
                "fields": (
                    "action_types",
                    "min_severity",
                    ("min_blast_radius", "max_blast_radius"),
                    ("min_ai_confidence", "max_ai_confidence"),
                    "regulated_data",
                    "customer_impact",
                )
            },
        ),
        (
            "Requires",
            {
                "fields": (
                    "required_approvals",
                    "cosigner_roles",
                    "time_to_act_seconds",
                    "escalation_chain",
                    "allow_auto_approval",
                )
            },
        ),
        ("Break-glass", {"fields": ("allows_break_glass", "break_glass_review_hours")}),
        ("At signing", {"fields": ("step_up", "step_up_minutes")}),
    )

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("escalation_chain").prefetch_related("action_types")

    @admin.display(description="Matches")
    def criteria(self, policy: ApprovalPolicy) -> str:
        parts = []
        names = [a.slug for a in policy.action_types.all()]
        parts.append(", ".join(names) if names else "any action")
        if policy.min_severity:
            parts.append(f"severity ≥ {Level(policy.min_severity).label}")
        if policy.min_blast_radius:
            parts.append(f"blast ≥ {Level(policy.min_blast_radius).label}")
        if policy.max_blast_radius:
            parts.append(f"blast ≤ {Level(policy.max_blast_radius).label}")
        if policy.min_ai_confidence is not None:
            parts.append(f"confidence ≥ {policy.min_ai_confidence}")
        if policy.max_ai_confidence is not None:
            parts.append(f"confidence ≤ {policy.max_ai_confidence}")
        if policy.regulated_data != "any":
            parts.append(f"regulated data: {policy.regulated_data}")
        if policy.customer_impact != "any":
            parts.append(f"customer impact: {policy.customer_impact}")
        return "; ".join(parts)

    def save_model(self, request, obj, form, change):
        services.approval_policy_save(
            actor=request.user,
            policy=obj,
            action_types=list(form.cleaned_data.get("action_types") or []),
            cosigner_roles=list(form.cleaned_data.get("cosigner_roles") or []),
            reason=form.cleaned_data["change_reason"],
            ticket_ref=form.cleaned_data.get("ticket_ref", ""),
            at=timezone.now(),
        )
        for warning in policy_quorum_warnings(policy=obj, at=timezone.now()):
            messages.warning(request, warning)

    def save_related(self, request, form, formsets, change):
        # The many-to-many fields were saved by the service, inside its transaction.
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)


@admin.register(IdPGroupMapping)
class IdPGroupMappingAdmin(ReasonRequiredAdmin):
    """Which IdP groups give which portal groups at SSO login. Disable a mapping to end it."""

    form = IdPGroupMappingForm
    list_display = ("idp_group", "provider_or_any", "group", "enabled")
    list_filter = ("enabled", "group", "provider")
    search_fields = ("idp_group", "provider")
    fieldsets = ((None, {"fields": ("provider", "idp_group", "group", "enabled")}),)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("group")

    @admin.display(description="IdP", ordering="provider")
    def provider_or_any(self, mapping: IdPGroupMapping) -> str:
        return mapping.provider or "any IdP"

    def save_model(self, request, obj, form, change):
        services.idp_group_mapping_save(
            actor=request.user,
            mapping=obj,
            reason=form.cleaned_data["change_reason"],
            ticket_ref=form.cleaned_data.get("ticket_ref", ""),
        )


admin.site.unregister(get_user_model())


@admin.register(get_user_model())
class UserAdmin(ReasonRequiredAdmin, DjangoUserAdmin):
    """Groups, staff and superuser flags decide who may do what: each change states its reason."""

    form = UserReasonChangeForm
    add_form = UserReasonCreationForm


admin.site.unregister(LogEntry)


@admin.register(LogEntry)
class LogEntryAdmin(BaseLogEntryAdmin):
    """auditlog's read-only log, with the reason and ticket a lead gave for each change."""

    list_display = ["created", "resource_url", "action", "msg_short", "user_url", "reason"]

    @admin.display(description="Reason")
    def reason(self, entry: LogEntry) -> str:
        data = entry.additional_data or {}
        text = data.get("reason", "")
        if data.get("ticket_ref"):
            text = f"{text} [{data['ticket_ref']}]"
        return text
