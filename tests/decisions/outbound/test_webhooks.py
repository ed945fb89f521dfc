"""Verdict webhooks: Standard Webhooks signatures, retries with every attempt logged, exactly
one accepted delivery, and nothing sent for a transaction that rolls back."""

import json

import pytest
from django.db import transaction
from standardwebhooks.webhooks import Webhook

from decisions.lifecycle.eventlog import verify_all
from decisions.models import DecisionEvent, DecisionStatus, EventKind
from decisions.outbound import webhooks
from decisions.tasks import deliver_verdict_webhook
from tests.decisions.factories import make_integration, submit
from tests.decisions.scenarios import approve
from tests.governance.factories import ApprovalPolicyFactory, make_staffed_action_type
from tests.webhook_receiver import Receiver

pytestmark = pytest.mark.django_db


def _pending_with_webhook(url):
    action_type, _role, (signer,) = make_staffed_action_type()
    ApprovalPolicyFactory(action_types=[action_type])
    integration = make_integration(action_type)
    integration.webhook_url = url
    integration.save(update_fields=["webhook_url"])
    return submit(action_type, integration=integration), signer, integration


def _attempts(decision):
    return list(
        DecisionEvent.objects.filter(
            decision=decision, kind__in=[EventKind.WEBHOOK_DELIVERED, EventKind.WEBHOOK_FAILED]
        ).order_by("seq")
    )


def test_an_approval_posts_a_verdict_whose_signature_verifies(django_capture_on_commit_callbacks):
    with Receiver() as receiver:
        decision, signer, integration = _pending_with_webhook(receiver.url)

        with django_capture_on_commit_callbacks(execute=True):
            approve(decision, signer)

    (delivery,) = receiver.received
    payload = Webhook(integration.webhook_secret).verify(delivery.body, delivery.headers)
    assert payload["type"] == "decision.approved"
    assert payload["data"]["id"] == str(decision.public_id)
    assert payload["data"]["final_action"]["action_type"] == decision.action_type.slug


def test_a_tampered_body_does_not_verify(django_capture_on_commit_callbacks):
    with Receiver() as receiver:
        decision, signer, integration = _pending_with_webhook(receiver.url)
        with django_capture_on_commit_callbacks(execute=True):
            approve(decision, signer)

    (delivery,) = receiver.received
    forged = delivery.body.replace('"approved"', '"rejected"')
    with pytest.raises(Exception, match="(?i)signature"):
        Webhook(integration.webhook_secret).verify(forged, delivery.headers)


def test_a_receiver_failing_twice_gets_one_accepted_delivery_and_every_attempt_is_logged(
    django_capture_on_commit_callbacks,
):
    with Receiver(statuses=[500, 503]) as receiver:
        decision, signer, integration = _pending_with_webhook(receiver.url)

        with django_capture_on_commit_callbacks(execute=True):
            approve(decision, signer)

    assert [r.answered for r in receiver.received] == [500, 503, 200]
    assert len(receiver.accepted) == 1
    assert len({r.headers["webhook-id"] for r in receiver.received}) == 1  # one message, retried
    attempts = _attempts(decision)
    assert [(e.kind, e.data["attempt"], e.data["status_code"]) for e in attempts] == [
        (EventKind.WEBHOOK_FAILED, 1, 500),
        (EventKind.WEBHOOK_FAILED, 2, 503),
        (EventKind.WEBHOOK_DELIVERED, 3, 200),
    ]
    assert list(verify_all()) == []


def test_a_second_delivery_of_the_task_after_success_sends_nothing(django_capture_on_commit_callbacks):
    with Receiver() as receiver:
        decision, signer, integration = _pending_with_webhook(receiver.url)
        with django_capture_on_commit_callbacks(execute=True):
            approve(decision, signer)

        deliver_verdict_webhook.apply(args=[decision.pk])

    assert len(receiver.received) == 1
    assert len(_attempts(decision)) == 1


def test_a_rolled_back_transaction_sends_nothing(django_capture_on_commit_callbacks):
    with Receiver() as receiver:
        decision, signer, integration = _pending_with_webhook(receiver.url)

        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            try:
                with transaction.atomic():
                    approve(decision, signer)
                    raise RuntimeError("the caller's transaction fails after the verdict")
            except RuntimeError:
                pass

    assert callbacks == []
    assert receiver.received == []
    decision.refresh_from_db()
    assert decision.status == DecisionStatus.PENDING


def test_an_unreachable_receiver_is_logged_as_failed_attempts_and_gives_up():
    decision, signer, _integration = _pending_with_webhook("http://127.0.0.1:9/unreachable")
    approve(decision, signer)

    deliver_verdict_webhook.apply(args=[decision.pk])

    attempts = _attempts(decision)
    assert len(attempts) == webhooks.MAX_ATTEMPTS
    assert {e.kind for e in attempts} == {EventKind.WEBHOOK_FAILED}
    assert attempts[0].data["status_code"] is None


def test_an_integration_without_a_webhook_url_is_not_called():
    decision, signer, integration = _pending_with_webhook("")
    approve(decision, signer)

    assert webhooks.deliver(decision.pk, attempt=1) is None
    assert _attempts(decision) == []


def test_the_payload_is_the_verdict_not_the_evidence():
    decision, signer, _integration = _pending_with_webhook("")
    approve(decision, signer)
    decision.refresh_from_db()

    payload = webhooks.verdict_payload(decision)

    assert set(payload["data"]) == {
        "id",
        "status",
        "action_type",
        "incident_ref",
        "final_action",
        "decided_at",
        "payload_version",
        "break_glass",
    }
    json.dumps(payload)
