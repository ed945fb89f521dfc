"""The escalation service: timed, manual and swept moves down the frozen chain, exactly once."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from decisions.errors import DecisionClosed, InvalidInput, NotAllowed, NotEligible
from decisions.escalation import services as escalation
from decisions.escalation import sweep
from decisions.lifecycle import signing
from decisions.lifecycle.eventlog import verify_all
from decisions.models import (
    DecisionRequest,
    DecisionRequestUserObjectPermission,
    DecisionStatus,
    Escalation,
    EventKind,
    OutboxMessage,
)
from decisions.outbox.relay import Dispatch
from decisions.queueing import ESCALATE_WHEN_DUE
from decisions.tasks import escalate_when_due
from governance import rbac
from tests.decisions.factories import submit
from tests.governance.factories import (
    ApprovalPolicyFactory,
    DecisionRoleFactory,
    EscalationChainFactory,
    make_signers,
    make_staffed_action_type,
    make_user_in_group,
)
from tests.helpers import run_concurrently

WAIT = 60


def _scenario(*, second_step_people=1, steps=None):
    """A decision owned by role A (one signer), whose chain goes to role B then ends (expire)."""
    action_type, _owner, (owner_signer,) = make_staffed_action_type()
    next_role = DecisionRoleFactory()
    next_people = make_signers(next_role, second_step_people) if second_step_people else []
    chain = EscalationChainFactory(steps=steps or [(next_role, WAIT)])
    ApprovalPolicyFactory(action_types=[action_type], escalation_chain=chain, time_to_act_seconds=WAIT)
    decision = submit(action_type)
    return decision, owner_signer, next_role, next_people


def _holders(decision):
    return set(
        DecisionRequestUserObjectPermission.objects.filter(content_object=decision).values_list("user_id", flat=True)
    )


def _after_deadline(decision):
    decision.refresh_from_db()
    return decision.deadline + timedelta(seconds=1)


@pytest.mark.django_db
def test_a_passed_deadline_moves_the_decision_to_the_next_role():
    decision, owner_signer, next_role, (next_signer,) = _scenario()

    moved = escalation.decision_escalate(
        decision_id=decision.pk, from_step=0, reason=Escalation.Reason.TIMEOUT, now=_after_deadline(decision)
    )

    decision.refresh_from_db()
    assert moved
    assert decision.current_step == 1
    assert decision.status == DecisionStatus.PENDING
    assert _holders(decision) == {owner_signer.pk, next_signer.pk}  # earlier eligible people keep theirs
    assert decision.snapshot["stages"][-1]["role"]["id"] == next_role.pk
    assert decision.events.filter(kind=EventKind.ESCALATED).count() == 1
    assert list(verify_all()) == []


@pytest.mark.django_db
def test_the_new_step_gets_its_own_deadline_and_token():
    decision, *_ = _scenario()
    decision.refresh_from_db()
    first_token = decision.deadline_token
    at = _after_deadline(decision)

    escalation.decision_escalate(decision_id=decision.pk, from_step=0, reason=Escalation.Reason.TIMEOUT, now=at)

    decision.refresh_from_db()
    assert decision.deadline == at + timedelta(seconds=WAIT)
    assert decision.deadline_token
    assert decision.deadline_token != first_token


@pytest.mark.django_db
def test_the_escalation_records_how_late_it_was():
    decision, *_ = _scenario()
    at = _after_deadline(decision)

    escalation.decision_escalate(decision_id=decision.pk, from_step=0, reason=Escalation.Reason.TIMEOUT, now=at)

    assert Escalation.objects.get(decision=decision).lateness_ms == 1000


@pytest.mark.django_db
def test_a_deadline_not_yet_passed_moves_nothing():
    decision, *_ = _scenario()
    decision.refresh_from_db()

    moved = escalation.decision_escalate(
        decision_id=decision.pk,
        from_step=0,
        reason=Escalation.Reason.TIMEOUT,
        now=decision.deadline - timedelta(seconds=1),
    )

    assert not moved
    assert not Escalation.objects.exists()


@pytest.mark.django_db
def test_a_stale_token_moves_nothing():
    decision, *_ = _scenario()

    moved = escalation.decision_escalate(
        decision_id=decision.pk,
        from_step=0,
        reason=Escalation.Reason.TIMEOUT,
        token="stale",
        now=_after_deadline(decision),
    )

    assert not moved


@pytest.mark.django_db
def test_the_same_step_escalates_only_once():
    decision, *_ = _scenario(steps=None)
    at = _after_deadline(decision)

    first = escalation.decision_escalate(decision_id=decision.pk, from_step=0, reason=Escalation.Reason.TIMEOUT, now=at)
    second = escalation.decision_escalate(
        decision_id=decision.pk, from_step=0, reason=Escalation.Reason.TIMEOUT, now=at
    )

    assert (first, second) == (True, False)
    assert Escalation.objects.filter(decision=decision).count() == 1


@pytest.mark.django_db
def test_a_decided_decision_never_escalates():
    decision, owner_signer, *_ = _scenario()
    signing.decision_sign_off(
        decision=decision, actor=owner_signer, verdict="approve", reason_code="evidence_sufficient", rationale="ok"
    )

    moved = escalation.decision_escalate(
        decision_id=decision.pk, from_step=0, reason=Escalation.Reason.TIMEOUT, now=timezone.now() + timedelta(days=1)
    )

    assert not moved


@pytest.mark.django_db
def test_the_end_of_the_chain_expires_the_decision_and_revokes_every_grant():
    decision, *_ = _scenario()
    at = _after_deadline(decision)
    escalation.decision_escalate(decision_id=decision.pk, from_step=0, reason=Escalation.Reason.TIMEOUT, now=at)
    decision.refresh_from_db()

    escalation.decision_escalate(
        decision_id=decision.pk,
        from_step=1,
        reason=Escalation.Reason.TIMEOUT,
        now=decision.deadline + timedelta(seconds=1),
    )

    decision.refresh_from_db()
    assert decision.status == DecisionStatus.EXPIRED
    assert decision.final_action is None
    assert _holders(decision) == set()
    assert decision.events.filter(kind=EventKind.EXPIRED).exists()


@pytest.mark.django_db
def test_a_step_with_nobody_eligible_is_skipped_at_once():
    empty_role, final_role = DecisionRoleFactory(), DecisionRoleFactory()
    (final_signer,) = make_signers(final_role, 1)
    decision, *_ = _scenario(second_step_people=0, steps=[(empty_role, WAIT), (final_role, WAIT)])

    escalation.decision_escalate(
        decision_id=decision.pk, from_step=0, reason=Escalation.Reason.TIMEOUT, now=_after_deadline(decision)
    )

    decision.refresh_from_db()
    assert decision.current_step == 2
    assert final_signer.pk in _holders(decision)
    gaps = decision.events.filter(kind=EventKind.OWNERSHIP_GAP)
    assert [e.data["role"]["id"] for e in gaps] == [empty_role.pk]


@pytest.mark.django_db
def test_the_sweep_escalates_every_overdue_decision_and_nothing_else():
    overdue, *_ = _scenario()
    not_due, *_ = _scenario()
    DecisionRequest.objects.filter(pk=overdue.pk).update(deadline=timezone.now() - timedelta(seconds=5))

    moved = sweep.sweep_overdue()

    overdue.refresh_from_db()
    not_due.refresh_from_db()
    assert moved == 1
    assert (overdue.current_step, not_due.current_step) == (1, 0)


@pytest.mark.django_db
def test_a_signer_can_escalate_at_once_with_a_reason():
    decision, owner_signer, _next_role, (next_signer,) = _scenario()

    escalation.decision_escalate_now(
        decision=decision, actor=owner_signer, reason="Needs the IC: customer data involved"
    )

    decision.refresh_from_db()
    row = Escalation.objects.get(decision=decision)
    assert (decision.current_step, row.reason, row.by, row.note) == (
        1,
        Escalation.Reason.MANUAL,
        owner_signer,
        "Needs the IC: customer data involved",
    )


@pytest.mark.django_db
def test_someone_not_eligible_cannot_escalate():
    decision, _owner_signer, _next_role, (next_signer,) = _scenario()

    with pytest.raises(NotEligible):
        escalation.decision_escalate_now(decision=decision, actor=next_signer, reason="me please")


@pytest.mark.django_db
def test_a_stale_deadline_task_is_a_no_op():
    decision, *_ = _scenario()
    decision.refresh_from_db()
    DecisionRequest.objects.filter(pk=decision.pk).update(deadline=timezone.now() - timedelta(seconds=1))

    escalate_when_due.apply(args=[decision.pk, 0, "not-the-token"])

    assert not Escalation.objects.exists()


@pytest.mark.django_db
def test_a_due_deadline_task_escalates():
    decision, *_ = _scenario()
    decision.refresh_from_db()
    DecisionRequest.objects.filter(pk=decision.pk).update(deadline=timezone.now() - timedelta(seconds=1))

    escalate_when_due.apply(args=[decision.pk, 0, decision.deadline_token])

    assert Escalation.objects.filter(decision=decision, from_step=0).count() == 1


@pytest.mark.django_db
def test_submission_queues_the_deadline_task_only_after_commit(django_capture_on_commit_callbacks):
    action_type, *_ = make_staffed_action_type()
    ApprovalPolicyFactory(action_types=[action_type])

    with django_capture_on_commit_callbacks() as callbacks:
        try:
            with transaction.atomic():
                submit(action_type)
                raise RuntimeError("roll back")
        except RuntimeError:
            pass
    assert callbacks == []
    assert not OutboxMessage.objects.exists()

    with django_capture_on_commit_callbacks() as callbacks:
        submit(action_type)
    assert _dispatched(callbacks).count(ESCALATE_WHEN_DUE) == 1
    assert OutboxMessage.objects.get(task_name=ESCALATE_WHEN_DUE).published_at is None  # until the commit


@pytest.mark.django_db
def test_a_manual_escalation_of_a_closed_decision_is_refused():
    decision, owner_signer, *_ = _scenario()
    DecisionRequest.objects.filter(pk=decision.pk).update(current_step=5)

    with pytest.raises(DecisionClosed):
        escalation.decision_escalate_now(decision=decision, actor=owner_signer, reason="late")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_deadline_task_the_sweep_and_a_second_worker_escalate_a_step_exactly_once():
    decision, *_ = _scenario()
    decision.refresh_from_db()
    DecisionRequest.objects.filter(pk=decision.pk).update(deadline=timezone.now() - timedelta(seconds=1))
    token = decision.deadline_token

    def fire(i):
        if i % 3 == 0:
            return sweep.sweep_overdue()
        return escalation.decision_escalate(
            decision_id=decision.pk, from_step=0, reason=Escalation.Reason.TIMEOUT, token=token
        )

    outcomes = run_concurrently(fire, threads=9)

    assert all(exc is None for _result, exc in outcomes)
    assert Escalation.objects.filter(decision=decision).count() == 1
    assert DecisionRequest.objects.get(pk=decision.pk).events.filter(kind=EventKind.ESCALATED).count() == 1
    assert list(verify_all()) == []


@pytest.mark.django_db
def test_a_governance_lead_reassigns_a_decision_to_another_role_with_a_reason():
    decision, owner_signer, *_ = _scenario()
    other_role = DecisionRoleFactory()
    (other_signer,) = make_signers(other_role, 1)
    lead = make_user_in_group(rbac.GOVERNANCE_LEAD)

    escalation.decision_reassign(
        decision=decision, actor=lead, role=other_role, reason="The owner team is at an offsite"
    )

    decision.refresh_from_db()
    assert _holders(decision) == {owner_signer.pk, other_signer.pk}
    event = decision.events.get(kind=EventKind.REASSIGNED)
    assert (event.actor, event.data["reason"]) == (lead, "The owner team is at an offsite")
    signing.decision_sign_off(
        decision=decision, actor=other_signer, verdict="approve", reason_code="evidence_sufficient", rationale="ok"
    )
    decision.refresh_from_db()
    assert decision.status == DecisionStatus.APPROVED


@pytest.mark.django_db
def test_an_analyst_cannot_reassign():
    decision, owner_signer, *_ = _scenario()

    with pytest.raises(NotAllowed):
        escalation.decision_reassign(decision=decision, actor=owner_signer, role=DecisionRoleFactory(), reason="x")


@pytest.mark.django_db
def test_reassigning_to_a_role_with_nobody_on_call_is_refused():
    decision, *_ = _scenario()
    lead = make_user_in_group(rbac.GOVERNANCE_LEAD)

    with pytest.raises(InvalidInput, match="Nobody is on call"):
        escalation.decision_reassign(decision=decision, actor=lead, role=DecisionRoleFactory(), reason="try")


@pytest.mark.django_db
def test_a_swept_batch_moves_each_decision_as_the_single_service_would(django_capture_on_commit_callbacks):
    decisions = [_scenario()[0] for _ in range(4)]
    for d in decisions:
        DecisionRequest.objects.filter(pk=d.pk).update(deadline=timezone.now() - timedelta(seconds=1))
    last = decisions[-1]
    escalation.decision_escalate(decision_id=last.pk, from_step=0, reason=Escalation.Reason.TIMEOUT)
    DecisionRequest.objects.filter(pk=last.pk).update(deadline=timezone.now() - timedelta(seconds=1))

    with django_capture_on_commit_callbacks() as callbacks:
        moved = sweep.sweep_overdue(batch_size=3)

    assert moved == 4
    for d in decisions[:3]:
        d.refresh_from_db()
        assert (d.status, d.current_step) == (DecisionStatus.PENDING, 1)
        assert len(_holders(d)) == 2
    last.refresh_from_db()
    assert last.status == DecisionStatus.EXPIRED
    assert _holders(last) == set()
    assert Escalation.objects.count() == 5
    assert list(verify_all()) == []
    assert _dispatched(callbacks).count(ESCALATE_WHEN_DUE) == 3


def _dispatched(callbacks) -> list[str]:
    return [name for c in callbacks if isinstance(c, Dispatch) for name in c.task_names]
