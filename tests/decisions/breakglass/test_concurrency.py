"""Break-glass under concurrency, on PostgreSQL with real threads: the decision's row lock lets
one verdict through, and the unique index keeps one unreviewed use per person across decisions."""

from datetime import timedelta

import pytest
from django.utils import timezone

from decisions.breakglass import services, sweep
from decisions.errors import DecisionClosed
from decisions.lifecycle import signing
from decisions.models import BreakGlass, DecisionStatus, EventKind
from tests.helpers import run_concurrently

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

REASON = "Spreading now; nobody else reachable."
APPROVE = {"verdict": "approve", "reason_code": "evidence_sufficient", "rationale": "EDR confirms it."}


def test_two_people_breaking_glass_at_once_make_one_verdict(glass):
    outcomes = run_concurrently(
        lambda i: services.decision_break_glass(decision=glass.decision, actor=glass.signers[i], reason=REASON),
        threads=2,
    )

    errors = [exc for _result, exc in outcomes if exc is not None]
    assert len(errors) == 1
    assert isinstance(errors[0], DecisionClosed)
    assert BreakGlass.objects.count() == 1
    assert glass.decision.events.filter(kind=EventKind.DECIDED).count() == 1


def test_one_person_breaking_glass_on_two_decisions_at_once_gets_one(glass, make_decision):
    second = make_decision(glass.caller.integration, glass.staffed.action_type)
    decisions = [glass.decision, second]

    outcomes = run_concurrently(
        lambda i: services.decision_break_glass(decision=decisions[i], actor=glass.signers[0], reason=REASON),
        threads=2,
    )

    errors = [exc for _result, exc in outcomes if exc is not None]
    assert len(errors) == 1
    assert isinstance(errors[0], services.BreakGlassUnreviewed)
    statuses = sorted(
        DecisionStatus(d.status) for d in type(glass.decision).objects.filter(pk__in=[d.pk for d in decisions])
    )
    assert statuses == [DecisionStatus.APPROVED, DecisionStatus.PENDING]


def test_a_sign_off_racing_a_break_glass_never_makes_two_verdicts(make_glass):
    glass = make_glass(required_approvals=1)

    def act(i):
        if i == 0:
            return services.decision_break_glass(decision=glass.decision, actor=glass.signers[0], reason=REASON)
        return signing.decision_sign_off(decision=glass.decision, actor=glass.signers[1], **APPROVE)

    outcomes = run_concurrently(act, threads=2)

    assert sum(exc is None for _result, exc in outcomes) == 1
    glass.decision.refresh_from_db()
    assert glass.decision.status == DecisionStatus.APPROVED
    assert glass.decision.events.filter(kind=EventKind.DECIDED).count() == 1


def test_two_sweeps_at_once_escalate_a_review_once(glass):
    used = services.decision_break_glass(decision=glass.decision, actor=glass.signers[0], reason=REASON)
    BreakGlass.objects.filter(pk=used.pk).update(review_next_at=timezone.now() - timedelta(seconds=1))

    outcomes = run_concurrently(lambda _i: sweep.sweep_overdue_reviews(), threads=2)

    assert sorted(result for result, _exc in outcomes) == [0, 1]
    used.refresh_from_db()
    assert used.review_step == 1
    assert glass.decision.events.filter(kind=EventKind.BREAK_GLASS_ESCALATED).count() == 1
