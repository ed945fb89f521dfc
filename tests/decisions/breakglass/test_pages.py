"""The break-glass pages through Django's test client: the panel on a decision, breaking glass,
the list of uses and the review form, with their query counts."""

from datetime import timedelta

import pytest
from django.utils import timezone

from decisions.breakglass import services, sweep
from decisions.models import BreakGlass, DecisionStatus
from governance import rbac
from tests.governance.factories import make_user_in_group

pytestmark = pytest.mark.django_db

REASON = "Worm spreading across the finance VLAN; second approver unreachable."
BREAK = {"glass-reason": REASON, "glass-understood": "on"}


def page_of(decision) -> str:
    return f"/decisions/{decision.public_id}/"


def test_an_eligible_person_sees_the_break_glass_form_when_the_policy_allows_it(client, glass):
    client.force_login(glass.signers[0])

    body = client.get(page_of(glass.decision)).content.decode()

    assert "Break glass and execute now" in body


def test_nobody_sees_the_panel_when_the_policy_forbids_it(client, make_glass):
    glass = make_glass(allows=False)
    client.force_login(glass.signers[0])

    assert "Break glass" not in client.get(page_of(glass.decision)).content.decode()


def test_the_panel_says_why_a_person_may_not(client, glass, make_decision):
    services.decision_break_glass(decision=glass.decision, actor=glass.signers[0], reason=REASON)
    other = make_decision(glass.caller.integration, glass.staffed.action_type)
    client.force_login(glass.signers[0])

    body = client.get(page_of(other)).content.decode()

    assert "You cannot break glass on it: Your earlier break-glass still waits for its review" in body


def test_breaking_glass_executes_the_decision_and_shows_the_use(client, glass):
    client.force_login(glass.signers[0])

    response = client.post(f"{page_of(glass.decision)}break-glass/", BREAK, follow=True)

    used = BreakGlass.objects.get()
    assert response.redirect_chain[-1][0] == f"/decisions/break-glass/{used.public_id}/"
    assert "Break-glass recorded: the decision is approved (break-glass)" in response.content.decode()
    glass.decision.refresh_from_db()
    assert glass.decision.status == DecisionStatus.APPROVED


def test_breaking_glass_needs_the_reason_and_the_confirmation(client, glass):
    client.force_login(glass.signers[0])

    response = client.post(f"{page_of(glass.decision)}break-glass/", {"glass-reason": ""}, follow=True)

    body = response.content.decode()
    assert "The glass is not broken: Say why this cannot wait for the quorum." in body
    assert "Tick the box to confirm you break the glass." in body
    assert not BreakGlass.objects.exists()


def test_a_refused_break_glass_answers_403_with_the_reason(client, make_glass):
    glass = make_glass(allows=False)
    client.force_login(glass.signers[0])

    response = client.post(f"{page_of(glass.decision)}break-glass/", BREAK)

    assert response.status_code == 403
    assert "does not allow break-glass" in response.content.decode()


def test_a_person_who_cannot_see_the_decision_gets_404(client, glass):
    client.force_login(glass.step_signer)  # certified for another role, not routed to

    assert client.post(f"{page_of(glass.decision)}break-glass/", BREAK).status_code == 404


def test_a_different_certified_person_reviews_it_on_its_page(client, glass):
    used = services.decision_break_glass(decision=glass.decision, actor=glass.signers[0], reason=REASON)
    client.force_login(glass.signers[1])
    url = f"/decisions/break-glass/{used.public_id}/"
    assert "Record my review" in client.get(url).content.decode()

    response = client.post(url, {"verdict": "confirmed", "rationale": "The spread was real."}, follow=True)

    assert "Your review is recorded in the decision log." in response.content.decode()
    used.refresh_from_db()
    assert used.review == "confirmed"


def test_the_person_who_broke_the_glass_gets_no_review_form(client, glass):
    used = services.decision_break_glass(decision=glass.decision, actor=glass.signers[0], reason=REASON)
    client.force_login(glass.signers[0])
    url = f"/decisions/break-glass/{used.public_id}/"

    body = client.get(url).content.decode()

    assert "You cannot review it: You broke the glass" in body
    assert client.post(url, {"verdict": "confirmed", "rationale": "Me."}).status_code == 403


