"""The outbox end to end: a real worker and beat on a real Redis, the decisions in PostgreSQL.
A worker killed mid-delivery and a broker that is down while people submit and sign lose
nothing and do nothing twice (where the receiver can tell, it gets the same webhook-id)."""

import threading
import time

import pytest
from rest_framework.test import APIClient

from decisions import integrations, queueing
from decisions.models import DecisionRequest, DecisionStatus, EventKind, OutboxMessage
from decisions.outbox import relay, store
from tests.decisions.factories import make_integration, submit
from tests.decisions.scenarios import approve
from tests.e2e.harness import wait_until
from tests.governance.factories import ApprovalPolicyFactory, make_staffed_action_type
from tests.webhook_receiver import Receiver

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

SETTLE_SECONDS = 4.0  # longer than the relay's redelivery delay (3 s, tests/e2e/conftest.py)
APPROVE = {"verdict": "approve", "reason_code": "evidence_sufficient", "rationale": "EDR shows C2 beaconing."}


def _body(action_type, n: int) -> dict:
    return {
        "action_type": action_type.slug,
        "title": f"Isolate laptop-{n:03d}",
        "recommendation": "Isolate the host from the network: beaconing to a known C2 domain.",
        "target": {"host": f"laptop-{n:03d}"},
        "ai_confidence": 0.87,
        "blast_radius": "medium",
        "severity": "high",
        "incident_ref": f"INC-{n}",
        "evidence": {"alerts": ["EDR-77812"]},
        "model": {"name": "triage-agent", "version": "2026.11"},
    }


def _events(decision, kind) -> list:
    return list(decision.events.filter(kind=kind).order_by("seq"))


def test_a_worker_killed_mid_delivery_leaves_the_webhook_to_another_which_sends_the_same_message(
    send_tasks, celery_processes
):
    release = threading.Event()
    with Receiver(hold_first=release) as receiver:
        action_type, _role, (signer,) = make_staffed_action_type()
        ApprovalPolicyFactory(action_types=[action_type])
        integration = make_integration(action_type)
        integration.webhook_url = receiver.url
        integration.save(update_fields=["webhook_url"])
        first_worker, _beat = celery_processes.start_together("worker", "beat")
        decision = submit(action_type, integration=integration)

        approve(decision, signer)
        wait_until(lambda: receiver.received, what="the first worker to POST the verdict")
        first_worker.kill()  # mid-delivery: the receiver has the request, the worker never hears back
        release.set()
        celery_processes.start("worker")
        wait_until(lambda: len(receiver.accepted) == 2, timeout=30, what="the webhook to be delivered again")
        time.sleep(SETTLE_SECONDS)

    first, second = receiver.received
    assert first.headers["webhook-id"] == second.headers["webhook-id"]  # one message: the receiver drops the copy
    assert len(receiver.received) == 2
    assert len(_events(decision, EventKind.WEBHOOK_DELIVERED)) == 1
    row = OutboxMessage.objects.get(task_name=queueing.DELIVER_VERDICT_WEBHOOK)
    assert (row.publications, row.done_at is not None) == (2, True)


def test_with_the_broker_down_intake_and_sign_off_answer_and_every_notification_and_webhook_goes_out_once_after(
    send_tasks, spare_redis, celery_processes
):
    with Receiver() as chat, Receiver() as hook:
        action_type, role, (signer,) = make_staffed_action_type()
        role.chat_webhook_url = chat.url
        role.save(update_fields=["chat_webhook_url"])
        ApprovalPolicyFactory(action_types=[action_type], time_to_act_seconds=3600)
        integration = make_integration(action_type)
        integration.webhook_url = hook.url
        integration.save(update_fields=["webhook_url"])
        _row, key = integrations.integration_key_create(integration=integration, name="primary")
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
        person = APIClient()
        person.force_authenticate(signer)
        send_tasks.use(spare_redis.url)
        spare_redis.stop()

        started = time.monotonic()
        waiting = api.post("/api/v1/decisions/", _body(action_type, 1), format="json")
        signed = api.post("/api/v1/decisions/", _body(action_type, 2), format="json")
        sign_off = person.post(f"/api/v1/decisions/{signed.json()['id']}/signoffs/", APPROVE, format="json")
        elapsed = time.monotonic() - started

        assert (waiting.status_code, signed.status_code, sign_off.status_code) == (201, 201, 201)
        assert elapsed < 5, f"three requests waited {elapsed:.1f} s on the missing broker"
        pending = DecisionRequest.objects.get(public_id=waiting.json()["id"])
        approved = DecisionRequest.objects.get(public_id=signed.json()["id"])
        assert approved.status == DecisionStatus.APPROVED
        assert store.backlog()[0] == 7  # 2 x (email, chat, deadline) + the verdict webhook
        assert (chat.received, hook.received) == ([], [])

        spare_redis.start()
        celery_processes.start_together("worker", "beat", broker_url=spare_redis.url)
        wait_until(lambda: store.backlog()[0] == 0, timeout=30, what="the relay to publish the backlog")
        wait_until(lambda: hook.accepted and chat.accepted, timeout=30, what="the webhook and the chat message")
        wait_until(lambda: len(_events(pending, EventKind.NOTIFIED)) == 2, what="the email")
        time.sleep(SETTLE_SECONDS)

    assert len(chat.received) == 1  # for the decision still waiting; the approved one needs nobody
    assert {e.data["channel"] for e in _events(pending, EventKind.NOTIFIED)} == {"email", "chat"}
    assert len(_events(pending, EventKind.NOTIFIED)) == 2
    assert _events(approved, EventKind.NOTIFIED) == []
    assert len(hook.received) == 1
    assert len(_events(approved, EventKind.WEBHOOK_DELIVERED)) == 1


def test_handed_off_to_a_worker_every_side_effect_of_a_submission_goes_out_once(send_tasks, celery_processes, settings):
    settings.OUTBOX_DISPATCH = "worker"
    with Receiver() as chat:
        action_type, role, (signer,) = make_staffed_action_type()
        role.chat_webhook_url = chat.url
        role.save(update_fields=["chat_webhook_url"])
        ApprovalPolicyFactory(action_types=[action_type], time_to_act_seconds=3600)
        integration = make_integration(action_type)
        _row, key = integrations.integration_key_create(integration=integration, name="primary")
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
        celery_processes.start("worker")
        try:
            answer = api.post("/api/v1/decisions/", _body(action_type, 1), format="json")
            decision = DecisionRequest.objects.get(public_id=answer.json()["id"])
            wait_until(lambda: store.backlog()[0] == 0, timeout=30, what="the worker to publish the handed-off rows")
            wait_until(lambda: len(_events(decision, EventKind.NOTIFIED)) == 2, what="the email and the chat message")
            time.sleep(SETTLE_SECONDS)
        finally:
            relay.dispatcher.stop()

    assert answer.status_code == 201
    assert len(chat.received) == 1
    rows = OutboxMessage.objects.all()
    assert sorted(row.task_name for row in rows) == sorted(
        [queueing.NOTIFY_ELIGIBLE, queueing.NOTIFY_ELIGIBLE, queueing.ESCALATE_WHEN_DUE]
    )
    assert all(row.publications == 1 for row in rows)
