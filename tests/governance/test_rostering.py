"""Roster arithmetic (governance.rostering), on unsaved rows: no database, so hypothesis can run wide."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import get_user_model
from hypothesis import given, settings
from hypothesis import strategies as st

from governance.models import Roster, RosterOverride
from governance.rostering import RosterPlan, coverage_gaps

User = get_user_model()

ANN, BOB, CY = (User(pk=pk, username=name) for pk, name in ((1, "ann"), (2, "bob"), (3, "cy")))
COVER = User(pk=90, username="cover")
RELIEF = User(pk=91, username="relief")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def make_roster(**fields) -> Roster:
    """An unsaved roster: weekly, Monday 2026-01-05 09:00 UTC, around the clock unless told."""
    values = {
        "name": "Tier-3 primary",
        "time_zone": "UTC",
        "rotation_days": 7,
        "handoff_time": time(9, 0),
        "rotation_start": date(2026, 1, 5),
        "coverage_start": None,
        "coverage_end": None,
    }
    values.update(fields)
    return Roster(**values)


def make_plan(members=(ANN, BOB, CY), overrides=(), **fields) -> RosterPlan:
    return RosterPlan(roster=make_roster(**fields), members=list(members), overrides=list(overrides))


def make_override(user, starts_at: datetime, ends_at: datetime, pk: int | None = None) -> RosterOverride:
    return RosterOverride(pk=pk, user=user, starts_at=starts_at, ends_at=ends_at)


def who(plan: RosterPlan, at: datetime):
    found = plan.on_call(at)
    return None if found is None else found[0]


def handoffs(plan: RosterPlan, start: datetime, end: datetime) -> list[datetime]:
    """Instants in (start, end) at which the person on call changes."""
    return [slot.starts_at for slot in plan.slots(start, end)[1:]]


SECOND = timedelta(seconds=1)


# --- rotation ---------------------------------------------------------------------------------------------------


def test_weekly_rotation_hands_off_at_the_local_hour():
    plan = make_plan(time_zone="America/New_York", rotation_start=date(2026, 1, 5))
    handoff = utc(2026, 1, 12, 14)  # Monday 09:00 EST

    assert who(plan, handoff - SECOND) == ANN
    assert who(plan, handoff) == BOB


def test_weekly_rotation_keeps_the_member_all_week():
    plan = make_plan(rotation_start=date(2026, 1, 5))

    assert {who(plan, utc(2026, 1, 5, 9) + timedelta(hours=h)).username for h in range(0, 7 * 24, 5)} == {"ann"}


def test_daily_rotation_hands_off_at_the_local_hour():
    plan = make_plan(time_zone="Europe/London", rotation_days=1, handoff_time=time(8, 0))
    handoff = utc(2026, 1, 6, 8)  # Tuesday 08:00 GMT

    assert who(plan, handoff - SECOND) == ANN
    assert who(plan, handoff) == BOB


def test_rotation_of_several_days_hands_off_every_n_days():
    plan = make_plan(rotation_days=3)

    assert [who(plan, utc(2026, 1, 5 + day, 12)) for day in range(7)] == [ANN, ANN, ANN, BOB, BOB, BOB, CY]


def test_rotation_order_wraps_around_to_the_first_member():
    plan = make_plan()

    assert [who(plan, utc(2026, 1, 5, 12) + timedelta(weeks=w)) for w in range(5)] == [ANN, BOB, CY, ANN, BOB]


def test_rotation_order_follows_the_members_sequence_not_their_ids():
    plan = make_plan(members=(CY, ANN, BOB))

    assert [who(plan, utc(2026, 1, 5, 12) + timedelta(weeks=w)) for w in range(3)] == [CY, ANN, BOB]


def test_instant_before_rotation_start_resolves_to_the_previous_shifts():
    plan = make_plan(rotation_start=date(2026, 1, 5))

    assert [who(plan, utc(2026, 1, 4, 12) - timedelta(weeks=w)) for w in range(4)] == [CY, BOB, ANN, CY]


def test_rotation_start_day_before_the_handoff_belongs_to_the_previous_shift():
    plan = make_plan(rotation_start=date(2026, 1, 5))

    assert who(plan, utc(2026, 1, 5, 8, 59)) == CY
    assert who(plan, utc(2026, 1, 5, 9)) == ANN


def test_single_member_roster_is_always_that_member():
    plan = make_plan(members=(ANN,), rotation_days=1)

    assert {who(plan, utc(2026, 1, 1) + timedelta(hours=h)) for h in range(0, 24 * 10, 7)} == {ANN}


def test_roster_without_members_has_nobody_on_call():
    plan = make_plan(members=())

    assert plan.on_call(utc(2026, 1, 7, 12)) is None


def test_rotation_member_is_reported_as_rotation():
    plan = make_plan()

    assert plan.on_call(utc(2026, 1, 7, 12)) == (ANN, "rotation", None)


# --- time zones and DST -----------------------------------------------------------------------------------------

# Daily hand-offs at 09:00 local on the day before, the day of and the day after each 2026 change, in UTC.
DST_HANDOFFS = {
    "new-york-spring-forward": (
        "America/New_York",
        date(2026, 3, 7),
        [utc(2026, 3, 7, 14), utc(2026, 3, 8, 13), utc(2026, 3, 9, 13)],
    ),
    "new-york-fall-back": (
        "America/New_York",
        date(2026, 10, 31),
        [utc(2026, 10, 31, 13), utc(2026, 11, 1, 14), utc(2026, 11, 2, 14)],
    ),
    "london-spring-forward": (
        "Europe/London",
        date(2026, 3, 28),
        [utc(2026, 3, 28, 9), utc(2026, 3, 29, 8), utc(2026, 3, 30, 8)],
    ),
    "london-fall-back": (
        "Europe/London",
        date(2026, 10, 24),
        [utc(2026, 10, 24, 8), utc(2026, 10, 25, 9), utc(2026, 10, 26, 9)],
    ),
}


@pytest.mark.parametrize(("zone", "first_day", "expected"), DST_HANDOFFS.values(), ids=DST_HANDOFFS.keys())
def test_handoff_stays_at_the_local_hour_across_a_dst_change(zone, first_day, expected):
    plan = make_plan(time_zone=zone, rotation_days=1, rotation_start=first_day, handoff_time=time(9, 0))

    assert handoffs(plan, expected[0] - timedelta(hours=12), expected[-1] + timedelta(hours=12)) == expected


@pytest.mark.parametrize(
    ("zone", "first_day", "expected"),
    [DST_HANDOFFS["new-york-spring-forward"], DST_HANDOFFS["london-fall-back"]],
    ids=["new-york-spring-forward", "london-fall-back"],
)
def test_multi_day_shift_spanning_a_dst_change_hands_off_at_the_local_hour(zone, first_day, expected):
    before, _, after = expected
    plan = make_plan(time_zone=zone, rotation_days=2, rotation_start=first_day, handoff_time=time(9, 0))

    assert handoffs(plan, before - timedelta(hours=1), after + timedelta(hours=1)) == [before, after]
    assert [who(plan, before - SECOND), who(plan, before), who(plan, after - SECOND), who(plan, after)] == [
        CY,
        ANN,
        ANN,
        BOB,
    ]


# Hand-off time inside the skipped hour; when the hand-off happens on the change day (UTC).
SKIPPED_HOUR = {
    "new-york": ("America/New_York", date(2026, 3, 8), time(2, 30), utc(2026, 3, 8, 7, 30)),
    "london": ("Europe/London", date(2026, 3, 29), time(1, 30), utc(2026, 3, 29, 1, 30)),
}


@pytest.mark.parametrize(("zone", "day", "handoff_time", "expected"), SKIPPED_HOUR.values(), ids=SKIPPED_HOUR.keys())
def test_handoff_inside_the_skipped_hour_happens_once(zone, day, handoff_time, expected):
    plan = make_plan(time_zone=zone, rotation_days=1, rotation_start=day, handoff_time=handoff_time)
    tz = ZoneInfo(zone)
    start = datetime.combine(day, time(0), tzinfo=tz)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)

    # PEP 495: the non-existent wall time is read with the offset in force before the change,
    # which lands it one hour later on the new clock (03:30 EDT, 02:30 BST).
    assert handoffs(plan, start, end) == [expected]


# Hand-off time inside the repeated hour: its first and second occurrence on the change day (UTC).
REPEATED_HOUR = {
    "new-york": ("America/New_York", date(2026, 11, 1), time(1, 30), utc(2026, 11, 1, 5, 30), utc(2026, 11, 1, 6, 30)),
    "london": ("Europe/London", date(2026, 10, 25), time(1, 30), utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 1, 30)),
}


@pytest.mark.parametrize(
    ("zone", "day", "handoff_time", "first", "second"), REPEATED_HOUR.values(), ids=REPEATED_HOUR.keys()
)
def test_handoff_inside_the_repeated_hour_happens_once_at_its_first_occurrence(zone, day, handoff_time, first, second):
    plan = make_plan(time_zone=zone, rotation_days=1, rotation_start=day, handoff_time=handoff_time)
    tz = ZoneInfo(zone)
    start = datetime.combine(day, time(0), tzinfo=tz)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)

    assert handoffs(plan, start, end) == [first]
    assert [who(plan, first - SECOND), who(plan, first), who(plan, second)] == [CY, ANN, ANN]


# --- coverage windows -------------------------------------------------------------------------------------------


def test_daytime_coverage_window_covers_start_but_not_end():
    plan = make_plan(coverage_start=time(9, 0), coverage_end=time(17, 0))

    assert [who(plan, utc(2026, 1, 7, h, m)) for h, m in ((8, 59), (9, 0), (16, 59), (17, 0))] == [
        None,
        ANN,
        ANN,
        None,
    ]


def test_overnight_coverage_window_spans_midnight():
    plan = make_plan(coverage_start=time(22, 0), coverage_end=time(6, 0), handoff_time=time(22, 0))

    assert [who(plan, utc(2026, 1, 11, h)) for h in (21, 22, 23)] == [None, ANN, ANN]
    assert [who(plan, utc(2026, 1, 12, h)) for h in (0, 5, 6, 12, 22)] == [ANN, ANN, None, None, BOB]


def test_coverage_window_follows_the_local_clock_across_dst():
    plan = make_plan(time_zone="Europe/London", coverage_start=time(9, 0), coverage_end=time(17, 0))

    assert [who(plan, utc(2026, 3, 27, h)) is not None for h in (8, 9, 16, 17)] == [False, True, True, False]
    assert [who(plan, utc(2026, 3, 30, h)) is not None for h in (7, 8, 15, 16)] == [False, True, True, False]


def test_slots_omit_uncovered_periods():
    plan = make_plan(members=(ANN,), coverage_start=time(9, 0), coverage_end=time(17, 0))

    slots = plan.slots(utc(2026, 1, 7), utc(2026, 1, 9))

    assert [(s.starts_at, s.ends_at) for s in slots] == [
        (utc(2026, 1, 7, 9), utc(2026, 1, 7, 17)),
        (utc(2026, 1, 8, 9), utc(2026, 1, 8, 17)),
    ]


def test_coverage_gaps_between_day_and_night_rosters():
    day = make_plan(coverage_start=time(8, 0), coverage_end=time(20, 0))
    night = make_plan(coverage_start=time(22, 0), coverage_end=time(6, 0))

    assert coverage_gaps([day, night], utc(2026, 1, 7), utc(2026, 1, 8)) == [
        (utc(2026, 1, 7, 6), utc(2026, 1, 7, 8)),
        (utc(2026, 1, 7, 20), utc(2026, 1, 7, 22)),
    ]


def test_coverage_gaps_merge_across_a_handoff_inside_the_gap():
    plan = make_plan(rotation_days=1, handoff_time=time(7, 0), coverage_start=time(8, 0), coverage_end=time(6, 0))

    assert coverage_gaps([plan], utc(2026, 1, 7), utc(2026, 1, 8)) == [(utc(2026, 1, 7, 6), utc(2026, 1, 7, 8))]


def test_coverage_gaps_merge_consecutive_uncovered_periods_of_several_rosters():
    early = make_plan(coverage_start=time(8, 0), coverage_end=time(10, 0))
    late = make_plan(coverage_start=time(14, 0), coverage_end=time(16, 0), handoff_time=time(12, 0))
    empty = make_plan(members=(), handoff_time=time(11, 0))

    assert coverage_gaps([early, late, empty], utc(2026, 1, 7, 6), utc(2026, 1, 7, 18)) == [
        (utc(2026, 1, 7, 6), utc(2026, 1, 7, 8)),
        (utc(2026, 1, 7, 10), utc(2026, 1, 7, 14)),
        (utc(2026, 1, 7, 16), utc(2026, 1, 7, 18)),
    ]


def test_coverage_gaps_empty_when_a_roster_covers_around_the_clock():
    business_hours = make_plan(coverage_start=time(9, 0), coverage_end=time(17, 0))

    assert coverage_gaps([business_hours, make_plan()], utc(2026, 1, 1), utc(2026, 2, 1)) == []


def test_coverage_gaps_whole_period_without_rosters():
    assert coverage_gaps([], utc(2026, 1, 1), utc(2026, 1, 2)) == [(utc(2026, 1, 1), utc(2026, 1, 2))]


def test_coverage_gaps_filled_by_an_override():
    plan = make_plan(
        coverage_start=time(9, 0),
        coverage_end=time(17, 0),
        overrides=[make_override(COVER, utc(2026, 1, 7, 17), utc(2026, 1, 8, 9))],
    )

    assert coverage_gaps([plan], utc(2026, 1, 7), utc(2026, 1, 8, 12)) == [(utc(2026, 1, 7), utc(2026, 1, 7, 9))]


# --- overrides --------------------------------------------------------------------------------------------------


def test_override_wins_over_the_rotation():
    override = make_override(COVER, utc(2026, 1, 7, 10), utc(2026, 1, 7, 18))
    plan = make_plan(overrides=[override])

    assert plan.on_call(utc(2026, 1, 7, 12)) == (COVER, "override", override)


def test_override_wins_outside_the_coverage_window():
    override = make_override(COVER, utc(2026, 1, 7, 20), utc(2026, 1, 8, 2))
    plan = make_plan(coverage_start=time(9, 0), coverage_end=time(17, 0), overrides=[override])

    assert who(plan, utc(2026, 1, 7, 23)) == COVER


def test_override_covers_a_roster_without_members():
    plan = make_plan(members=(), overrides=[make_override(COVER, utc(2026, 1, 7, 10), utc(2026, 1, 7, 18))])

    assert who(plan, utc(2026, 1, 7, 12)) == COVER


def test_rotation_resumes_when_the_override_ends():
    plan = make_plan(overrides=[make_override(COVER, utc(2026, 1, 7, 10), utc(2026, 1, 7, 18))])

    assert [who(plan, utc(2026, 1, 7, h)) for h in (9, 10, 17, 18)] == [ANN, COVER, COVER, ANN]


def test_later_starting_override_wins_when_two_overlap():
    longer = make_override(COVER, utc(2026, 1, 7, 8), utc(2026, 1, 7, 20))
    shorter = make_override(RELIEF, utc(2026, 1, 7, 12), utc(2026, 1, 7, 14))
    plan = make_plan(overrides=[shorter, longer])

    assert [who(plan, utc(2026, 1, 7, h)) for h in (10, 12, 13, 14, 19)] == [COVER, RELIEF, RELIEF, COVER, COVER]


def test_slots_show_override_then_rotation():
    override = make_override(COVER, utc(2026, 1, 7, 10), utc(2026, 1, 7, 18))
    plan = make_plan(overrides=[override])

    slots = plan.slots(utc(2026, 1, 7), utc(2026, 1, 8))

    assert [(s.user, s.source, s.starts_at, s.ends_at) for s in slots] == [
        (ANN, "rotation", utc(2026, 1, 7), utc(2026, 1, 7, 10)),
        (COVER, "override", utc(2026, 1, 7, 10), utc(2026, 1, 7, 18)),
        (ANN, "rotation", utc(2026, 1, 7, 18), utc(2026, 1, 8)),
    ]


# --- properties -------------------------------------------------------------------------------------------------

ZONES = [
    "UTC",
    "America/New_York",
    "Europe/London",
    "Europe/Berlin",
    "Australia/Lord_Howe",  # 30-minute DST shift
    "America/Havana",  # DST changes at local midnight
    "America/Santiago",  # southern hemisphere, changes around midnight
    "Asia/Kolkata",  # half-hour offset, no DST
    "Pacific/Chatham",  # 12:45 offset with DST
]
POPULATION = [User(pk=pk, username=f"member{pk}") for pk in range(1, 7)]
STAND_INS = [User(pk=pk, username=f"stand-in{pk}") for pk in range(101, 104)]


def _dst_changes() -> list[datetime]:
    """Noon UTC of every day in 2026 on which one of ZONES changes its offset."""
    changes = []
    for name in ZONES:
        tz = ZoneInfo(name)
        day = utc(2026, 1, 1)
        while day.year == 2026:
            following = day + timedelta(days=1)
            if day.astimezone(tz).utcoffset() != following.astimezone(tz).utcoffset():
                changes.append(day + timedelta(hours=12))
            day = following
    return changes


DST_CHANGES = _dst_changes()

any_instant = st.integers(min_value=0, max_value=5 * 365 * 86400 * 10**6).map(
    lambda micros: utc(2024, 1, 1) + timedelta(microseconds=micros)
)
near_a_dst_change = st.builds(
    lambda change, seconds: change + timedelta(seconds=seconds),
    st.sampled_from(DST_CHANGES),
    st.integers(min_value=-2 * 86400, max_value=2 * 86400),
)
instants = st.one_of(any_instant, near_a_dst_change)
# Slots and gaps over days of a roster can outrun hypothesis's 200 ms deadline on a busy runner.
no_deadline = settings(deadline=None)
wall_times = st.builds(time, st.integers(0, 23), st.sampled_from([0, 15, 30, 45]))


@st.composite
def rosters(draw, *, around_the_clock: bool = False) -> Roster:
    coverage = (None, None)
    if not around_the_clock and draw(st.booleans()):
        opens = draw(wall_times)
        hours_open = timedelta(minutes=15 * draw(st.integers(1, 95)))
        coverage = (opens, (datetime.combine(date(2026, 1, 1), opens) + hours_open).time())
    return make_roster(
        time_zone=draw(st.sampled_from(ZONES)),
        rotation_days=draw(st.integers(1, 14)),
        handoff_time=draw(wall_times),
        rotation_start=draw(st.dates(min_value=date(2024, 6, 1), max_value=date(2027, 6, 1))),
        coverage_start=coverage[0],
        coverage_end=coverage[1],
    )


members = st.lists(st.sampled_from(POPULATION), min_size=1, max_size=5, unique=True)


@st.composite
def overrides_around(draw, at: datetime, max_size: int = 4) -> list[RosterOverride]:
    result = []
    for pk in range(1, draw(st.integers(0, max_size)) + 1):
        starts_at = at + timedelta(minutes=draw(st.integers(-3 * 24 * 60, 3 * 24 * 60)))
        length = timedelta(minutes=draw(st.integers(1, 3 * 24 * 60)))
        result.append(make_override(draw(st.sampled_from(STAND_INS)), starts_at, starts_at + length, pk=pk))
    return result


@no_deadline
@given(roster=rosters(around_the_clock=True), members=members, at=instants)
def test_around_the_clock_roster_always_has_exactly_one_member_on_call(roster, members, at):
    found = RosterPlan(roster=roster, members=members).on_call(at)

    assert found is not None
    user, source, override = found
    assert any(user is member for member in members)
    assert (source, override) == ("rotation", None)


@no_deadline
@given(data=st.data(), roster=rosters(), members=st.lists(st.sampled_from(POPULATION), max_size=4, unique=True))
def test_any_override_active_at_the_instant_wins(data, roster, members):
    at = data.draw(instants)
    overrides = data.draw(overrides_around(at))
    active = [o for o in overrides if o.starts_at <= at < o.ends_at]
    plan = RosterPlan(roster=roster, members=members, overrides=overrides)

    found = plan.on_call(at)

    if active:
        latest_start = max(o.starts_at for o in active)
        assert found is not None
        assert found[1] == "override"
        assert found[2] in [o for o in active if o.starts_at == latest_start]
        assert found[0] == found[2].user
    else:
        assert found is None or found[1] == "rotation"


@no_deadline
@given(
    roster=rosters(around_the_clock=True),
    members=members,
    start=instants,
    length=st.integers(min_value=1, max_value=30 * 86400),
)
def test_slots_of_an_around_the_clock_roster_are_contiguous_and_agree_with_on_call(roster, members, start, length):
    end = start + timedelta(seconds=length)
    plan = RosterPlan(roster=roster, members=members)

    slots = plan.slots(start, end)

    assert slots[0].starts_at == start
    assert slots[-1].ends_at == end
    for slot, following in zip(slots, slots[1:], strict=False):
        assert slot.ends_at == following.starts_at
        assert slot.user is not following.user
    for slot in slots:
        assert slot.starts_at < slot.ends_at
        assert plan.on_call(slot.starts_at) == (slot.user, "rotation", None)
        assert plan.on_call(slot.ends_at - timedelta(microseconds=1)) == (slot.user, "rotation", None)


@no_deadline
@given(data=st.data(), roster=rosters(), members=members, length=st.integers(min_value=60, max_value=10 * 86400))
def test_slots_agree_with_on_call_at_every_instant(data, roster, members, length):
    start = data.draw(instants)
    end = start + timedelta(seconds=length)
    plan = RosterPlan(roster=roster, members=members, overrides=data.draw(overrides_around(start)))
    probes = data.draw(st.lists(st.integers(0, length - 1), min_size=1, max_size=40))

    slots = plan.slots(start, end)

    for slot, following in zip(slots, slots[1:], strict=False):
        assert slot.starts_at < slot.ends_at <= following.starts_at
    for offset in probes:
        at = start + timedelta(seconds=offset)
        containing = [s for s in slots if s.starts_at <= at < s.ends_at]
        found = plan.on_call(at)
        if found is None:
            assert containing == []
        else:
            assert [(s.user, s.source, s.override) for s in containing] == [found]


@no_deadline
@given(
    data=st.data(),
    plans=st.lists(st.tuples(rosters(), members), min_size=1, max_size=3),
    length=st.integers(min_value=60, max_value=5 * 86400),
)
def test_coverage_gaps_are_exactly_when_nobody_is_on_call(data, plans, length):
    start = data.draw(instants)
    end = start + timedelta(seconds=length)
    plans = [RosterPlan(roster=roster, members=people) for roster, people in plans]
    probes = data.draw(st.lists(st.integers(0, length - 1), min_size=1, max_size=40))

    gaps = coverage_gaps(plans, start, end)

    for (_, gap_end), (next_start, _) in zip(gaps, gaps[1:], strict=False):
        assert gap_end < next_start
    for offset in probes:
        at = start + timedelta(seconds=offset)
        in_gap = any(gap_start <= at < gap_end for gap_start, gap_end in gaps)
        assert in_gap == all(plan.on_call(at) is None for plan in plans)
