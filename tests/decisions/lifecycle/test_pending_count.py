"""Each integration's pending count, kept by triggers on PostgreSQL (migration 0024): it follows
every way a decision enters or leaves ``pending``, whatever the backlog, and intake reads it."""

import pytest
from django.db import connection
from django.db.models import Sum

from decisions.lifecycle import locks
from decisions.lifecycle.cancellation import decision_cancel
from decisions.models import DecisionRequest, DecisionStatus, PendingCount
from tests.decisions.factories import make_integration, submit
from tests.decisions.scenarios import approve
from tests.governance.factories import ApprovalPolicyFactory, make_staffed_action_type
from tests.helpers import run_concurrently

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def _counted(integration) -> int:
    return PendingCount.objects.filter(integration=integration).aggregate(n=Sum("pending"))["n"] or 0


def _pending(integration) -> int:
    return DecisionRequest.objects.filter(integration=integration, status=DecisionStatus.PENDING).count()


@pytest.fixture
def staffed_integration():
    action_type, _role, people = make_staffed_action_type(signers=2)
    ApprovalPolicyFactory(action_types=[action_type])
    return action_type, make_integration(action_type), people


def test_a_submission_counts_one_pending_decision(staffed_integration):
    action_type, integration, _ = staffed_integration

    submit(action_type, integration=integration)
    submit(action_type, integration=integration)

    assert _counted(integration) == _pending(integration) == 2


def test_a_decision_signed_or_cancelled_leaves_the_count(staffed_integration):
    action_type, integration, (signer, _other) = staffed_integration
    signed = submit(action_type, integration=integration)
    cancelled = submit(action_type, integration=integration)
    submit(action_type, integration=integration)

    approve(signed, signer)
    decision_cancel(decision=cancelled, integration=integration, actor=integration.service_account)

    assert _counted(integration) == _pending(integration) == 1


def test_an_update_that_keeps_a_decision_pending_changes_nothing(staffed_integration):
    action_type, integration, _ = staffed_integration
    decision = submit(action_type, integration=integration)

    DecisionRequest.objects.filter(pk=decision.pk).update(title="Renamed", status=DecisionStatus.PENDING)

    assert _counted(integration) == 1


def test_counts_are_kept_per_integration(staffed_integration):
    action_type, integration, _ = staffed_integration
    other = make_integration(action_type)
    submit(action_type, integration=integration)
    submit(action_type, integration=other)
    submit(action_type, integration=other)

    assert (_counted(integration), _counted(other)) == (1, 2)


def test_intake_limits_read_the_kept_count(staffed_integration):
    action_type, integration, _ = staffed_integration
    for _ in range(3):
        submit(action_type, integration=integration)

    limits = locks.intake_limits(integration, action_type)

    assert limits.pending == 3
    assert limits.decision_id is not None


def test_the_count_is_read_from_at_most_one_row_per_slot_not_from_the_decisions(staffed_integration):
    action_type, integration, _ = staffed_integration
    with connection.cursor() as cursor:
        cursor.execute(
            "EXPLAIN " + locks._PG_LIMITS_SQL, {"integration": integration.pk, "action_type": action_type.pk}
        )
        plan = " ".join(row[0] for row in cursor.fetchall())

    assert "decisions_pendingcount" in plan
    assert "decisions_decisionrequest" not in plan


@pytest.mark.django_db(transaction=True)
def test_concurrent_submissions_and_sign_offs_keep_the_count_exact(staffed_integration):
    action_type, integration, (signer, _other) = staffed_integration
    to_sign = [submit(action_type, integration=integration) for _ in range(4)]

    def work(index):
        if index < 4:
            return approve(to_sign[index], signer)
        return submit(action_type, integration=integration)

    outcomes = run_concurrently(work, threads=10)

    assert [exc for _, exc in outcomes if exc is not None] == []
    assert _counted(integration) == _pending(integration) == 6
