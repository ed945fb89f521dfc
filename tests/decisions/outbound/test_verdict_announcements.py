"""Every way a decision ends announces its verdict, at intake included (README: approved,
overridden, rejected, expired, cancelled, auto-approved)."""

import pytest
from standardwebhooks.webhooks import Webhook

from decisions.models import DecisionStatus
from tests.decisions.factories import make_integration, submit
from tests.governance.factories import ActionTypeFactory, ApprovalPolicyFactory
from tests.webhook_receiver import Receiver

pytestmark = pytest.mark.django_db


def test_a_decision_auto_approved_at_intake_posts_its_verdict(django_capture_on_commit_callbacks):
    action_type = ActionTypeFactory(automation=True)
    ApprovalPolicyFactory(action_types=[action_type], allow_auto_approval=True)
    integration = make_integration(action_type)
    with Receiver() as receiver:
        integration.webhook_url = receiver.url
        integration.save(update_fields=["webhook_url"])

        with django_capture_on_commit_callbacks(execute=True):
            decision = submit(action_type, integration=integration)

    assert decision.status == DecisionStatus.AUTO_APPROVED
    (delivery,) = receiver.received
    payload = Webhook(integration.webhook_secret).verify(delivery.body, delivery.headers)
    assert payload["type"] == "decision.auto_approved"
    assert payload["data"]["final_action"]["action_type"] == action_type.slug


def test_a_decision_expired_at_intake_posts_its_verdict(django_capture_on_commit_callbacks):
    action_type = ActionTypeFactory()  # owned by nobody, no chain: it expires at once (fail safe)
    integration = make_integration(action_type)
    with Receiver() as receiver:
        integration.webhook_url = receiver.url
        integration.save(update_fields=["webhook_url"])

        with django_capture_on_commit_callbacks(execute=True):
            decision = submit(action_type, integration=integration)

    assert decision.status == DecisionStatus.EXPIRED
    (delivery,) = receiver.received
    assert Webhook(integration.webhook_secret).verify(delivery.body, delivery.headers)["type"] == "decision.expired"
