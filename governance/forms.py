"""Admin forms: parse input and call the rule functions in ``governance.services``."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.core.exceptions import ValidationError
from django.utils import timezone

from governance import services
from governance.models import ApprovalPolicy, EscalationChain, IdPGroupMapping, OwnershipAssignment, Roster
from governance.rostering import RosterPlan


class ReasonForm(forms.ModelForm):
    """A change to governance configuration states why; the reason goes into the audit entry."""

    change_reason = forms.CharField(
        label="Reason for this change",
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Recorded with the audit entry. Auditors read it.",
    )
    ticket_ref = forms.CharField(label="Ticket reference", max_length=100, required=False)


class ChangeReasonForm(forms.Form):
    """The reason and ticket on their own, for changes that are not a model form (admin actions)."""

    change_reason = ReasonForm.base_fields["change_reason"]
    ticket_ref = ReasonForm.base_fields["ticket_ref"]


class UserReasonChangeForm(UserChangeForm):
    """A user's groups, flags and permissions decide what they may do: a change states why."""

    change_reason = ReasonForm.base_fields["change_reason"]
    ticket_ref = ReasonForm.base_fields["ticket_ref"]


class UserReasonCreationForm(AdminUserCreationForm):
    change_reason = ReasonForm.base_fields["change_reason"]
    ticket_ref = ReasonForm.base_fields["ticket_ref"]


class OwnershipAssignmentForm(ReasonForm):
    class Meta:
        model = OwnershipAssignment
        fields = ["action_type", "owner_role", "deputy_role", "effective_from", "effective_to"]

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data  # what ModelForm.clean() returns (the stubs allow None)
        if self.errors:
            return cleaned
        candidate = self.instance
        for name in self.Meta.fields:
            setattr(candidate, name, cleaned.get(name))
        services.ownership_validate(candidate)
        return cleaned


class ApprovalPolicyForm(ReasonForm):
    class Meta:
        model = ApprovalPolicy
        fields = [
            "name",
            "description",
            "priority",
            "enabled",
            "action_types",
            "min_severity",
            "min_blast_radius",
            "max_blast_radius",
            "min_ai_confidence",
            "max_ai_confidence",
            "regulated_data",
            "customer_impact",
            "required_approvals",
            "cosigner_roles",
            "time_to_act_seconds",
            "escalation_chain",
            "allow_auto_approval",
            "allows_break_glass",
            "break_glass_review_hours",
            "step_up",
            "step_up_minutes",
        ]

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data  # what ModelForm.clean() returns (the stubs allow None)
        if self.errors:
            return cleaned
        policy = self.instance
        for name, value in cleaned.items():
            if name in {"action_types", "cosigner_roles", "change_reason", "ticket_ref"}:
                continue
            setattr(policy, name, value)
        services.approval_policy_validate(
            policy=policy,
            action_types=list(cleaned.get("action_types") or []),
            cosigner_roles=list(cleaned.get("cosigner_roles") or []),
            at=timezone.now(),
        )
        return cleaned


class EscalationChainForm(ReasonForm):
    class Meta:
        model = EscalationChain
        fields = ["name", "description", "final_outcome"]


class RosterForm(ReasonForm):
    confirm_coverage_gaps = forms.BooleanField(
        required=False,
        label=services.CONFIRM_GAPS_LABEL,
        help_text=(
            "Needed only when the save would leave a role that owns decisions uncovered; the gaps are listed above."
        ),
    )

    class Meta:
        model = Roster
        fields = [
            "name",
            "role",
            "time_zone",
            "rotation_days",
            "handoff_time",
            "rotation_start",
            "coverage_start",
            "coverage_end",
            "swaps_need_lead_approval",
        ]


class RosterMemberFormSet(forms.BaseInlineFormSet):
    """Checks the roster as it will be after this save for owning roles left uncovered.

    The membership inline is where the rotation is edited, so it is where the whole new
    roster (the parent form's values plus these members) can be simulated before saving.
    ``override_formset`` (set by the admin) is the overrides inline of the same save: without
    it, deleting or shortening the override that covers an owning role would go unnoticed.
    """

    override_formset: forms.BaseInlineFormSet | None = None

    def clean(self) -> None:
        super().clean()
        if any(self.errors) or self.instance is None:
            return
        roster: Roster = self.instance
        if not roster.role_id or not roster.rotation_start or not roster.time_zone:
            return
        if (roster.coverage_start is None) != (roster.coverage_end is None):
            return  # a half-set coverage window cannot be saved: the roster form reports it
        members = []
        for form in sorted(
            (f for f in self.forms if f.cleaned_data and not f.cleaned_data.get("DELETE")),
            key=lambda f: f.cleaned_data.get("position") or 0,
        ):
            members.append(form.cleaned_data["user"])
        if self.override_formset is not None:
            if not self.override_formset.is_valid():
                return
            overrides = [
                f.instance for f in self.override_formset.forms if f.cleaned_data and not f.cleaned_data.get("DELETE")
            ]
        else:
            overrides = list(roster.overrides.select_related("user")) if roster.pk else []
        plan = RosterPlan(roster=roster, members=members, overrides=overrides)
        services.roster_coverage_validate(
            plan=plan, at=timezone.now(), confirmed=bool(self.data.get("confirm_coverage_gaps"))
        )


class EscalationStepFormSet(forms.BaseInlineFormSet):
    def clean(self) -> None:
        super().clean()
        if any(self.errors):
            return
        live = [f for f in self.forms if f.cleaned_data and not f.cleaned_data.get("DELETE")]
        positions = [f.cleaned_data["position"] for f in live]
        if len(positions) != len(set(positions)):
            raise ValidationError("Each step needs its own position.")
        try:
            services.escalation_chain_validate(chain=self.instance, step_count=len(live))
        except ValidationError as exc:
            raise ValidationError(exc.messages) from exc


class IdPGroupMappingForm(ReasonForm):
    class Meta:
        model = IdPGroupMapping
        fields = ["provider", "idp_group", "group", "enabled"]

    # Stripped here, before the form's uniqueness check, so a duplicate with surrounding space
    # is a form error (Django's CharField strips too: this keeps it so if that ever changes).
    def clean_idp_group(self) -> str:
        return str(self.cleaned_data.get("idp_group") or "").strip()

    def clean_provider(self) -> str:
        return str(self.cleaned_data.get("provider") or "").strip()
