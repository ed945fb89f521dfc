"""The roster pages: the next 14 days, proposing a swap and each person's step, through Django's
test client, with their query counts."""

from datetime import timedelta

import pytest
from django.utils import timezone

from governance import rbac, swaps
from governance.models import Certification, ShiftSwap
from tests.governance.factories import RosterFactory, UserFactory, make_daily_rota, make_user_in_group, shifts_of

pytestmark = pytest.mark.django_db


def make_rota(members=3, *, lead_approval=False):
    return make_daily_rota([f"P{n}" for n in range(members)], lead_approval=lead_approval)


def url(roster) -> str:
    return f"/decisions/rosters/{roster.public_id}/"


def first_shift(roster, user):
    return shifts_of(roster, user)[0]


def proposal(roster, proposer, counterpart, **extra):
    shift = first_shift(roster, proposer)
    return {
        "swap-kind": "cover",
        "swap-shift": f"{shift.starts_at.isoformat()}|{shift.ends_at.isoformat()}",
        "swap-counterpart": str(counterpart.pk),
        "swap-return_shift": "",
        "swap-note": "Family wedding",
        **extra,
    }


def test_a_member_sees_the_next_14_days(client):
    roster, people = make_rota()
    client.force_login(people[0])

    response = client.get(url(roster))

    assert response.status_code == 200
    rows = response.context["rows"]
    assert rows[0]["starts"] <= timezone.localtime(timezone.now()) + timedelta(days=1)
    assert rows[-1]["slot"].ends_at <= timezone.now() + timedelta(days=14, seconds=1)
    assert len(rows) >= 14  # a daily rotation of three: a new person every day
    assert "Propose a swap or cover" in response.content.decode()


def test_someone_not_on_the_roster_gets_404(client):
    roster, _people = make_rota()
    client.force_login(UserFactory())

    assert client.get(url(roster)).status_code == 404


def test_a_lead_reads_every_roster_but_proposes_on_none(client):
    roster, _people = make_rota()
    client.force_login(make_user_in_group(rbac.GOVERNANCE_LEAD))

    assert "Tier-3 daily" in client.get("/decisions/rosters/").content.decode()
    response = client.get(url(roster))
    assert response.status_code == 200
    assert response.context["form"] is None


def test_a_member_proposes_and_the_other_accepts_through_the_pages(client):
    roster, (p0, p1, _p2) = make_rota()
    client.force_login(p0)

    response = client.post(url(roster), proposal(roster, p0, p1), follow=True)

    assert "Proposed: the other person is asked to accept it" in response.content.decode()
    swap = ShiftSwap.objects.get()
    client.force_login(p1)
    assert f"/decisions/swaps/{swap.public_id}/accept/" in client.get(url(roster)).content.decode()
    response = client.post(f"/decisions/swaps/{swap.public_id}/accept/", follow=True)

    assert "Accepted: the swap is applied to the roster." in response.content.decode()
    swap.refresh_from_db()
    assert swap.status == ShiftSwap.Status.APPLIED
    (row,) = [r for r in response.context["rows"] if r["swap"] is not None]
    assert row["slot"].user == p1


def test_only_the_other_person_can_accept_through_the_pages(client):
    roster, (p0, p1, p2) = make_rota()
    client.force_login(p0)
    client.post(url(roster), proposal(roster, p0, p1))
    swap = ShiftSwap.objects.get()
    client.force_login(p2)

    response = client.post(f"/decisions/swaps/{swap.public_id}/accept/")

    assert response.status_code == 403
    swap.refresh_from_db()
    assert swap.status == ShiftSwap.Status.PROPOSED


