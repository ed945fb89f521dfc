"""No SSRF through verdict webhooks or chat: refused when saved and again when sent, after DNS
resolution, and the request goes to the address that was checked (no rebinding)."""

import socket

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from decisions.models import DecisionEvent, EventKind
from decisions.outbound import notifications
from decisions.outbound.http import post
from governance import rbac
from governance.models import DecisionRole
from tests.decisions.factories import make_integration, submit
from tests.decisions.scenarios import approve
from tests.governance.factories import ApprovalPolicyFactory, make_staffed_action_type, make_user_in_group
from tests.helpers import admin_form_data
from tests.webhook_receiver import Receiver

pytestmark = pytest.mark.django_db


@pytest.fixture
def guarded(settings):
    settings.OUTBOUND_ALLOW_PRIVATE = False
    settings.OUTBOUND_ALLOWED_HOSTS = []
    return settings


def test_an_integration_webhook_on_loopback_is_refused_at_save(guarded):
    integration = make_integration()
    integration.webhook_url = "http://127.0.0.1:8080/hooks"

    with pytest.raises(ValidationError) as refused:
        integration.full_clean()

    assert "webhook_url" in refused.value.message_dict


def test_a_chat_webhook_on_the_metadata_address_is_refused_in_the_admin(guarded, client):
    role = DecisionRole.objects.create(slug="ssrf-role", name="SSRF role")
    client.force_login(make_user_in_group(rbac.GOVERNANCE_LEAD))
    url = reverse("admin:governance_decisionrole_change", args=[role.pk])
    data = admin_form_data(client.get(url), chat_webhook_url="http://169.254.169.254/latest/meta-data/")

    response = client.post(url, data, follow=False)

    assert response.status_code == 200
    assert "OUTBOUND_ALLOWED_HOSTS" in response.content.decode()
    role.refresh_from_db()
    assert role.chat_webhook_url == ""


def test_an_allowlisted_receiver_is_accepted_at_save(guarded):
    guarded.OUTBOUND_ALLOWED_HOSTS = ["127.0.0.0/8"]
    integration = make_integration()
    integration.webhook_url = "http://127.0.0.1:8080/hooks"

    integration.full_clean()


def test_a_verdict_webhook_saved_before_is_refused_at_delivery(settings, django_capture_on_commit_callbacks):
    action_type, _role, (signer,) = make_staffed_action_type()
    ApprovalPolicyFactory(action_types=[action_type])
    integration = make_integration(action_type)
    with Receiver() as receiver:
        integration.webhook_url = receiver.url
        integration.save(update_fields=["webhook_url"])
        decision = submit(action_type, integration=integration)
        settings.OUTBOUND_ALLOW_PRIVATE = False

        with django_capture_on_commit_callbacks(execute=True):
            approve(decision, signer)

    assert receiver.received == []
    failures = DecisionEvent.objects.filter(decision=decision, kind=EventKind.WEBHOOK_FAILED)
    assert failures.exists()
    assert all(f.data["error"].startswith("refused:") for f in failures)


def test_a_chat_webhook_on_loopback_is_refused_at_delivery(settings, django_capture_on_commit_callbacks):
    action_type, role, _signers = make_staffed_action_type()
    ApprovalPolicyFactory(action_types=[action_type])
    with Receiver() as chat:
        role.chat_webhook_url = chat.url
        role.save(update_fields=["chat_webhook_url"])
        decision = submit(action_type)
        settings.OUTBOUND_ALLOW_PRIVATE = False

        assert notifications.send_chat(decision, role) is False

    assert chat.received == []
    failure = decision.events.filter(kind=EventKind.NOTIFICATION_FAILED).latest("seq")
    assert failure.data["error"].startswith("refused:")


def test_the_request_goes_to_the_checked_address_even_if_dns_answers_differently_later(guarded, monkeypatch):
    """DNS rebinding: the first answer is the allowlisted receiver, every later one an internal
    address. Only one resolution happens, and the connection uses its checked answer."""
    guarded.OUTBOUND_ALLOWED_HOSTS = ["127.0.0.1"]
    real = socket.getaddrinfo
    asked = []

    def rebinding(host, port, *args, **kwargs):
        if host != "rebind.example.test":
            return real(host, port, *args, **kwargs)
        asked.append(host)
        address = "127.0.0.1" if len(asked) == 1 else "10.255.255.1"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    with Receiver() as receiver:
        port = receiver.server.server_address[1]
        attempt = post(f"http://rebind.example.test:{port}/hooks", b"{}", {"content-type": "application/json"})

    assert attempt.ok
    assert asked == ["rebind.example.test"]
    assert receiver.received[0].headers["host"] == f"rebind.example.test:{port}"
