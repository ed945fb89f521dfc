"""Governed shift swaps: an on-call person proposes to hand a period of their shift to another
member of the roster (a cover) or to trade it for one of theirs (a swap); the other person
accepts; a governance lead approves when the roster asks for it; then it is applied as roster
overrides. A swap that would leave the role without a certified person on call is refused,
with the gap named, at every step (the rosters may have changed in between).

Every change is audited by django-auditlog (``ShiftSwap`` and the ``RosterOverride`` rows it
creates) with the actor and the note as the change's reason. Each service locks the swap row;
those that check the roster (propose, accept, approve) first lock every roster of its role, in
primary-key order (the gap check reads them all), so two swaps touching one shift queue up.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone

from governance.audit import acting_as, change_reason
from governance.gaps import certified_cover_gaps, describe_cover_gap
from governance.models import Roster, RosterOverride, ShiftSwap
from governance.rostering import RosterPlan, Slot
from governance.snapshot import rosters_with_plans

if TYPE_CHECKING:
    from django.contrib.auth.models import User

APPROVE = "governance.approve_shiftswap"
VIEW = "governance.view_shiftswap"
MAX_AHEAD = timedelta(days=90)
S = ShiftSwap.Status


class SwapRefused(Exception):
    """The swap breaks a rule; ``message`` says which (shown to the person), ``field`` where."""

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class SwapNotAllowed(SwapRefused):
    """This person may not take this step (not theirs to take)."""


@dataclass(frozen=True)
class Period:
    starts_at: datetime
    ends_at: datetime


def _plan(roster: Roster) -> RosterPlan:
    return RosterPlan.of(rosters_with_plans().get(pk=roster.pk))


def _name(user: Any) -> str:
    return user.get_full_name() or user.get_username()


def _require_on_call(plan: RosterPlan, user: Any, period: Period, *, field: str) -> None:
    """``user`` is on call on this roster for every covered moment of ``period``."""
    slots = plan.slots(period.starts_at, period.ends_at)
    if not slots or any(s.user.pk != user.pk for s in slots):
        raise SwapRefused(
            f"{_name(user)} is not on call on {plan.roster.name} for all of that period: choose one of their shifts.",
            field=field,
        )


def _periods(swap: ShiftSwap) -> list[Period]:
    """The proposer's shift, and for a swap the shift they take back (a constraint: both or none)."""
    found = [Period(swap.starts_at, swap.ends_at)]
    if swap.return_starts_at is not None and swap.return_ends_at is not None:
        found.append(Period(swap.return_starts_at, swap.return_ends_at))
    return found


def _overrides(swap: ShiftSwap) -> list[RosterOverride]:
    """The overrides the swap becomes (unsaved): the counterpart on the first period, the
    proposer on the return one."""
    takers = [
        (swap.counterpart, f"{swap.get_kind_display().split(' (')[0]} for {_name(swap.proposer)}"),
        (swap.proposer, f"Swap with {_name(swap.counterpart)}"),
    ]
    return [
        RosterOverride(
            roster=swap.roster, user=user, starts_at=period.starts_at, ends_at=period.ends_at, note=note[:200]
        )
        for period, (user, note) in zip(_periods(swap), takers, strict=False)
    ]


def swap_gaps(swap: ShiftSwap) -> list[str]:
    """The gaps the swap would open, in words (an empty list: none). A gap the role has anyway,
    swap or not, is not the swap's doing and does not count."""
    plan = _plan(swap.roster)
    changed = RosterPlan(roster=plan.roster, members=plan.members, overrides=[*plan.overrides, *_overrides(swap)])
    role = swap.roster.role
    problems = []
    for period in _periods(swap):
        before = [span for span, _who in certified_cover_gaps(role_id=role.pk, start=period.starts_at,
                                                              end=period.ends_at)]  # fmt: skip
        after = certified_cover_gaps(role_id=role.pk, start=period.starts_at, end=period.ends_at, replace=[changed])
        for span, who in after:
            if not any(b[0] <= span[0] and span[1] <= b[1] for b in before):
                problems.append(describe_cover_gap(role.name, span, who))
    return problems


