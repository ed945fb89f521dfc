"""Governed shift swaps (governance.swaps): who may take each step, the lead's approval when the
roster asks for it, and the refusal of a swap that would leave the role without a certified
person on call (with the gap named)."""

from datetime import timedelta

import pytest
from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError
from django.utils import timezone

from governance import rbac, swaps
from governance.models import Certification, RosterOverride, ShiftSwap
from governance.rostering import RosterPlan
from governance.snapshot import rosters_with_plans
from tests.governance.factories import UserFactory, make_daily_rota, make_user_in_group, shifts_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def rota():
    """A daily roster of three certified people for a role that owns an action type."""
    return make_daily_rota()


def propose(roster, proposer, counterpart, *, kind="cover", give_back=None, **extra):
    mine = shifts_of(roster, proposer)[0]
    kwargs = {}
    if give_back is not None:
        kwargs = {"return_starts_at": give_back.starts_at, "return_ends_at": give_back.ends_at}
    return swaps.swap_propose(
        roster=roster, actor=proposer, kind=kind, counterpart=counterpart, starts_at=mine.starts_at,
        ends_at=mine.ends_at, note="Dentist appointment", **kwargs, **extra,
    )  # fmt: skip


def on_call(roster, at):
    return RosterPlan.of(rosters_with_plans().get(pk=roster.pk)).on_call(at)[0]


def test_a_cover_applies_when_the_other_person_accepts(rota):
    roster, (ada, ben, _cy) = rota
    swap = propose(roster, ada, ben)
    assert swap.status == ShiftSwap.Status.PROPOSED

    swap = swaps.swap_accept(swap=swap, actor=ben)

    assert swap.status == ShiftSwap.Status.APPLIED
    assert (swap.cover_override.user, swap.cover_override.note) == (ben, "Cover for Ada Test")
    assert swap.return_override is None
    assert on_call(roster, swap.starts_at + timedelta(hours=1)) == ben


def test_only_the_person_asked_can_accept(rota):
    roster, (ada, ben, cy) = rota
    swap = propose(roster, ada, ben)

    for someone in (cy, ada):
        with pytest.raises(swaps.SwapNotAllowed, match="Only the person asked"):
            swaps.swap_accept(swap=swap, actor=someone)
    swap.refresh_from_db()
    assert swap.status == ShiftSwap.Status.PROPOSED
    assert not RosterOverride.objects.exists()


def test_a_swap_trades_two_shifts(rota):
    roster, (ada, ben, _cy) = rota
    bens = shifts_of(roster, ben)[0]
    swap = propose(roster, ada, ben, kind="swap", give_back=bens)

    swap = swaps.swap_accept(swap=swap, actor=ben)

    assert on_call(roster, swap.starts_at + timedelta(hours=1)) == ben
    assert on_call(roster, bens.starts_at + timedelta(hours=1)) == ada
    assert (swap.cover_override.user, swap.cover_override.note) == (ben, "Swap for Ada Test")
    assert (swap.return_override.user, swap.return_override.note) == (ada, "Swap with Ben Test")
    assert (swap.return_override.starts_at, swap.return_override.ends_at) == (bens.starts_at, bens.ends_at)


def test_a_roster_that_requires_it_waits_for_a_lead(rota):
    roster, (ada, ben, cy) = rota
    roster.swaps_need_lead_approval = True
    roster.save()
    swap = swaps.swap_accept(swap=propose(roster, ada, ben), actor=ben)
    assert swap.status == ShiftSwap.Status.AWAITING_LEAD
    assert not RosterOverride.objects.exists()

    with pytest.raises(swaps.SwapNotAllowed, match="Only a governance lead"):
        swaps.swap_approve(swap=swap, actor=cy, note="Looks fine.")
    lead = make_user_in_group(rbac.GOVERNANCE_LEAD)
    swap = swaps.swap_approve(swap=swap, actor=lead, note="Cover agreed, both certified.")

    assert swap.status == ShiftSwap.Status.APPLIED
    assert swap.decided_by == lead
    assert on_call(roster, swap.starts_at + timedelta(hours=1)) == ben


