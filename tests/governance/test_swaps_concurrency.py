"""Shift swaps under concurrency, on PostgreSQL with real threads: the swap's row lock lets one
step through (accept or withdraw), and the roster's lock keeps one open proposal per shift."""

import pytest

from governance import swaps
from governance.models import RosterOverride, ShiftSwap
from tests.governance.factories import shifts_of
from tests.governance.test_swaps import propose, rota  # noqa: F401 - the fixture
from tests.helpers import run_concurrently

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_an_accept_racing_a_withdrawal_leaves_one_outcome(rota):  # noqa: F811 - the fixture
    roster, (ada, ben, _cy) = rota
    swap = propose(roster, ada, ben)

    def step(i):
        return swaps.swap_accept(swap=swap, actor=ben) if i == 0 else swaps.swap_withdraw(swap=swap, actor=ada)

    outcomes = run_concurrently(step, threads=2)

    assert sum(exc is None for _result, exc in outcomes) == 1
    swap.refresh_from_db()
    assert swap.status in {ShiftSwap.Status.APPLIED, ShiftSwap.Status.WITHDRAWN}
    assert RosterOverride.objects.count() == (1 if swap.status == ShiftSwap.Status.APPLIED else 0)


def test_two_proposals_of_one_shift_at_once_make_one(rota):  # noqa: F811 - the fixture
    roster, (ada, ben, cy) = rota
    mine = shifts_of(roster, ada)[0]

    outcomes = run_concurrently(
        lambda i: swaps.swap_propose(
            roster=roster,
            actor=ada,
            kind="cover",
            counterpart=(ben, cy)[i],
            starts_at=mine.starts_at,
            ends_at=mine.ends_at,
            note="Either of you",
        ),  # fmt: skip
        threads=2,
    )

    assert sum(exc is None for _result, exc in outcomes) == 1
    assert ShiftSwap.objects.count() == 1


def test_two_swaps_of_one_shift_accepted_at_once_apply_one(rota):  # noqa: F811 - the fixture
    """Ada offers her Monday to Ben (a cover) while Cy offers Ada a trade for that same Monday:
    both accepted at once, the rosters' lock lets one apply; the other finds the shift gone."""
    roster, (ada, ben, cy) = rota
    mondays = shifts_of(roster, ada)[0]
    cover = propose(roster, ada, ben)
    trade = propose(roster, cy, ada, kind="swap", give_back=mondays)

    def step(i):
        return swaps.swap_accept(swap=cover, actor=ben) if i == 0 else swaps.swap_accept(swap=trade, actor=ada)

    outcomes = run_concurrently(step, threads=2)

    assert sum(exc is None for _result, exc in outcomes) == 1
    refused = [exc for _result, exc in outcomes if exc is not None]
    assert isinstance(refused[0], swaps.SwapRefused)
    assert "no longer holds the shift" in refused[0].message
    assert RosterOverride.objects.filter(starts_at__lt=mondays.ends_at, ends_at__gt=mondays.starts_at).count() == 1
    assert ShiftSwap.objects.filter(status=ShiftSwap.Status.APPLIED).count() == 1
