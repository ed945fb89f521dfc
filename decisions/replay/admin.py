"""The admin of draft approval policies: the draft's change page, its "Replay" page (period,
aggregates, a page of decisions) and its activation (reason, ticket, the replay kept with it).
Registered by ``decisions.admin``. Thin: the replay and the activation are this room's."""

from __future__ import annotations

from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from decisions.models import PolicyDraft
from decisions.models.replay import RULE_FIELDS, RULE_M2M_FIELDS
from decisions.replay import report as replay_report
from decisions.replay import services as replay_services
from decisions.review.figures import DEFAULT_DAYS, PRESET_DAYS, PeriodError, period_from_params
from governance.admin import AuditedAdmin
from governance.forms import ChangeReasonForm
from governance.models import ApprovalPolicy


class PolicyDraftForm(forms.ModelForm):
    class Meta:
        model = PolicyDraft
        fields = ("policy", *RULE_FIELDS, *RULE_M2M_FIELDS)

    def clean(self):
        cleaned = super().clean() or {}
        if self.errors:
            return cleaned
        draft = self.instance
        for name in RULE_FIELDS:
            setattr(draft, name, cleaned.get(name))
        replay_services.policy_draft_validate(
            draft=draft,
            action_types=list(cleaned.get("action_types") or []),
            cosigner_roles=list(cleaned.get("cosigner_roles") or []),
            at=timezone.now(),
        )
        return cleaned


