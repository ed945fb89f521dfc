"""Races on one decision, with real threads on PostgreSQL: every service that changes a
decision takes its row lock, so concurrent calls are serialised into one verdict, no lost
approval and an intact log."""

import pytest

from decisions.errors import AlreadySigned, DecisionClosed
from decisions.lifecycle import cancellation, corrections, intake
from decisions.lifecycle.eventlog import verify_all
from decisions.models import DecisionRequest, DecisionStatus, EventKind, SignOff
from tests.decisions.factories import decision_data, make_integration
from tests.decisions.scenarios import approve_by_pk, pending, reject_by_pk
from tests.governance.factories import ApprovalPolicyFactory, make_staffed_action_type
from tests.helpers import run_concurrently

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
]


def errors(outcomes) -> list[type]:
    return [type(error) for _result, error in outcomes if error is not None]


def decided_events(decision) -> int:
    return decision.events.filter(kind=EventKind.DECIDED).count()


def test_eight_people_approving_a_single_approval_decision_at_once_give_one_verdict():
    decision, people = pending(signers=8)

    outcomes = run_concurrently(lambda i: approve_by_pk(decision.pk, people[i].pk), threads=8)

    decision.refresh_from_db()
    assert errors(outcomes) == [DecisionClosed] * 7
    assert SignOff.objects.filter(decision=decision).count() == 1
    assert decision.status == DecisionStatus.APPROVED
    assert decided_events(decision) == 1
    assert list(verify_all()) == []


def test_two_people_approving_a_single_approval_decision_at_once_give_one_verdict():
    decision, (alice, bob) = pending(signers=2)

    outcomes = run_concurrently(lambda i: approve_by_pk(decision.pk, (alice, bob)[i].pk), threads=2)

    decision.refresh_from_db()
    assert errors(outcomes) == [DecisionClosed]
    assert decision.status == DecisionStatus.APPROVED
    assert decided_events(decision) == 1
    assert list(verify_all()) == []


def test_one_person_approving_twice_at_once_counts_once():
    decision, (alice, _bob) = pending(signers=2, required_approvals=2)

    outcomes = run_concurrently(lambda i: approve_by_pk(decision.pk, alice.pk), threads=2)

    decision.refresh_from_db()
    assert errors(outcomes) == [AlreadySigned]
    assert SignOff.objects.filter(decision=decision).count() == 1
    assert decision.status == DecisionStatus.PENDING
    assert list(verify_all()) == []


def test_two_people_approving_a_two_approval_decision_at_once_both_count():
    decision, (alice, bob) = pending(signers=2, required_approvals=2)

    outcomes = run_concurrently(lambda i: approve_by_pk(decision.pk, (alice, bob)[i].pk), threads=2)

    decision.refresh_from_db()
    assert errors(outcomes) == []
    assert set(SignOff.objects.filter(decision=decision).values_list("signer_id", flat=True)) == {alice.pk, bob.pk}
    assert decision.status == DecisionStatus.APPROVED
    assert decided_events(decision) == 1
    assert decision.events.get(kind=EventKind.DECIDED).data["approvals"] == 2
    assert list(verify_all()) == []


def test_approve_racing_reject_gives_exactly_one_verdict():
    decision, (alice, bob) = pending(signers=2)

    def act(index):
        if index == 0:
            return approve_by_pk(decision.pk, alice.pk)
        return reject_by_pk(decision.pk, bob.pk)

    outcomes = run_concurrently(act, threads=2)

    decision.refresh_from_db()
    assert errors(outcomes) == [DecisionClosed]
    assert decision.status in {DecisionStatus.APPROVED, DecisionStatus.REJECTED}
    assert decided_events(decision) == 1
    assert list(verify_all()) == []


def test_cancel_racing_approve_gives_exactly_one_verdict():
    decision, (alice,) = pending(signers=1)
    integration = decision.integration

    def act(index):
        if index == 0:
            return approve_by_pk(decision.pk, alice.pk)
        return cancellation.decision_cancel(
            decision=DecisionRequest.objects.get(pk=decision.pk),
            integration=integration,
            actor=integration.service_account,
        )

    outcomes = run_concurrently(act, threads=2)

    decision.refresh_from_db()
    assert errors(outcomes) == [DecisionClosed]
    assert decision.status in {DecisionStatus.APPROVED, DecisionStatus.CANCELLED}
    assert decision.events.filter(kind__in=[EventKind.DECIDED, EventKind.CANCELLED]).count() == 1
    assert list(verify_all()) == []


def test_payload_change_racing_an_approval_never_lets_a_stale_approval_count():
    decision, (alice, bob) = pending(signers=2, required_approvals=2)
    approve_by_pk(decision.pk, alice.pk)
    integration = decision.integration

    def act(index):
        if index == 0:
            return approve_by_pk(decision.pk, bob.pk)
        return corrections.decision_update_payload(
            decision=DecisionRequest.objects.get(pk=decision.pk),
            integration=integration,
            actor=integration.service_account,
            changes={"target": {"host": "fin-043.corp.example"}},
        )

    outcomes = run_concurrently(act, threads=2)

    decision.refresh_from_db()
    live = SignOff.objects.filter(decision=decision, voided_at__isnull=True)
    if decision.status == DecisionStatus.APPROVED:  # the approval won: the change came too late
        assert errors(outcomes) == [DecisionClosed]
        assert decision.payload_version == 1
    else:  # the change won: Alice's approval is void, Bob approved the corrected payload
        assert errors(outcomes) == []
        assert decision.status == DecisionStatus.PENDING
        assert list(live.values_list("signer_id", "payload_version")) == [(bob.pk, 2)]
    assert list(verify_all()) == []


def test_concurrent_retries_with_one_idempotency_key_create_one_decision():
    action_type, _role, _people = make_staffed_action_type()
    ApprovalPolicyFactory(action_types=[action_type])
    integration = make_integration(action_type)

    def retry(index):
        return intake.decision_submit(
            integration=integration,
            actor=integration.service_account,
            data=decision_data(action_type),
            request_fingerprint="same-body",
            idempotency_key="retry-42",
        )

    outcomes = run_concurrently(retry, threads=4)

    assert errors(outcomes) == []
    assert sorted(created for (_decision, created), _error in outcomes) == [False, False, False, True]
    assert len({decision.pk for (decision, _created), _error in outcomes}) == 1
    assert DecisionRequest.objects.count() == 1
    assert list(verify_all()) == []
