"""Rosters on the analyst pages: the next 14 days of a roster, and governed shift swaps (propose,
accept or decline, approve or refuse, withdraw). The rules are in ``governance.swaps``."""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from decisions.actors import SignedInRequest
from decisions.web.governance_forms import SwapDecisionForm, SwapProposalForm
from decisions.web.responses import forbidden
from governance import swaps
from governance.models import Roster, ShiftSwap

SCHEDULE_DAYS = 14


@login_required
@require_GET
def roster_list(request: SignedInRequest) -> HttpResponse:
    return render(request, "rosters/list.html", {"rosters": swaps.rosters_for(request.user)})


def _schedule(request: SignedInRequest, public_id: UUID) -> swaps.Schedule:
    try:
        schedule = swaps.roster_schedule(public_id=public_id, at=timezone.now(), days=SCHEDULE_DAYS)
    except Roster.DoesNotExist as exc:
        raise Http404("No such roster.") from exc
    is_member = any(u.pk == request.user.pk for u in schedule.plan.members)
    if not is_member and not request.user.has_perm(swaps.VIEW):
        raise Http404("No such roster, or you are not on it.")
    return schedule


def _proposal_form(request: SignedInRequest, schedule: swaps.Schedule, data=None) -> SwapProposalForm:
    others = [u for u in schedule.plan.members if u.pk != request.user.pk and u.is_active]
    return SwapProposalForm(
        data,
        mine=schedule.shifts_of(request.user),
        others=[s for s in schedule.whole_shifts() if s.user.pk != request.user.pk],
        members=others,
        tz=schedule.plan.tz,
        prefix="swap",
    )


def _rows(schedule: swaps.Schedule) -> list[dict]:
    """The schedule's periods in the roster's time zone, each with the swap that made it."""
    made_by = {}
    for swap in schedule.swaps:
        for override_id in (swap.cover_override_id, swap.return_override_id):
            if override_id:
                made_by[override_id] = swap
    tz = schedule.plan.tz
    return [
        {
            "slot": slot,
            "starts": timezone.localtime(slot.starts_at, tz),
            "ends": timezone.localtime(slot.ends_at, tz),
            "swap": made_by.get(slot.override.pk) if slot.override is not None else None,
        }
        for slot in schedule.slots
    ]


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def roster_detail(request: SignedInRequest, public_id: UUID) -> HttpResponse:
    """The roster's next 14 days with its swaps; a member proposes a swap or cover here."""
    schedule = _schedule(request, public_id)
    is_member = any(u.pk == request.user.pk for u in schedule.plan.members)
    form = _proposal_form(request, schedule, request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        if not is_member:
            return forbidden(request, "Only a member of this roster can propose a swap on it.")
        if form.is_valid():
            data = form.cleaned_data
            period, back = data["period"], data["return_period"]
            try:
                swaps.swap_propose(
                    roster=schedule.roster,
                    actor=request.user,
                    kind=data["kind"],
                    counterpart=data["counterpart_user"],
                    starts_at=period[0],
                    ends_at=period[1],
                    return_starts_at=back[0] if back else None,
                    return_ends_at=back[1] if back else None,
                    note=data["note"],
                )
            except swaps.SwapNotAllowed as exc:
                return forbidden(request, exc.message)
            except swaps.SwapRefused as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            else:
                messages.success(request, "Proposed: the other person is asked to accept it on this page.")
                return redirect("decisions:roster", public_id=schedule.roster.public_id)
        status = 400
    return render(
        request,
        "rosters/detail.html",
        {
            "schedule": schedule,
            "roster": schedule.roster,
            "rows": _rows(schedule),
            "swaps": schedule.swaps,
            "form": form if is_member else None,
            "decision_form": SwapDecisionForm(),
            "is_lead": request.user.has_perm(swaps.APPROVE),
        },
        status=status,
    )


ACTIONS: dict[str, tuple[Callable[..., ShiftSwap], str, bool]] = {
    # action: (service, what the person reads after it, whether it takes the note)
    "accept": (swaps.swap_accept, "Accepted.", False),
    "decline": (swaps.swap_decline, "Declined.", True),
    "approve": (swaps.swap_approve, "Approved: the swap is applied to the roster.", True),
    "refuse": (swaps.swap_refuse, "Refused.", True),
    "withdraw": (swaps.swap_withdraw, "Withdrawn.", False),
}


@login_required
@require_POST
def swap_action(request: SignedInRequest, public_id: UUID, action: str) -> HttpResponse:
    """One step of a swap by the person whose step it is (the service checks who)."""
    if action not in ACTIONS:
        raise Http404("No such step.")
    swap = ShiftSwap.objects.select_related("roster").filter(public_id=public_id).first()
    if swap is None:
        raise Http404("No such swap.")
    service, done, takes_note = ACTIONS[action]
    form = SwapDecisionForm(request.POST)
    note = form.cleaned_data["note"] if form.is_valid() else ""
    try:
        swap = service(swap=swap, actor=request.user, **({"note": note} if takes_note else {}))
    except swaps.SwapNotAllowed as exc:
        return forbidden(request, exc.message)
    except swaps.SwapRefused as exc:
        messages.error(request, f"Not done: {exc.message}")
    else:
        if swap.status == ShiftSwap.Status.AWAITING_LEAD:
            done = "Accepted: a governance lead approves it before the swap applies to the roster."
        elif action == "accept":
            done = "Accepted: the swap is applied to the roster."
        messages.success(request, done)
    return redirect("decisions:roster", public_id=swap.roster.public_id)