class ReplayPeriodForm(forms.Form):
    """The period a replay runs over: the last N days, or two local dates (both included)."""

    days = forms.TypedChoiceField(
        label="Last", choices=[(d, f"{d} days") for d in PRESET_DAYS], coerce=int, required=False, initial=DEFAULT_DAYS
    )
    start = forms.DateField(label="Or from", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label="to (included)", required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        cleaned = super().clean() or {}
        start, end = cleaned.get("start"), cleaned.get("end")
        params = (
            {"start": start.isoformat() if start else "", "end": end.isoformat() if end else ""}
            if start or end
            else {"days": str(cleaned.get("days") or DEFAULT_DAYS)}
        )
        try:
            cleaned["period"] = period_from_params(params, tz=ZoneInfo("UTC"))
        except PeriodError as exc:
            raise forms.ValidationError(str(exc)) from exc
        return cleaned

    def query(self) -> dict[str, str]:
        """The period's parameters, to carry into page links and the activation form."""
        return {k: str(v) for k, v in self.cleaned_data.items() if k != "period" and v not in (None, "")}


class ActivateDraftForm(ChangeReasonForm, ReplayPeriodForm):
    """Activation: the reason (mandatory, audited), a ticket, and the period of the replay kept with it."""


@admin.register(PolicyDraft)
class PolicyDraftAdmin(AuditedAdmin):
    """Drafts are never in force. Replay one over past decisions; activating it is one audited
    step with a reason, which keeps the replay report on the draft."""

    form = PolicyDraftForm
    change_form_template = "admin/decisions/policydraft/change_form.html"
    list_display = ("name", "policy", "status", "priority", "required_approvals", "created_by", "created_at")
    list_filter = ("status",)
    list_select_related = ("policy", "created_by")
    search_fields = ("name", "description", "policy__name")
    fieldsets = (
        (None, {"fields": ("policy", "name", "description", "priority", "enabled")}),
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
    )
    activation_fields = (
        "status",
        "base_version",
        "created_by",
        "activated_by",
        "activated_at",
        "activation_reason",
        "activation_ticket_ref",
        "activated_version",
        "report_summary",
    )

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("policy", "created_by", "activated_by")

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return self.fieldsets
        return (*self.fieldsets, ("State", {"fields": self.activation_fields}))

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        if not obj.is_draft:
            return (*[f for _name, opts in self.fieldsets for f in _flat(opts["fields"])], *self.activation_fields)
        return ("policy", *self.activation_fields)

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and (obj is None or obj.is_draft)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and (obj is None or obj.is_draft)

    def get_changeform_initial_data(self, request):
        """``?policy=<pk>``: a draft that starts as that policy is now."""
        initial = super().get_changeform_initial_data(request)
        policy_id = request.GET.get("policy", "")
        if policy_id.isdigit():
            policy = ApprovalPolicy.objects.prefetch_related(*RULE_M2M_FIELDS).filter(pk=int(policy_id)).first()
            if policy is not None:
                return {**initial, **replay_services.policy_draft_initial(policy), "policy": policy.pk}
        return initial

    def save_model(self, request, obj, form, change):
        replay_services.policy_draft_save(
            actor=request.user,
            draft=obj,
            action_types=list(form.cleaned_data.get("action_types") or []),
            cosigner_roles=list(form.cleaned_data.get("cosigner_roles") or []),
        )

    def save_related(self, request, form, formsets, change):
        pass  # the many-to-many fields were saved by the service, inside its transaction

    @admin.display(description="Replay report kept with the activation")
    def report_summary(self, obj: PolicyDraft) -> str:
        report = obj.replay_report if isinstance(obj.replay_report, dict) else None
        if not report:
            return "—"
        summary, period = report.get("summary", {}), report.get("parameters", {}).get("period", {})
        return format_html(
            "{} to {}: {} decisions, {} change requirement, {} auto-approved that a person rejected, "
            "{} extra approvals",
            period.get("start", "?"),
            period.get("end", "?"),
            summary.get("decisions", "?"),
            summary.get("changed", "?"),
            summary.get("auto_over_rejection", "?"),
            summary.get("extra_approvals", "?"),
        )

    def get_urls(self):
        own = [
            path(
                "<path:object_id>/replay/",
                self.admin_site.admin_view(self.replay_view),
                name="decisions_policydraft_replay",
            ),
            path(
                "<path:object_id>/activate/",
                self.admin_site.admin_view(self.activate_view),
                name="decisions_policydraft_activate",
            ),
        ]
        return own + super().get_urls()

    def _draft_or_404(self, request, object_id) -> PolicyDraft:
        draft = self.get_object(request, object_id)
        if draft is None:
            raise Http404("No such draft policy.")
        if not self.has_view_permission(request, draft):
            raise PermissionDenied
        return draft

    def replay_view(self, request, object_id):
        """GET: the period form, the aggregates and a page of decisions (auto-over-rejection first)."""
        draft = self._draft_or_404(request, object_id)
        form = ReplayPeriodForm(request.GET or None)
        result, query = None, {}
        if form.is_valid():
            query = form.query()
            page = request.GET.get("page", "1")
            result = replay_report.replay(
                draft, form.cleaned_data["period"], page=int(page) if page.isdigit() and 0 < int(page) < 10**6 else 1
            )
        elif not request.GET:
            form = ReplayPeriodForm(initial={"days": DEFAULT_DAYS})
        return TemplateResponse(
            request,
            "admin/decisions/policydraft/replay.html",
            {
                **self.admin_site.each_context(request),
                "title": f"Replay: {draft.name}",
                "opts": self.model._meta,
                "original": draft,
                "form": form,
                "result": result,
                "query": urlencode(query),
                "may_activate": draft.is_draft and request.user.has_perm(replay_services.ACTIVATE),
            },
        )

    def activate_view(self, request, object_id):
        """GET: the form (reason, ticket, period); POST: activate through the service."""
        draft = self._draft_or_404(request, object_id)
        if not request.user.has_perm(replay_services.ACTIVATE):
            raise PermissionDenied
        form = ActivateDraftForm(request.POST if request.method == "POST" else None, initial=request.GET.dict())
        if request.method == "POST" and form.is_valid():
            try:
                replay_services.policy_draft_activate(
                    draft=draft,
                    actor=request.user,
                    reason=form.cleaned_data["change_reason"],
                    ticket_ref=form.cleaned_data["ticket_ref"],
                    period=form.cleaned_data["period"],
                )
            except ValidationError as refused:
                for message in refused.messages:
                    form.add_error(None, message)
            else:
                messages.success(request, f"Draft “{draft.name}” is in force; its replay report is kept with it.")
                return HttpResponseRedirect(reverse("admin:decisions_policydraft_change", args=[draft.pk]))
        return TemplateResponse(
            request,
            "admin/decisions/policydraft/activate.html",
            {
                **self.admin_site.each_context(request),
                "title": f"Activate: {draft.name}",
                "opts": self.model._meta,
                "original": draft,
                "form": form,
            },
        )


def _flat(fields) -> list[str]:
    return [f for item in fields for f in (item if isinstance(item, tuple) else (item,))]
