"""Escalation end to end: a real Celery worker and celery beat on a real Redis broker, the
decisions in PostgreSQL. Deadlines pass by themselves, tasks get lost, the broker goes away;
each step still moves exactly once."""

import time

import pytest
from django.db import transaction
from rest_framework.test import APIClient
from standardwebhooks.webhooks import Webhook

from decisions import integrations
from decisions.lifecycle import signing
from decisions.models import DecisionRequest, DecisionRequestUserObjectPermission, DecisionStatus, Escalation, EventKind
from tests.decisions.factories import make_integration, submit
from tests.e2e.harness import wait_until
from tests.governance.factories import (
    ApprovalPolicyFactory,
    DecisionRoleFactory,
    EscalationChainFactory,
    make_signers,
    make_staffed_action_type,
)
from tests.webhook_receiver import Receiver

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

DEADLINE_TASK = "decisions.tasks.escalate_when_due"
LONG_WAIT = 600  # a step nobody should reach the end of during a test
SETTLE_SECONDS = 2.0  # two more sweeps (every second) that must not move anything again


def _escalating_action_type(*, time_to_act, steps):
    """A staffed action type whose policy gives ``time_to_act`` seconds, then the chain ``steps``."""
    action_type, _owner_role, _owner_signers = make_staffed_action_type()
    chain = EscalationChainFactory(steps=steps)
    ApprovalPolicyFactory(action_types=[action_type], escalation_chain=chain, time_to_act_seconds=time_to_act)
    return action_type


def _step(decision):
    return DecisionRequest.objects.values_list("current_step", flat=True).get(pk=decision.pk)


def _status(decision):
    return DecisionRequest.objects.values_list("status", flat=True).get(pk=decision.pk)


def _escalated_from(decision):
    return list(Escalation.objects.filter(decision=decision).order_by("from_step").values_list("from_step", flat=True))


def test_a_two_second_step_escalates_by_itself_and_the_next_role_can_sign(send_tasks, worker_and_beat):
    next_role = DecisionRoleFactory()
    (next_signer,) = make_signers(next_role)
    # The next step is long on purpose: the signature must not race that step's own deadline.
    action_type = _escalating_action_type(time_to_act=2, steps=[(next_role, LONG_WAIT)])
    decision = submit(action_type)

    wait_until(lambda: _step(decision) == 1, what="the decision to reach step 1")
    signing.decision_sign_off(
        decision=decision, actor=next_signer, verdict="approve", reason_code="evidence_sufficient", rationale="Seen."
    )

    decision.refresh_from_db()
    assert decision.status == DecisionStatus.APPROVED
    assert _escalated_from(decision) == [0]


def test_the_final_step_expires_the_decision_and_the_webhook_fires(send_tasks, worker_and_beat):
    next_role = DecisionRoleFactory()
    make_signers(next_role)
    action_type = _escalating_action_type(time_to_act=1, steps=[(next_role, 1)])
    with Receiver() as receiver:
        integration = make_integration(action_type)
        integration.webhook_url = receiver.url
        integration.save(update_fields=["webhook_url"])
        decision = submit(action_type, integration=integration)

        wait_until(lambda: _status(decision) == DecisionStatus.EXPIRED, what="the decision to expire")
        (delivery,) = wait_until(lambda: receiver.accepted, what="the verdict webhook")

    payload = Webhook(integration.webhook_secret).verify(delivery.body, delivery.headers)
    assert payload["type"] == "decision.expired"
    assert payload["data"]["id"] == str(decision.public_id)
    assert payload["data"]["final_action"] is None


def test_an_empty_step_is_skipped_at_once(send_tasks, worker_and_beat):
    empty_role, final_role = DecisionRoleFactory(), DecisionRoleFactory()
    (final_signer,) = make_signers(final_role)
    action_type = _escalating_action_type(time_to_act=1, steps=[(empty_role, LONG_WAIT), (final_role, LONG_WAIT)])
    decision = submit(action_type)

    wait_until(lambda: _step(decision) == 2, what="the decision to reach step 2")

    gaps = decision.events.filter(kind=EventKind.OWNERSHIP_GAP)
    assert [e.data["role"]["id"] for e in gaps] == [empty_role.pk]
    moves = list(decision.events.filter(kind=EventKind.ESCALATED).order_by("seq"))
    assert [(e.data["from_step"], e.data["to_step"]) for e in moves] == [(0, 1), (1, 2)]
    assert moves[0].at == moves[1].at  # the empty step was not waited for
    assert _escalated_from(decision) == [0]  # one timed move; the skip is part of it
    assert DecisionRequestUserObjectPermission.objects.filter(content_object=decision, user=final_signer).exists()


