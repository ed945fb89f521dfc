"""Past the end of the escalation chain the leads are told; from then on a governance lead may
review the break-glass even without a certification (never the breaker, never the submitter)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from decisions.breakglass import services, sweep
from decisions.errors import CertificationExpired, SegregationOfDuties
from decisions.models import BreakGlass, EventKind

pytestmark = pytest.mark.django_db

REASON = "Active exfiltration; nobody else reachable."


@pytest.fixture
def used(glass):
    return services.decision_break_glass(decision=glass.decision, actor=glass.signers[0], reason=REASON)


def escalate(used) -> BreakGlass:
    past = timezone.now() - timedelta(seconds=1)
    BreakGlass.objects.filter(pk=used.pk).update(review_due_at=past, review_next_at=past)
    assert sweep.sweep_overdue_reviews() == 1
    return BreakGlass.objects.get(pk=used.pk)


def test_a_lead_may_not_review_while_the_chain_still_has_steps(glass, used):
    used = escalate(used)  # to the chain's one step
    assert not services.chain_exhausted(used)

    with pytest.raises(CertificationExpired, match="past the end of the escalation chain a governance lead"):
        services.break_glass_review(used=used, actor=glass.lead, verdict="confirmed", rationale="Fine.")


def test_past_the_chains_end_a_lead_reviews_it(glass, used):
    used = escalate(escalate(used))
    assert used.review_next_at is None
    assert services.chain_exhausted(used)

    reviewed = services.break_glass_review(used=used, actor=glass.lead, verdict="condemned", rationale="Could wait.")

    assert reviewed.reviewed_by == glass.lead
    event = used.decision.events.get(kind=EventKind.BREAK_GLASS_REVIEWED)
    assert event.data["as_lead"] is True
    assert event.data["certification_id"] is None


def test_past_the_chains_end_a_lead_who_submitted_it_still_may_not(glass):
    glass.decision.submitted_by = glass.lead
    glass.decision.save(update_fields=["submitted_by"])
    used = services.decision_break_glass(decision=glass.decision, actor=glass.signers[0], reason=REASON)
    used = escalate(escalate(used))

    with pytest.raises(SegregationOfDuties):
        services.break_glass_review(used=used, actor=glass.lead, verdict="confirmed", rationale="Fine.")


def test_the_lead_gets_the_review_form_on_the_page_once_the_chain_is_exhausted(client, glass, used):
    used = escalate(escalate(used))
    client.force_login(glass.lead)
    page = f"/decisions/break-glass/{used.public_id}/"

    assert 'id="h-your-review"' in client.get(page).text
    response = client.post(page, {"verdict": "confirmed", "rationale": "It was right to act."})

    assert response.status_code == 302
    used.refresh_from_db()
    assert used.reviewed_by == glass.lead
