"""People made eligible hear about it: email unless they turned it off, and the role's chat
webhook. Every delivery and failure is an event; a failing channel never blocks routing."""

import json
from datetime import timedelta

import pytest
from django.core import mail

from decisions.escalation import services as escalation
from decisions.models import DecisionStatus, Escalation, EventKind, NotificationPreference
from tests.decisions.factories import submit
from tests.governance.factories import (
    ApprovalPolicyFactory,
    DecisionRoleFactory,
    EscalationChainFactory,
    make_signers,
    make_staffed_action_type,
)
from tests.webhook_receiver import Receiver

pytestmark = pytest.mark.django_db


def _routed(django_capture_on_commit_callbacks, *, chat_url="", chain=None):
    action_type, role, (signer,) = make_staffed_action_type()
    role.chat_webhook_url = chat_url
    role.save(update_fields=["chat_webhook_url"])
    ApprovalPolicyFactory(action_types=[action_type], **({"escalation_chain": chain} if chain else {}))
    with django_capture_on_commit_callbacks(execute=True):
        decision = submit(action_type)
    return decision, role, signer


def _events(decision, kind):
    return list(decision.events.filter(kind=kind).order_by("seq"))


def test_an_eligible_person_gets_an_email_with_a_link_to_the_decision(django_capture_on_commit_callbacks):
    decision, _role, signer = _routed(django_capture_on_commit_callbacks)

    (message,) = mail.outbox
    assert message.to == [signer.email]
    assert f"/decisions/{decision.public_id}/" in message.body
    assert _events(decision, EventKind.NOTIFIED)[0].data["channel"] == "email"


def test_someone_who_turned_email_off_gets_none(django_capture_on_commit_callbacks):
    action_type, _role, (signer,) = make_staffed_action_type()
    NotificationPreference.objects.create(user=signer, email=False)
    ApprovalPolicyFactory(action_types=[action_type])

    with django_capture_on_commit_callbacks(execute=True):
        submit(action_type)

    assert mail.outbox == []


def test_the_roles_chat_webhook_gets_a_slack_compatible_message(django_capture_on_commit_callbacks):
    with Receiver() as chat:
        decision, role, _signer = _routed(django_capture_on_commit_callbacks, chat_url="http://placeholder")
        role.chat_webhook_url = chat.url
        role.save(update_fields=["chat_webhook_url"])
        with django_capture_on_commit_callbacks(execute=True):
            decision = submit(decision.action_type)

    (post,) = chat.received
    text = json.loads(post.body)["text"]
    assert decision.title in text
    assert str(decision.public_id) in text


def test_a_failing_chat_webhook_is_logged_and_does_not_block_routing(django_capture_on_commit_callbacks):
    decision, _role, _signer = _routed(django_capture_on_commit_callbacks, chat_url="http://127.0.0.1:9/down")

    decision.refresh_from_db()
    assert decision.status == DecisionStatus.PENDING
    failures = _events(decision, EventKind.NOTIFICATION_FAILED)
    assert len(failures) == 4  # the first attempt and three retries
    assert {f.data["channel"] for f in failures} == {"chat"}


def test_escalation_notifies_the_next_steps_people(django_capture_on_commit_callbacks):
    next_role = DecisionRoleFactory()
    (next_signer,) = make_signers(next_role, 1)
    chain = EscalationChainFactory(steps=[(next_role, 60)])
    decision, _role, _signer = _routed(django_capture_on_commit_callbacks, chain=chain)
    mail.outbox.clear()
    decision.refresh_from_db()

    with django_capture_on_commit_callbacks(execute=True):
        escalation.decision_escalate(
            decision_id=decision.pk,
            from_step=0,
            reason=Escalation.Reason.TIMEOUT,
            now=decision.deadline + timedelta(seconds=1),
        )

    assert [m.to for m in mail.outbox] == [[next_signer.email]]