def _refuse_gaps(swap: ShiftSwap) -> None:
    problems = swap_gaps(swap)
    if problems:
        raise SwapRefused("Refused: this swap would open a governance gap. " + " ".join(problems))


def _check_shape(swap: ShiftSwap, *, now: datetime) -> None:
    for period in _periods(swap):
        if period.ends_at <= period.starts_at:
            raise SwapRefused("A period must end after it starts.", field="starts_at")
        if period.starts_at < now - timedelta(minutes=1):
            raise SwapRefused("A period that has started cannot be swapped: choose one still ahead.", field="starts_at")
        if period.starts_at > now + MAX_AHEAD:
            raise SwapRefused("Swaps are made at most 90 days ahead.", field="starts_at")
    if not swap.note.strip():
        raise SwapRefused("Say why (it is kept with the roster's audit trail).", field="note")


def _lock_rosters(roster_id: int) -> Roster:
    """Row-lock every roster of this roster's role in primary-key order (one order everywhere, so
    no deadlock) and return this one: the gap check reads all of them, and a step that checks who
    holds a shift must not race another step changing it."""
    role_id = Roster.objects.filter(pk=roster_id).values_list("role_id", flat=True).get()
    locked = Roster.objects.select_for_update(of=("self",)).select_related("role").filter(role_id=role_id)
    return next(r for r in locked.order_by("pk") if r.pk == roster_id)


def _recheck(swap: ShiftSwap, *, now: datetime) -> None:
    """Again, under the rosters' locks: the periods still ahead, each person still on call for the
    period they give (a shift may have changed hands since), and no gap opened."""
    _check_shape(swap, now=now)
    plan = _plan(swap.roster)
    held = [(swap.proposer, Period(swap.starts_at, swap.ends_at), "starts_at")]
    if swap.return_starts_at is not None and swap.return_ends_at is not None:  # a swap (a constraint)
        held.append((swap.counterpart, Period(swap.return_starts_at, swap.return_ends_at), "return_shift"))
    for person, period, field in held:
        try:
            _require_on_call(plan, person, period, field=field)
        except SwapRefused as exc:
            raise SwapRefused(
                f"Refused: {_name(person)} no longer holds the shift of "
                f"{timezone.localtime(period.starts_at):%a %d %b %H:%M} – "
                f"{timezone.localtime(period.ends_at):%a %d %b %H:%M %Z} on {plan.roster.name} "
                "(it changed hands since this swap was proposed).",
                field=field,
            ) from exc
    _refuse_gaps(swap)


def swap_propose(
    *,
    roster: Roster,
    actor: User,
    kind: str,
    counterpart: User,
    starts_at: datetime,
    ends_at: datetime,
    note: str,
    return_starts_at: datetime | None = None,
    return_ends_at: datetime | None = None,
    now: datetime | None = None,
) -> ShiftSwap:
    """``actor``, on call for the period on ``roster``, proposes that ``counterpart`` (another
    member) take it, and for a swap gives them ``return_*`` of theirs in exchange. Refused when
    either is not on call for the period they give, or when it would open a gap. Side effects:
    the swap row (audited). Locks the roster row, so two proposals for one shift queue up."""
    now = now or timezone.now()
    if kind not in ShiftSwap.Kind.values:
        raise SwapRefused("Choose a swap or a cover.", field="kind")
    if (kind == ShiftSwap.Kind.SWAP) != (return_starts_at is not None and return_ends_at is not None):
        raise SwapRefused("A swap takes one of the other person's shifts in return; a cover takes none.",
                          field="return_shift")  # fmt: skip
    if counterpart.pk == actor.pk:
        raise SwapRefused("Choose someone other than yourself.", field="counterpart")
    with transaction.atomic():
        roster = _lock_rosters(roster.pk)
        members = set(roster.memberships.values_list("user_id", flat=True))
        if actor.pk not in members:
            raise SwapNotAllowed("Only a member of this roster can propose a swap on it.")
        if counterpart.pk not in members or not counterpart.is_active:
            raise SwapRefused(f"{_name(counterpart)} is not an active member of {roster.name}.", field="counterpart")
        swap = ShiftSwap(
            roster=roster,
            kind=kind,
            proposer=actor,
            counterpart=counterpart,
            starts_at=starts_at,
            ends_at=ends_at,
            return_starts_at=return_starts_at,
            return_ends_at=return_ends_at,
            note=note.strip(),
        )
        _check_shape(swap, now=now)
        overlapping = ShiftSwap.objects.filter(
            roster=roster, proposer=actor, status__in=ShiftSwap.OPEN, starts_at__lt=ends_at, ends_at__gt=starts_at
        )
        if overlapping.exists():
            raise SwapRefused("You already proposed a swap of (part of) this period: withdraw it first.",
                              field="starts_at")  # fmt: skip
        plan = _plan(roster)
        _require_on_call(plan, actor, Period(starts_at, ends_at), field="starts_at")
        if return_starts_at is not None and return_ends_at is not None:  # a swap (checked above)
            _require_on_call(plan, counterpart, Period(return_starts_at, return_ends_at), field="return_shift")
        _refuse_gaps(swap)
        with acting_as(actor), change_reason(f"shift swap proposed: {swap.note}"):
            swap.save()
    return swap