def test_a_swap_that_opens_a_gap_is_refused_on_the_page_with_the_gap_named(client):
    roster, (p0, p1, _p2) = make_rota()
    Certification.objects.filter(user=p1).update(valid_until=timezone.now() - timedelta(days=1))
    client.force_login(p0)

    response = client.post(url(roster), proposal(roster, p0, p1))

    assert response.status_code == 400
    body = response.content.decode()
    assert "Refused: this swap would open a governance gap." in body
    assert "P1 Test is not certified for it then" in body
    assert not ShiftSwap.objects.exists()


def test_a_swap_without_its_return_shift_is_a_form_error(client):
    roster, (p0, p1, _p2) = make_rota()
    client.force_login(p0)

    response = client.post(url(roster), proposal(roster, p0, p1, **{"swap-kind": "swap"}))

    assert response.status_code == 400
    assert "A swap takes one of their shifts in return" in response.content.decode()


def test_a_lead_approves_on_the_page_when_the_roster_requires_it(client):
    roster, (p0, p1, _p2) = make_rota(lead_approval=True)
    client.force_login(p0)
    client.post(url(roster), proposal(roster, p0, p1))
    swap = ShiftSwap.objects.get()
    client.force_login(p1)
    response = client.post(f"/decisions/swaps/{swap.public_id}/accept/", follow=True)
    assert "a governance lead approves it before the swap applies" in response.content.decode()

    lead = make_user_in_group(rbac.GOVERNANCE_LEAD)
    client.force_login(lead)
    assert "Why approve" in client.get(url(roster)).content.decode()
    response = client.post(f"/decisions/swaps/{swap.public_id}/approve/", {"note": "Both certified."}, follow=True)

    assert "Approved: the swap is applied to the roster." in response.content.decode()
    swap.refresh_from_db()
    assert swap.status == ShiftSwap.Status.APPLIED
    assert swap.decided_by == lead


def test_an_unknown_step_is_404(client):
    roster, (p0, p1, _p2) = make_rota()
    client.force_login(p0)
    client.post(url(roster), proposal(roster, p0, p1))

    assert client.post(f"/decisions/swaps/{ShiftSwap.objects.get().public_id}/explode/").status_code == 404


def _swaps(roster, people, count):
    """``count`` open proposals, each by another member on their first shift."""
    for n in range(count):
        proposer, counterpart = people[n], people[(n + 1) % len(people)]
        shift = first_shift(roster, proposer)
        swaps.swap_propose(
            roster=roster, actor=proposer, kind="cover", counterpart=counterpart, starts_at=shift.starts_at,
            ends_at=shift.ends_at, note=f"Proposal {n}",
        )  # fmt: skip


@pytest.mark.parametrize(("members", "count"), [(3, 1), (6, 5)])
def test_the_roster_page_runs_the_same_queries_whatever_its_size(client, django_assert_num_queries, members, count):
    """Session, user, the roster with its role, its members, its overrides, its swaps, the
    permissions x2 (the lead's buttons), the health banner."""
    roster, people = make_rota(members)
    _swaps(roster, people, count)
    client.force_login(people[0])

    with django_assert_num_queries(9):
        response = client.get(url(roster))

    assert len(response.context["swaps"]) == count


@pytest.mark.parametrize("rosters", [1, 4])
def test_the_roster_list_runs_the_same_queries_whatever_the_number(client, django_assert_num_queries, rosters):
    person = UserFactory()
    for n in range(rosters):
        RosterFactory(name=f"Rota {n}", users=[person])
    client.force_login(person)

    with django_assert_num_queries(6):
        response = client.get("/decisions/rosters/")

    assert len(response.context["rosters"]) == rosters


def test_an_auditor_reads_every_roster_and_its_swaps_but_takes_no_step(client):
    roster, people = make_rota()
    _swaps(roster, people, 1)
    client.force_login(make_user_in_group(rbac.AUDITOR))

    assert "Tier-3 daily" in client.get("/decisions/rosters/").content.decode()
    response = client.get(url(roster))
    assert response.status_code == 200
    assert response.context["form"] is None
    assert "/accept/" not in response.content.decode()
