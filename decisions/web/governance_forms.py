"""Forms of the break-glass and shift-swap pages. They parse shapes only: the rules live in
``decisions.breakglass.services`` and ``governance.swaps``, which the views call."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from django import forms
from django.utils import timezone

from decisions.models import BreakGlassReview
from governance.models import ShiftSwap
from governance.rostering import Slot

REASON_MAX = 2000


class BreakGlassForm(forms.Form):
    reason = forms.CharField(
        label="Why this cannot wait for the quorum",
        max_length=REASON_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Required. The skipped approvers and the leads read it at once; a reviewer judges it later.",
        error_messages={"required": "Say why this cannot wait for the quorum."},
    )
    understood = forms.BooleanField(
        label="I execute this decision now, on my own authority, and accept a post-hoc review",
        error_messages={"required": "Tick the box to confirm you break the glass."},
    )


class BreakGlassReviewForm(forms.Form):
    verdict = forms.ChoiceField(
        label="Your review",
        choices=BreakGlassReview.choices,
        widget=forms.RadioSelect,
        error_messages={"required": "Confirm or condemn the break-glass."},
    )
    rationale = forms.CharField(
        max_length=REASON_MAX,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Why. Required; kept in the decision log.",
        error_messages={"required": "A rationale is required for the review."},
    )


def _label(slot: Slot, tz: Any, *, who: bool = False) -> str:
    start, end = timezone.localtime(slot.starts_at, tz), timezone.localtime(slot.ends_at, tz)
    name = (slot.user.get_full_name() or slot.user.get_username()) + ": " if who else ""
    return f"{name}{start:%a %d %b %H:%M} – {end:%a %d %b %H:%M %Z}"


def _value(slot: Slot) -> str:
    return f"{slot.starts_at.isoformat()}|{slot.ends_at.isoformat()}"


def parse_period(value: str) -> tuple[datetime, datetime] | None:
    try:
        start, end = (datetime.fromisoformat(part) for part in value.split("|", 1))
    except ValueError:
        return None
    if start.tzinfo is None or end.tzinfo is None:
        return None
    return start, end


class SwapProposalForm(forms.Form):
    """Proposing a swap or cover of one of my upcoming shifts (the choices are built from the
    roster's schedule: my shifts, the other members, their shifts)."""

    kind = forms.ChoiceField(label="What you propose", choices=ShiftSwap.Kind.choices, widget=forms.RadioSelect)
    shift = forms.ChoiceField(label="My shift to hand over")
    counterpart = forms.ChoiceField(label="Who takes it")
    return_shift = forms.ChoiceField(
        label="Their shift I take in return (swap only)", required=False,
        help_text="Leave empty for a cover.",
    )  # fmt: skip
    note = forms.CharField(
        label="Why", max_length=500, widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Kept with the roster's audit trail.",
        error_messages={"required": "Say why (it is kept with the roster's audit trail)."},
    )  # fmt: skip

    def __init__(self, *args: Any, mine: list[Slot], others: list[Slot], members: list[Any], tz: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        fields = cast(dict[str, forms.ChoiceField], self.fields)
        fields["shift"].choices = [("", "Choose one of your shifts…")] + [(_value(s), _label(s, tz)) for s in mine]
        fields["counterpart"].choices = [("", "Choose a member…")] + [
            (str(u.pk), u.get_full_name() or u.get_username()) for u in members
        ]
        fields["return_shift"].choices = [("", "None (a cover)")] + [
            (f"{s.user.pk}|{_value(s)}", _label(s, tz, who=True)) for s in others
        ]
        self.members = {str(u.pk): u for u in members}

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        shift = parse_period(data.get("shift") or "")
        if data.get("shift") and shift is None:
            self.add_error("shift", "Choose one of your shifts.")
        data["period"] = shift
        data["counterpart_user"] = self.members.get(data.get("counterpart") or "")
        raw = data.get("return_shift") or ""
        data["return_period"] = None
        if raw:
            owner, _, rest = raw.partition("|")
            data["return_period"] = parse_period(rest)
            if data.get("counterpart") and owner != data["counterpart"]:
                self.add_error("return_shift", "Choose a shift of the person who takes yours.")
        if data.get("kind") == ShiftSwap.Kind.SWAP and not raw:
            self.add_error("return_shift", "A swap takes one of their shifts in return: choose it, or propose a cover.")
        if data.get("kind") == ShiftSwap.Kind.COVER and raw:
            self.add_error("return_shift", "A cover takes no shift in return: clear it, or propose a swap.")
        return data


class SwapDecisionForm(forms.Form):
    note = forms.CharField(label="Why", max_length=500, required=False, widget=forms.Textarea(attrs={"rows": 2}))