def _lock(swap: ShiftSwap) -> ShiftSwap:
    """Row-lock the swap alone (not the roster, role or people read with it)."""
    return (
        ShiftSwap.objects.select_for_update(of=("self",))
        .select_related("roster__role", "proposer", "counterpart")
        .get(pk=swap.pk)
    )


def _apply(swap: ShiftSwap, *, actor: User, now: datetime, reason: str) -> None:
    """Make the overrides and mark the swap applied (the caller holds the rosters' locks, then the
    swap's, and has rechecked it)."""
    with acting_as(actor), change_reason(reason):
        made = _overrides(swap)
        for override in made:
            override.save()
        swap.cover_override = made[0]
        swap.return_override = made[1] if len(made) > 1 else None
        swap.status = S.APPLIED
        swap.save()


def _require_counterpart(swap: ShiftSwap, actor: User, *, doing: str) -> None:
    """``actor`` is the person asked, and the swap still waits for their answer."""
    if actor.pk != swap.counterpart_id:
        raise SwapNotAllowed(f"Only the person asked can {doing} this swap.")
    if swap.status != S.PROPOSED:
        raise SwapRefused(f"This swap is no longer waiting for you: it is {swap.get_status_display().lower()}.")


def swap_accept(*, swap: ShiftSwap, actor: User, now: datetime | None = None) -> ShiftSwap:
    """The other person agrees. Applied at once, or left for a lead when the roster says so.
    Refused (and the swap left open) when it would now open a gap or a shift changed hands."""
    now = now or timezone.now()
    with transaction.atomic():
        _lock_rosters(swap.roster_id)
        swap = _lock(swap)
        _require_counterpart(swap, actor, doing="accept")
        _recheck(swap, now=now)
        swap.accepted_at = now
        if swap.roster.swaps_need_lead_approval:
            swap.status = S.AWAITING_LEAD
            with acting_as(actor), change_reason("shift swap accepted; waiting for a lead"):
                swap.save()
        else:
            _apply(swap, actor=actor, now=now, reason="shift swap accepted and applied")
    return swap


def swap_decline(*, swap: ShiftSwap, actor: User, note: str = "") -> ShiftSwap:
    """The other person says no."""
    with transaction.atomic():
        swap = _lock(swap)
        _require_counterpart(swap, actor, doing="decline")
        swap.status, swap.decision_note = S.DECLINED, note.strip()[:500]
        with acting_as(actor), change_reason(f"shift swap declined: {note.strip() or 'no reason given'}"):
            swap.save()
    return swap