def test_a_lead_in_the_swap_cannot_approve_it(rota):
    roster, (ada, ben, _cy) = rota
    roster.swaps_need_lead_approval = True
    roster.save()
    ben.groups.add(*make_user_in_group(rbac.GOVERNANCE_LEAD).groups.all())
    swap = swaps.swap_accept(swap=propose(roster, ada, ben), actor=ben)

    with pytest.raises(swaps.SwapNotAllowed, match="another lead approves it"):
        swaps.swap_approve(swap=swap, actor=type(ben).objects.get(pk=ben.pk), note="Mine.")


def test_a_lead_refuses_with_a_reason(rota):
    roster, (ada, ben, _cy) = rota
    roster.swaps_need_lead_approval = True
    roster.save()
    swap = swaps.swap_accept(swap=propose(roster, ada, ben), actor=ben)
    lead = make_user_in_group(rbac.GOVERNANCE_LEAD)

    with pytest.raises(swaps.SwapRefused, match="Say why"):
        swaps.swap_refuse(swap=swap, actor=lead, note=" ")
    swap = swaps.swap_refuse(swap=swap, actor=lead, note="Ben is on leave that week.")

    assert swap.status == ShiftSwap.Status.REFUSED
    assert not RosterOverride.objects.exists()


def test_a_swap_that_opens_a_gap_is_refused_with_the_gap_named(rota):
    roster, (ada, ben, _cy) = rota
    Certification.objects.filter(user=ben).update(valid_until=timezone.now() - timedelta(days=1))

    with pytest.raises(swaps.SwapRefused) as refused:
        propose(roster, ada, ben)

    message = refused.value.message
    assert "Tier-3 Analyst would have nobody certified on call" in message
    assert "Ben Test is not certified for it then" in message
    assert not ShiftSwap.objects.exists()


def test_a_gap_that_opened_since_the_proposal_is_refused_at_acceptance(rota):
    roster, (ada, ben, _cy) = rota
    swap = propose(roster, ada, ben)
    Certification.objects.filter(user=ben).update(revoked_at=timezone.now() - timedelta(minutes=1))

    with pytest.raises(swaps.SwapRefused, match="would open a governance gap"):
        swaps.swap_accept(swap=swap, actor=ben)

    swap.refresh_from_db()
    assert swap.status == ShiftSwap.Status.PROPOSED
    assert not RosterOverride.objects.exists()


def test_a_gap_the_role_has_anyway_is_not_the_swaps_doing(rota):
    roster, (ada, ben, _cy) = rota
    Certification.objects.filter(user=ada).update(valid_until=timezone.now() - timedelta(days=1))

    swap = propose(roster, ada, ben)  # Ada is uncertified: Ben covering closes a gap, opens none

    assert swaps.swap_accept(swap=swap, actor=ben).status == ShiftSwap.Status.APPLIED


def test_only_ones_own_shift_can_be_given_away(rota):
    roster, (ada, ben, cy) = rota
    bens = shifts_of(roster, ben)[0]

    with pytest.raises(swaps.SwapRefused, match="Ada Test is not on call"):
        swaps.swap_propose(
            roster=roster, actor=ada, kind="cover", counterpart=cy, starts_at=bens.starts_at,
            ends_at=bens.ends_at, note="Not mine to give",
        )  # fmt: skip


def test_a_swap_takes_a_shift_of_the_other_person_in_return(rota):
    roster, (ada, ben, cy) = rota
    cys = shifts_of(roster, cy)[0]

    with pytest.raises(swaps.SwapRefused, match="Ben Test is not on call"):
        propose(roster, ada, ben, kind="swap", give_back=cys)


def test_a_past_shift_cannot_be_swapped(rota):
    roster, (ada, ben, _cy) = rota
    start = timezone.now() - timedelta(days=2)

    with pytest.raises(swaps.SwapRefused, match="has started"):
        swaps.swap_propose(
            roster=roster, actor=ada, kind="cover", counterpart=ben, starts_at=start,
            ends_at=start + timedelta(hours=8), note="Too late",
        )  # fmt: skip


def test_only_a_member_proposes(rota):
    roster, (_ada, ben, _cy) = rota
    stranger = UserFactory()

    with pytest.raises(swaps.SwapNotAllowed, match="Only a member"):
        swaps.swap_propose(
            roster=roster, actor=stranger, kind="cover", counterpart=ben, starts_at=timezone.now(),
            ends_at=timezone.now() + timedelta(hours=1), note="Let me in",
        )  # fmt: skip


