"""Every security-relevant admin change asks for a reason (and takes a ticket), as ownership
does: action types, roles, certifications, users' groups, integration API keys. The audit log
shows them."""

from datetime import timedelta

import pytest
from auditlog.models import LogEntry
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import timezone

from decisions import integrations
from decisions.models import IntegrationAPIKey
from governance import rbac
from tests.decisions.factories import make_integration
from tests.governance.factories import (
    ActionTypeFactory,
    CertificationFactory,
    DecisionRoleFactory,
    UserFactory,
)
from tests.helpers import admin_form_data

pytestmark = pytest.mark.django_db


def _latest_update(obj) -> LogEntry:
    return LogEntry.objects.get_for_object(obj).filter(action=LogEntry.Action.UPDATE).latest("timestamp")


CASES = {
    "action type": (ActionTypeFactory, "governance_actiontype", {"description": "Now with a runbook"}),
    "role": (DecisionRoleFactory, "governance_decisionrole", {"description": "Owns containment"}),
    "certification": (CertificationFactory, "governance_certification", {"evidence": "Exam 2026-11"}),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_a_change_without_a_reason_is_refused_and_saves_nothing(client, lead, case):
    factory, admin_name, change = CASES[case]
    obj = factory()
    url = reverse(f"admin:{admin_name}_change", args=[obj.pk])
    before = LogEntry.objects.count()

    response = client.post(url, admin_form_data(client.get(url), **change, change_reason=""))

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["change_reason"] == ["This field is required."]
    assert LogEntry.objects.count() == before


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_a_change_with_a_reason_is_logged_with_it_and_the_ticket(client, lead, case):
    factory, admin_name, change = CASES[case]
    obj = factory()
    url = reverse(f"admin:{admin_name}_change", args=[obj.pk])

    response = client.post(
        url, admin_form_data(client.get(url), **change, change_reason="Audit finding 7", ticket_ref="SEC-7")
    )

    assert response.status_code == 302
    entry = _latest_update(obj)
    assert entry.actor == lead
    assert set(change) <= set(entry.changes_dict)
    assert entry.additional_data == {"reason": "Audit finding 7", "ticket_ref": "SEC-7"}


def test_the_audit_log_list_shows_the_reason_and_ticket(client, lead):
    role = DecisionRoleFactory()
    url = reverse("admin:governance_decisionrole_change", args=[role.pk])
    client.post(
        url, admin_form_data(client.get(url), description="x", change_reason="Audit finding 7", ticket_ref="SEC-7")
    )

    page = client.get(reverse("admin:auditlog_logentry_changelist")).content.decode()

    assert "Audit finding 7 [SEC-7]" in page


@pytest.fixture
def operator(client):
    user = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(user)
    return user


def test_a_users_groups_change_needs_a_reason_and_is_logged_with_it(client, operator):
    person = UserFactory()
    lead_group = Group.objects.get(name=rbac.GOVERNANCE_LEAD)
    url = reverse("admin:auth_user_change", args=[person.pk])

    refused = client.post(url, admin_form_data(client.get(url), groups=[str(lead_group.pk)], change_reason=""))
    assert refused.status_code == 200
    assert not person.groups.exists()

    saved = client.post(
        url, admin_form_data(client.get(url), groups=[str(lead_group.pk)], change_reason="Promoted", ticket_ref="HR-3")
    )

    assert saved.status_code == 302
    assert list(person.groups.all()) == [lead_group]
    entry = LogEntry.objects.get_for_object(person).filter(changes__has_key="groups").get()
    assert entry.changes["groups"]["objects"] == [rbac.GOVERNANCE_LEAD]
    assert entry.additional_data == {"reason": "Promoted", "ticket_ref": "HR-3"}
    assert entry.actor == operator


def test_revoking_an_integration_key_needs_a_reason_and_is_logged(client, lead):
    key = integrations.integration_key_create(
        integration=make_integration(), name="ci", expiry_date=timezone.now() + timedelta(days=30)
    ).row
    url = reverse("admin:decisions_integrationapikey_change", args=[key.pk])

    refused = client.post(url, admin_form_data(client.get(url), revoked="on", change_reason=""))
    assert refused.status_code == 200
    assert IntegrationAPIKey.objects.get(pk=key.pk).revoked is False

    saved = client.post(url, admin_form_data(client.get(url), revoked="on", change_reason="Key leaked in CI logs"))

    assert saved.status_code == 302
    entry = _latest_update(IntegrationAPIKey.objects.get(pk=key.pk))
    assert entry.changes_dict["revoked"] == ["False", "True"]
    assert entry.additional_data == {"reason": "Key leaked in CI logs"}


def test_the_audit_log_keeps_a_chat_webhooks_host_but_never_its_token(client, lead):
    role = DecisionRoleFactory()
    url = reverse("admin:governance_decisionrole_change", args=[role.pk])
    hook = "https://hooks.slack.example/services/T000/B000/XXXXsecretTOKENvalue"

    client.post(url, admin_form_data(client.get(url), chat_webhook_url=hook, change_reason="Announce in #soc"))

    entry = _latest_update(role)
    _old, new = entry.changes_dict["chat_webhook_url"]
    assert new == "https://hooks.slack.example/… (redacted)"
    assert "TOKEN" not in str(entry.changes)
    assert "B000" not in str(entry.changes)
