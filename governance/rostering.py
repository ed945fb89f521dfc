"""Roster arithmetic: pure functions over already-loaded rows, no queries.

Every boundary (hand-off, start and end of daily coverage) is turned into an aware instant
for a *local calendar date* in the roster's time zone, and instants are compared, never wall
clocks. That keeps resolution monotonic across DST changes: a hand-off at 02:30 on a
spring-forward night happens once, at the first instant that exists after it, and a
hand-off inside a repeated autumn hour happens at its first occurrence only.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from governance.models import Roster, RosterOverride


def local_instant(day: date, at: time, tz: ZoneInfo) -> datetime:
    """The UTC instant of wall-clock ``at`` on ``day`` in ``tz`` (first occurrence if repeated)."""
    local = datetime.combine(day, at, tzinfo=tz).replace(fold=0)
    # A wall time that does not exist (spring forward) is read with the offset before the change
    # (02:30 EST is 03:30 EDT): still exactly one instant, later than every earlier hand-off.
    return local.astimezone(UTC)


@dataclass(frozen=True)
class Slot:
    """Who is on call for one roster over [starts_at, ends_at)."""

    starts_at: datetime
    ends_at: datetime
    user: User
    source: str  # "rotation" or "override"
    override: RosterOverride | None = None


@dataclass
class RosterPlan:
    """A roster with its members (in rotation order) and overrides, for resolution in memory."""

    roster: Roster
    members: Sequence[User]
    overrides: Sequence[RosterOverride] = field(default_factory=list)

    @classmethod
    def of(cls, roster: Roster) -> RosterPlan:
        """Build from a roster whose ``memberships__user`` and ``overrides__user`` are prefetched."""
        memberships = sorted(roster.memberships.all(), key=lambda m: (m.position, m.pk or 0))
        return cls(roster=roster, members=[m.user for m in memberships], overrides=list(roster.overrides.all()))

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.roster.time_zone)

    def handoff_at(self, day: date) -> datetime:
        return local_instant(day, self.roster.handoff_time, self.tz)

    def shift_date(self, at: datetime) -> date:
        """Local date of the hand-off that started the shift running at ``at``."""
        day = at.astimezone(self.tz).date()
        # Look one day either side: a DST gap can move a hand-off across local midnight.
        for candidate in (day + timedelta(days=1), day, day - timedelta(days=1)):
            if self.handoff_at(candidate) <= at:
                return candidate
        return day - timedelta(days=2)

    def rotation_member(self, at: datetime) -> User | None:
        if not self.members:
            return None
        elapsed_days = (self.shift_date(at) - self.roster.rotation_start).days
        index = (elapsed_days // self.roster.rotation_days) % len(self.members)
        return self.members[index]

    def coverage_window(self, day: date) -> tuple[datetime, datetime]:
        """The covered interval that starts on local ``day`` (ends the next day if it wraps)."""
        start_t, end_t = self.roster.coverage_start, self.roster.coverage_end
        if start_t is None or end_t is None:
            # Both or neither (a database constraint); neither is around the clock, with no window.
            raise ValueError(f"Roster {self.roster.name!r} has no daily coverage window.")
        end_day = day + timedelta(days=1) if end_t <= start_t else day
        return local_instant(day, start_t, self.tz), local_instant(end_day, end_t, self.tz)

    def covers(self, at: datetime) -> bool:
        if self.roster.around_the_clock:
            return True
        day = at.astimezone(self.tz).date()
        for candidate in (day - timedelta(days=1), day):
            start, end = self.coverage_window(candidate)
            if start <= at < end:
                return True
        return False

    def active_override(self, at: datetime) -> RosterOverride | None:
        """The override in force at ``at``; the most recently started one wins a tie."""
        active = [o for o in self.overrides if o.starts_at <= at < o.ends_at]
        if not active:
            return None
        return max(active, key=lambda o: (o.starts_at, o.pk or 0))

    def on_call(self, at: datetime) -> tuple[User, str, RosterOverride | None] | None:
        """(user, source, override) on call at ``at``, or None. Overrides always win."""
        override = self.active_override(at)
        if override is not None:
            return override.user, "override", override
        if not self.covers(at):
            return None
        member = self.rotation_member(at)
        if member is None:
            return None
        return member, "rotation", None

    def change_points(self, start: datetime, end: datetime) -> set[datetime]:
        """Every instant in (start, end) at which who is on call may change."""
        points: set[datetime] = set()
        first = start.astimezone(self.tz).date() - timedelta(days=2)
        last = end.astimezone(self.tz).date() + timedelta(days=2)
        day = first
        while day <= last:
            points.add(self.handoff_at(day))
            if not self.roster.around_the_clock:
                points.update(self.coverage_window(day))
            day += timedelta(days=1)
        for o in self.overrides:
            points.update((o.starts_at, o.ends_at))
        return {p for p in points if start < p < end}

    def slots(self, start: datetime, end: datetime) -> list[Slot]:
        """Consecutive periods in [start, end) with who is on call; uncovered periods omitted."""
        bounds = [start, *sorted(self.change_points(start, end)), end]
        result: list[Slot] = []
        for begin, finish in zip(bounds, bounds[1:], strict=False):
            found = self.on_call(begin)
            if found is None:
                continue
            user, source, override = found
            previous = result[-1] if result else None
            if (
                previous is not None
                and previous.ends_at == begin
                and previous.user == user
                and previous.source == source
                and previous.override is override
            ):
                result[-1] = Slot(previous.starts_at, finish, user, source, override)
            else:
                result.append(Slot(begin, finish, user, source, override))
        return result


def coverage_gaps(plans: Iterable[RosterPlan], start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """Periods in [start, end) when none of ``plans`` has anybody on call, merged."""
    plans = list(plans)
    if not plans:
        return [(start, end)] if start < end else []
    points: set[datetime] = set()
    for plan in plans:
        points |= plan.change_points(start, end)
    bounds = [start, *sorted(points), end]
    gaps: list[tuple[datetime, datetime]] = []
    for begin, finish in zip(bounds, bounds[1:], strict=False):
        if any(plan.on_call(begin) is not None for plan in plans):
            continue
        if gaps and gaps[-1][1] == begin:
            gaps[-1] = (gaps[-1][0], finish)
        else:
            gaps.append((begin, finish))
    return gaps