def test_the_other_person_declines_and_the_proposer_withdraws(rota):
    roster, (ada, ben, cy) = rota
    first = propose(roster, ada, ben)
    with pytest.raises(swaps.SwapNotAllowed, match="Only the person asked can decline"):
        swaps.swap_decline(swap=first, actor=cy)
    declined = swaps.swap_decline(swap=first, actor=ben, note="Away that day.")
    assert declined.status == ShiftSwap.Status.DECLINED
    with pytest.raises(swaps.SwapRefused, match="no longer waiting for you: it is declined"):
        swaps.swap_decline(swap=declined, actor=ben)

    second = propose(roster, ada, cy)
    with pytest.raises(swaps.SwapNotAllowed):
        swaps.swap_withdraw(swap=second, actor=cy)
    assert swaps.swap_withdraw(swap=second, actor=ada).status == ShiftSwap.Status.WITHDRAWN
    with pytest.raises(swaps.SwapRefused, match="no longer waiting"):
        swaps.swap_accept(swap=second, actor=cy)


def test_every_step_is_audited_with_its_actor_and_reason(rota):
    roster, (ada, ben, _cy) = rota
    swap = swaps.swap_accept(swap=propose(roster, ada, ben), actor=ben)

    entries = LogEntry.objects.filter(content_type=ContentType.objects.get_for_model(ShiftSwap), object_pk=str(swap.pk))
    assert [(e.action, e.actor) for e in entries.order_by("timestamp")] == [
        (LogEntry.Action.CREATE, ada),
        (LogEntry.Action.UPDATE, ben),
    ]
    assert entries.order_by("timestamp").first().additional_data["reason"] == "shift swap proposed: Dentist appointment"
    override = LogEntry.objects.get(content_type=ContentType.objects.get_for_model(RosterOverride))
    assert override.actor == ben


def test_the_database_refuses_a_swap_with_oneself(rota):
    roster, (ada, _ben, _cy) = rota
    with pytest.raises(IntegrityError):
        ShiftSwap.objects.create(
            roster=roster, kind="cover", proposer=ada, counterpart=ada, starts_at=timezone.now(),
            ends_at=timezone.now() + timedelta(hours=1), note="me",
        )  # fmt: skip


def test_a_lead_cannot_approve_a_trade_of_a_shift_that_changed_hands_since(rota):
    """Ada trades her Monday for Ben's Tuesday and Ben agrees; Ben then gives that Tuesday to Cy
    (approved first): approving Ada's trade would hand her a shift Ben no longer holds."""
    roster, (ada, ben, cy) = rota
    roster.swaps_need_lead_approval = True
    roster.save()
    lead = make_user_in_group(rbac.GOVERNANCE_LEAD)
    bens = shifts_of(roster, ben)[0]
    trade = swaps.swap_accept(swap=propose(roster, ada, ben, kind="swap", give_back=bens), actor=ben)
    assert trade.status == ShiftSwap.Status.AWAITING_LEAD
    cover = swaps.swap_propose(
        roster=roster, actor=ben, kind="cover", counterpart=cy, starts_at=bens.starts_at, ends_at=bens.ends_at,
        note="Family visit",
    )  # fmt: skip
    swaps.swap_approve(swap=swaps.swap_accept(swap=cover, actor=cy), actor=lead, note="Cy covers.")

    with pytest.raises(swaps.SwapRefused, match="Ben Test no longer holds the shift") as refused:
        swaps.swap_approve(swap=trade, actor=lead, note="Trade agreed.")

    assert refused.value.field == "return_shift"
    trade.refresh_from_db()
    assert trade.status == ShiftSwap.Status.AWAITING_LEAD
    assert on_call(roster, bens.starts_at + timedelta(hours=1)) == cy
    assert RosterOverride.objects.count() == 1


def test_accepting_a_cover_of_a_shift_given_away_since_is_refused(rota):
    roster, (ada, ben, cy) = rota
    mine = shifts_of(roster, ada)[0]
    to_ben = propose(roster, ada, ben)
    to_ben.status = ShiftSwap.Status.WITHDRAWN  # set aside without the service, to propose again
    to_ben.save()
    swaps.swap_accept(swap=propose(roster, ada, cy), actor=cy)
    to_ben.status = ShiftSwap.Status.PROPOSED
    to_ben.save()

    with pytest.raises(swaps.SwapRefused, match="Ada Test no longer holds the shift"):
        swaps.swap_accept(swap=to_ben, actor=ben)

    assert on_call(roster, mine.starts_at + timedelta(hours=1)) == cy
