"""The periodic review reports break-glass use per person and role: uses, confirmed, condemned,
unreviewed and overdue, for the period's decisions, on the dashboard too."""

from datetime import timedelta

import pytest
from django.utils import timezone

from decisions.breakglass import services
from decisions.models import BreakGlass
from decisions.review.figures import Period, review_figures

pytestmark = pytest.mark.django_db

REASON = "Could not wait."


def test_the_figures_count_uses_per_person_and_role(glass, make_decision):
    first, second, third = glass.signers
    one = services.decision_break_glass(decision=glass.decision, actor=first, reason=REASON)
    services.break_glass_review(used=one, actor=second, verdict="condemned", rationale="It could have waited.")
    services.decision_break_glass(
        decision=make_decision(glass.caller.integration, glass.staffed.action_type), actor=first, reason=REASON
    )
    late = services.decision_break_glass(
        decision=make_decision(glass.caller.integration, glass.staffed.action_type), actor=third, reason=REASON
    )
    BreakGlass.objects.filter(pk=late.pk).update(review_due_at=timezone.now() - timedelta(hours=1))

    rows = review_figures(Period.last_days(1))["break_glass"]

    role = glass.staffed.role.name
    assert rows == [
        {"person": first.get_full_name(), "role": role, "uses": 2, "confirmed": 0, "condemned": 1, "unreviewed": 1,
         "overdue": 0},
        {"person": third.get_full_name(), "role": role, "uses": 1, "confirmed": 0, "condemned": 0, "unreviewed": 1,
         "overdue": 1},
    ]  # fmt: skip


def test_uses_on_decisions_outside_the_period_are_not_counted(glass):
    services.decision_break_glass(decision=glass.decision, actor=glass.signers[0], reason=REASON)
    later = timezone.now() + timedelta(days=1)

    assert review_figures(Period(start=later, end=later + timedelta(days=1)))["break_glass"] == []


def test_the_dashboard_shows_the_break_glass_table(client, glass):
    services.decision_break_glass(decision=glass.decision, actor=glass.signers[0], reason=REASON)
    client.force_login(glass.lead)

    body = client.get("/decisions/review/?days=7").content.decode()

    assert "Break-glass uses by person and role" in body
    assert f"{glass.signers[0].get_full_name()} ({glass.staffed.role.name})" in body
