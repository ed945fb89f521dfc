"""Forms of the analyst pages. They parse and check shapes only; the rules (who may sign, when,
what an override may change) live in ``decisions.services``, which the views call."""

from __future__ import annotations

import json
from datetime import datetime, time, timedelta
from typing import Any

from django import forms
from django.utils import timezone

from decisions import selectors
from decisions.models import REASONS_BY_VERDICT, DecisionStatus, NotificationPreference, ReasonCode, Verdict
from governance.models import DecisionRole

MAX_OVERRIDE_CHARS = 20_000


def _reason_choices() -> list:
    """Reason codes grouped by the verdict they fit (``other`` fits every verdict)."""
    groups: list = [("", "Choose a reason…")]
    for verdict in Verdict:
        codes = [c for c in ReasonCode if c in REASONS_BY_VERDICT[verdict] and c != ReasonCode.OTHER]
        groups.append((f"{verdict.label.split(' (')[0]}", [(c.value, c.label) for c in codes]))
    groups.append(("Any verdict", [(ReasonCode.OTHER.value, ReasonCode.OTHER.label)]))
    return groups


class SignOffForm(forms.Form):
    verdict = forms.ChoiceField(
        choices=Verdict.choices,
        widget=forms.RadioSelect,
        error_messages={"required": "Choose a verdict: approve, override or reject."},
    )
    reason_code = forms.ChoiceField(
        label="Reason",
        choices=_reason_choices,
        error_messages={"required": "Choose the reason that fits your verdict."},
    )
    rationale = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        max_length=5000,
        help_text="Why you decided this way. Required for every verdict; it is kept in the decision log.",
        error_messages={"required": "A rationale is required for every verdict."},
    )
    override_action = forms.CharField(
        label="Changed action (override only)",
        required=False,
        max_length=MAX_OVERRIDE_CHARS,
        widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false", "class": "mono"}),
        help_text='A JSON object with what to execute instead, e.g. {"target": {"host": "fin-042", '
        '"scope": "block outbound only"}}. Leave empty unless you choose Override.',
    )

    def clean_override_action(self) -> dict[str, Any] | None:
        raw = self.cleaned_data["override_action"].strip()
        if not raw:
            return None
        try:
            value = json.loads(raw)
        except ValueError as exc:
            raise forms.ValidationError(f"Not valid JSON: {exc}.") from None
        if not isinstance(value, dict) or not value:
            raise forms.ValidationError('Give a non-empty JSON object, e.g. {"target": {...}}.')
        return value

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        verdict, reason = data.get("verdict"), data.get("reason_code")
        if verdict and reason and reason not in REASONS_BY_VERDICT[verdict]:
            fitting = ", ".join(ReasonCode(c).label for c in ReasonCode if c in REASONS_BY_VERDICT[verdict])
            self.add_error(
                "reason_code", f"This reason does not fit “{Verdict(verdict).label}”. Choose one of: {fitting}."
            )
        if "override_action" in data:
            if verdict == Verdict.OVERRIDE and not data["override_action"]:
                self.add_error("override_action", "An override must say what to execute instead.")
            elif verdict and verdict != Verdict.OVERRIDE and data["override_action"]:
                self.add_error(
                    "override_action", "Only an override carries a changed action: clear this box or choose Override."
                )
        return data


def _day_start(day) -> datetime:
    """Midnight at the start of ``day`` in the display time zone, as an aware instant."""
    return timezone.make_aware(datetime.combine(day, time.min))


class DecisionFilterForm(forms.Form):
    """The reviewers' list filters (GET). Dates are whole days in the display time zone."""

    q = forms.CharField(label="Title or incident", required=False, max_length=200, strip=True)
    status = forms.ChoiceField(label="Status", required=False, choices=[("", "Any status"), *DecisionStatus.choices])
    action_type = forms.ModelChoiceField(
        label="Action type",
        required=False,
        queryset=selectors.action_types_for_filter(),
        to_field_name="slug",
        empty_label="Any action type",
    )
    created_from = forms.DateField(
        label="Received from", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    created_to = forms.DateField(
        label="Received to (inclusive)", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        start, end = data.get("created_from"), data.get("created_to")
        if start and end and start > end:
            self.add_error("created_to", "The end date is before the start date.")
        return data

    def selector_kwargs(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "status": data.get("status") or "",
            "action_type": data.get("action_type"),
            "created_from": _day_start(data["created_from"]) if data.get("created_from") else None,
            "created_before": _day_start(data["created_to"] + timedelta(days=1)) if data.get("created_to") else None,
            "search": data.get("q") or "",
        }


class EscalateForm(forms.Form):
    reason = forms.CharField(
        label="Why escalate now",
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="The next role in the chain is asked at once; you keep your own grant.",
    )


class ReassignForm(forms.Form):
    role = forms.ModelChoiceField(queryset=DecisionRole.objects.order_by("name"), label="Hand it to")
    reason = forms.CharField(label="Why reassign", max_length=500, widget=forms.Textarea(attrs={"rows": 2}))


class NotificationPreferenceForm(forms.ModelForm):
    class Meta:
        model = NotificationPreference
        fields = ["email"]
        labels = {"email": "Email me when a decision waits for my sign-off"}


# --- The periodic review ----------------------------------------------------------------------

REVIEW_PRESETS = [("7", "Last 7 days"), ("30", "Last 30 days"), ("90", "Last 90 days"), ("365", "Last 365 days")]


class ReviewPeriodForm(forms.Form):
    """The dashboard's period selector (GET). It only renders and echoes the choice: the period
    itself, and any error, comes from ``decisions.review.figures.period_from_params``."""

    days = forms.CharField(label="Period", required=False, widget=forms.Select(choices=REVIEW_PRESETS))
    start = forms.CharField(label="From", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.CharField(label="To (inclusive)", required=False, widget=forms.DateInput(attrs={"type": "date"}))


class ReviewSignOffForm(forms.Form):
    notes = forms.CharField(
        label="Review notes",
        max_length=10_000,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text="What the review found and decided. Kept with the report and in the audit log.",
        error_messages={"required": "Give notes: what the review found and decided."},
    )
    follow_up_actions = forms.CharField(
        label="Follow-up actions",
        required=False,
        max_length=10_000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="One action per line, e.g. “Certify a second Tier-3 analyst by 1 March”.",
    )