def test_a_worker_killed_with_sigkill_while_holding_the_task_does_not_stop_the_escalation(
    send_tasks, broker, celery_processes
):
    next_role = DecisionRoleFactory()
    make_signers(next_role)
    action_type = _escalating_action_type(time_to_act=3, steps=[(next_role, LONG_WAIT)])
    first_worker, _beat = celery_processes.start_together("worker", "beat")
    decision = submit(action_type)
    # The worker fetches the deadline task at once and holds it, unacknowledged, until its ETA.
    (lost_task,) = wait_until(
        lambda: [i for i, name in broker.held_tasks().items() if name == DEADLINE_TASK],
        what="worker 1 to hold the deadline task",
    )

    first_worker.kill()
    assert _step(decision) == 0, "worker 1 ran the deadline task before it was killed"
    celery_processes.start("worker")
    wait_until(lambda: _step(decision) == 1, what="the sweep to escalate the decision")
    time.sleep(SETTLE_SECONDS)

    assert _escalated_from(decision) == [0]
    assert decision.events.filter(kind=EventKind.ESCALATED).count() == 1
    assert lost_task in broker.held_tasks(), "the lost task came back: the sweep was not put to the test"


def test_with_the_broker_stopped_a_submission_still_answers_201_and_escalates_once_when_it_is_back(
    send_tasks, spare_redis, celery_processes
):
    next_role = DecisionRoleFactory()
    make_signers(next_role)
    action_type = _escalating_action_type(time_to_act=1, steps=[(next_role, LONG_WAIT)])
    integration = make_integration(action_type)
    _row, key = integrations.integration_key_create(integration=integration, name="primary")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    send_tasks.use(spare_redis.url)
    spare_redis.stop()

    started = time.monotonic()
    response = client.post("/api/v1/decisions/", _body(action_type), format="json")
    elapsed = time.monotonic() - started

    assert response.status_code == 201, response.content
    assert elapsed < 3, f"the submission waited {elapsed:.1f} s on the missing broker"
    decision = DecisionRequest.objects.get(public_id=response.json()["id"])
    spare_redis.start()
    celery_processes.start_together("worker", "beat", broker_url=spare_redis.url)
    wait_until(lambda: _step(decision) == 1, what="the sweep to escalate the decision")
    time.sleep(SETTLE_SECONDS)
    assert _escalated_from(decision) == [0]
    assert decision.events.filter(kind=EventKind.ESCALATED).count() == 1


def test_a_transaction_that_rolls_back_enqueues_nothing(send_tasks, broker):
    action_type = _escalating_action_type(time_to_act=60, steps=[(DecisionRoleFactory(), LONG_WAIT)])
    integration = make_integration(action_type)

    with pytest.raises(RuntimeError, match="roll back"):
        _submit_and_roll_back(action_type, integration)

    assert broker.client.dbsize() == 0
    assert not DecisionRequest.objects.exists()
    submit(action_type, integration=integration)  # the control: a commit does reach this broker
    assert DEADLINE_TASK in broker.queued_tasks()


def _submit_and_roll_back(action_type, integration) -> None:
    with transaction.atomic():
        submit(action_type, integration=integration)
        raise RuntimeError("roll back")


def _body(action_type) -> dict:
    return {
        "action_type": action_type.slug,
        "title": "Isolate laptop-042",
        "recommendation": "Isolate the host from the network: beaconing to a known C2 domain.",
        "target": {"host": "laptop-042"},
        "ai_confidence": 0.87,
        "blast_radius": "medium",
        "severity": "high",
        "incident_ref": "INC-1042",
        "evidence": {"alerts": ["EDR-77812"]},
        "model": {"name": "triage-agent", "version": "2026.11"},
    }