def _require_lead(swap: ShiftSwap, actor: User) -> None:
    if not actor.has_perm(APPROVE):
        raise SwapNotAllowed("Only a governance lead can approve or refuse a swap.")
    if actor.pk in (swap.proposer_id, swap.counterpart_id):
        raise SwapNotAllowed("You are part of this swap: another lead approves it.")
    if swap.status != S.AWAITING_LEAD:
        raise SwapRefused(f"This swap does not wait for a lead: it is {swap.get_status_display().lower()}.")


def swap_approve(*, swap: ShiftSwap, actor: User, note: str, now: datetime | None = None) -> ShiftSwap:
    """A governance lead (not one of the two) approves an agreed swap: it is applied, unless it
    would now open a gap (then it is refused and stays waiting)."""
    now = now or timezone.now()
    if not note.strip():
        raise SwapRefused("Say why you approve.", field="note")
    with transaction.atomic():
        _lock_rosters(swap.roster_id)
        swap = _lock(swap)
        _require_lead(swap, actor)
        _recheck(swap, now=now)
        swap.decided_by, swap.decided_at, swap.decision_note = actor, now, note.strip()[:500]
        _apply(swap, actor=actor, now=now, reason=f"shift swap approved: {note.strip()}")
    return swap


def swap_refuse(*, swap: ShiftSwap, actor: User, note: str, now: datetime | None = None) -> ShiftSwap:
    """A governance lead refuses an agreed swap, with a reason."""
    now = now or timezone.now()
    if not note.strip():
        raise SwapRefused("Say why you refuse.", field="note")
    with transaction.atomic():
        swap = _lock(swap)
        _require_lead(swap, actor)
        swap.status, swap.decided_by, swap.decided_at, swap.decision_note = S.REFUSED, actor, now, note.strip()[:500]
        with acting_as(actor), change_reason(f"shift swap refused: {note.strip()}"):
            swap.save()
    return swap


def swap_withdraw(*, swap: ShiftSwap, actor: User) -> ShiftSwap:
    """The proposer takes an open proposal back."""
    with transaction.atomic():
        swap = _lock(swap)
        if actor.pk != swap.proposer_id:
            raise SwapNotAllowed("Only the person who proposed this swap can withdraw it.")
        if not swap.is_open:
            raise SwapRefused(f"This swap is {swap.get_status_display().lower()}: nothing to withdraw.")
        swap.status = S.WITHDRAWN
        with acting_as(actor), change_reason("shift swap withdrawn"):
            swap.save()
    return swap


# --- Reads for the roster pages ------------------------------------------------------------------


def rosters_for(user: User) -> list[Roster]:
    """The rosters ``user`` is a member of (leads and auditors: every roster), with their role."""
    rosters = Roster.objects.select_related("role").order_by("role__name", "name")
    if user.has_perm(VIEW):
        return list(rosters)
    return list(rosters.filter(memberships__user=user).distinct())


@dataclass(frozen=True)
class Schedule:
    """A roster over [start, end): who is on call when, and the swaps touching it."""

    roster: Roster
    plan: RosterPlan
    start: datetime
    end: datetime
    slots: list[Slot]
    swaps: list[ShiftSwap]

    def whole_shifts(self) -> list[Slot]:
        """The shifts that start and end inside the schedule (not cut by its edges): those that
        can be swapped from it."""
        return [s for s in self.slots if self.start < s.starts_at and s.ends_at < self.end]

    def shifts_of(self, user: Any) -> list[Slot]:
        return [s for s in self.whole_shifts() if s.user.pk == user.pk]


def roster_schedule(*, public_id: Any, at: datetime, days: int = 14) -> Schedule:
    """A roster's next ``days`` days, from ``at``: a fixed number of queries whatever its size
    (the roster with members and overrides, then its swaps)."""
    roster = rosters_with_plans().get(public_id=public_id)
    plan = RosterPlan.of(roster)
    end = at + timedelta(days=days)
    swaps = list(
        ShiftSwap.objects.filter(roster=roster, ends_at__gt=at)
        .select_related("proposer", "counterpart", "decided_by")
        .order_by("starts_at", "pk")
    )
    return Schedule(roster=roster, plan=plan, start=at, end=end, slots=plan.slots(at, end), swaps=swaps)