def test_a_review_without_a_rationale_answers_400(client, glass):
    used = services.decision_break_glass(decision=glass.decision, actor=glass.signers[0], reason=REASON)
    client.force_login(glass.signers[1])

    response = client.post(f"/decisions/break-glass/{used.public_id}/", {"verdict": "confirmed"})

    assert response.status_code == 400
    assert "A rationale is required for the review." in response.content.decode()


def test_someone_certified_for_nothing_relevant_cannot_see_a_use(client, glass):
    used = services.decision_break_glass(decision=glass.decision, actor=glass.signers[0], reason=REASON)
    client.force_login(glass.step_signer)

    assert client.get(f"/decisions/break-glass/{used.public_id}/").status_code == 404
    assert REASON not in client.get("/decisions/break-glass/").content.decode()


def test_the_decision_page_says_approved_break_glass(client, glass):
    services.decision_break_glass(decision=glass.decision, actor=glass.signers[0], reason=REASON)
    client.force_login(make_user_in_group(rbac.AUDITOR))

    body = client.get(page_of(glass.decision)).content.decode()

    assert "Approved (break-glass)" in body
    assert "Executed by break-glass" in body


@pytest.fixture
def many_uses(make_glass, make_decision):
    def make(count):
        glass = make_glass(people=6, required_approvals=6)
        decisions = [glass.decision] + [
            make_decision(glass.caller.integration, glass.staffed.action_type) for _ in range(count - 1)
        ]
        for person, decision in zip(glass.signers, decisions, strict=False):
            services.decision_break_glass(decision=decision, actor=person, reason=REASON)
        return glass

    return make


@pytest.mark.parametrize("count", [1, 5])
def test_the_list_runs_the_same_queries_for_one_or_many_uses(client, many_uses, django_assert_num_queries, count):
    """Session, user, permissions x2, the reader's certified roles, the uses (with their decision,
    action type, people and role in one join), the health banner."""
    glass = many_uses(count)
    client.force_login(glass.signers[5])

    with django_assert_num_queries(7):
        response = client.get("/decisions/break-glass/")

    assert len(response.context["uses"]) == count


@pytest.mark.parametrize("count", [1, 5])
def test_the_list_for_an_auditor_runs_the_same_queries(client, many_uses, django_assert_num_queries, count):
    many_uses(count)
    client.force_login(make_user_in_group(rbac.AUDITOR))

    with django_assert_num_queries(6):
        response = client.get("/decisions/break-glass/")

    assert len(response.context["uses"]) == count
    assert timezone.now() < response.context["uses"][0].review_due_at


@pytest.mark.parametrize("reviewer", ["certified", "auditor"])
def test_the_review_page_runs_a_fixed_number_of_queries(client, glass, django_assert_num_queries, reviewer):
    """Session, user, permissions x2, the reader's certified roles, the use (one join), the
    review checks (integration account x2, the reviewer's certification), the health banner."""
    used = services.decision_break_glass(decision=glass.decision, actor=glass.signers[0], reason=REASON)
    reader = glass.signers[1] if reviewer == "certified" else make_user_in_group(rbac.AUDITOR)
    client.force_login(reader)

    with django_assert_num_queries(10 if reviewer == "certified" else 9):
        response = client.get(f"/decisions/break-glass/{used.public_id}/")

    assert response.status_code == 200


def test_the_role_a_review_escalated_to_finds_it_in_its_list(client, glass):
    used = services.decision_break_glass(decision=glass.decision, actor=glass.signers[0], reason=REASON)
    client.force_login(glass.step_signer)
    assert client.get("/decisions/break-glass/").context["uses"] == []
    BreakGlass.objects.filter(pk=used.pk).update(review_next_at=timezone.now() - timedelta(seconds=1))
    sweep.sweep_overdue_reviews()

    assert [u.pk for u in client.get("/decisions/break-glass/").context["uses"]] == [used.pk]
    assert "Record my review" in client.get(f"/decisions/break-glass/{used.public_id}/").content.decode()
