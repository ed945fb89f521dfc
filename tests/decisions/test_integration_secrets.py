"""Webhook signing secrets: encrypted at rest, shown once to the lead who made them, never to an
auditor, never in the audit log; a change to an integration states its reason."""

from __future__ import annotations

import importlib
import io
from types import SimpleNamespace

import pytest
from auditlog.models import LogEntry
from cryptography.fernet import Fernet
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.management import call_command
from django.db import connection
from django.urls import reverse

from decisions import integrations
from decisions.errors import InvalidInput, NotAllowed
from decisions.models import Integration
from decisions.models.fields import TOKEN_PREFIX, decrypt, encrypt
from governance import rbac
from tests.decisions.factories import make_integration
from tests.governance.factories import make_user_in_group
from tests.helpers import admin_form_data

pytestmark = pytest.mark.django_db

migration = importlib.import_module("decisions.migrations.0018_integration_webhook_secret_encrypted")


def _stored(integration: Integration) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT webhook_secret FROM decisions_integration WHERE id = %s", [integration.pk])
        return cursor.fetchone()[0]


def _set_stored(integration: Integration, value: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute("UPDATE decisions_integration SET webhook_secret = %s WHERE id = %s", [value, integration.pk])


def _audit_text(integration: Integration) -> str:
    return " ".join(str(e.changes) + str(e.additional_data) for e in LogEntry.objects.get_for_object(integration))


@pytest.fixture
def lead(client):
    user = make_user_in_group(rbac.GOVERNANCE_LEAD)
    client.force_login(user)
    return user


def _change_url(integration: Integration) -> str:
    return reverse("admin:decisions_integration_change", args=[integration.pk])


def test_the_secret_is_stored_encrypted_and_reads_back_in_clear():
    integration = make_integration()
    plain = Integration.objects.get(pk=integration.pk).webhook_secret

    stored = _stored(integration)

    assert plain.startswith("whsec_")
    assert stored.startswith(TOKEN_PREFIX)
    assert plain not in stored
    assert decrypt(stored) == plain


def test_a_new_key_first_still_reads_secrets_encrypted_with_the_old_one(settings):
    old = Fernet.generate_key().decode()
    settings.SECRET_ENCRYPTION_KEYS = [old]
    integration = make_integration()
    plain = Integration.objects.get(pk=integration.pk).webhook_secret

    settings.SECRET_ENCRYPTION_KEYS = [Fernet.generate_key().decode(), old]

    assert Integration.objects.get(pk=integration.pk).webhook_secret == plain


def test_the_migration_encrypts_rows_stored_in_clear_and_leaves_encrypted_ones():
    clear, already = make_integration(), make_integration()
    _set_stored(clear, "whsec_c2VjcmV0LXN0b3JlZC1pbi1jbGVhci0wMTIzNDU2Nzg5")
    encrypted_before = _stored(already)

    migration.encrypt_existing(None, SimpleNamespace(connection=connection))

    assert _stored(clear).startswith(TOKEN_PREFIX)
    assert Integration.objects.get(pk=clear.pk).webhook_secret == "whsec_c2VjcmV0LXN0b3JlZC1pbi1jbGVhci0wMTIzNDU2Nzg5"
    assert _stored(already) == encrypted_before


def test_the_migration_reverses_to_clear_text():
    integration = make_integration()
    plain = Integration.objects.get(pk=integration.pk).webhook_secret

    migration.decrypt_existing(None, SimpleNamespace(connection=connection))

    assert _stored(integration) == plain
    _set_stored(integration, encrypt(plain))


def test_the_audit_log_never_holds_the_secret_or_part_of_it(lead):
    integration = make_integration()

    integrations.integration_rotate_secret(actor=lead, integration=integration, reason="Suspected leak")
    plain = Integration.objects.get(pk=integration.pk).webhook_secret

    text = _audit_text(integration)
    assert "webhook_secret_rotated_at" in text
    assert plain[-12:] not in text
    assert "webhook_secret'" not in text
    assert '"webhook_secret"' not in text


def test_the_auditor_never_sees_the_secret(client):
    integration = make_integration()
    auditor = make_user_in_group(rbac.AUDITOR)
    client.force_login(auditor)

    page = client.get(_change_url(integration)).content.decode()

    assert "Stored encrypted" in page
    assert integration.webhook_secret not in page
    assert integration.webhook_secret[6:20] not in page


def test_the_lead_who_made_it_sees_it_once_at_creation_and_never_again(client, lead):
    add_url = reverse("admin:decisions_integration_add")
    data = admin_form_data(
        client.get(add_url), name="New SOAR", team_contact="soar@example.test", change_reason="Onboard the SOAR"
    )

    created = client.post(add_url, data)

    integration = Integration.objects.get(name="New SOAR")
    assert created.status_code == 200
    assert "no-store" in created["Cache-Control"]
    assert integration.webhook_secret in created.content.decode()
    assert integration.webhook_secret not in client.get(_change_url(integration)).content.decode()
    entry = LogEntry.objects.get_for_object(integration).get(action=LogEntry.Action.CREATE)
    assert entry.additional_data["reason"] == "Onboard the SOAR"


def test_rotation_asks_for_a_reason_then_shows_the_new_secret_once(client, lead):
    integration = make_integration()
    old = Integration.objects.get(pk=integration.pk).webhook_secret
    changelist = reverse("admin:decisions_integration_changelist")
    chosen = {"action": "rotate_webhook_secret", ACTION_CHECKBOX_NAME: [str(integration.pk)]}

    asked = client.post(changelist, chosen)
    refused = client.post(changelist, {**chosen, "confirm": "1", "change_reason": ""})
    done = client.post(
        changelist, {**chosen, "confirm": "1", "change_reason": "Receiver leaked it", "ticket_ref": "SEC-9"}
    )

    new = Integration.objects.get(pk=integration.pk).webhook_secret
    assert "Reason for this change" in asked.content.decode()
    assert "This field is required" in refused.content.decode()
    assert new != old
    assert new in done.content.decode()
    assert "no-store" in done["Cache-Control"]
    entry = LogEntry.objects.get_for_object(integration).filter(action=LogEntry.Action.UPDATE).latest("timestamp")
    assert entry.additional_data == {"reason": "Receiver leaked it", "ticket_ref": "SEC-9"}
    assert entry.actor == lead


def test_the_auditor_cannot_rotate_a_secret(client):
    integration = make_integration()
    old = Integration.objects.get(pk=integration.pk).webhook_secret
    client.force_login(make_user_in_group(rbac.AUDITOR))
    changelist = reverse("admin:decisions_integration_changelist")

    client.post(
        changelist,
        {
            "action": "rotate_webhook_secret",
            ACTION_CHECKBOX_NAME: [str(integration.pk)],
            "confirm": "1",
            "change_reason": "x",
        },
    )

    assert Integration.objects.get(pk=integration.pk).webhook_secret == old


@pytest.mark.parametrize(
    ("field", "value"),
    [("webhook_url", "https://soar.example.test/hooks"), ("rate_limit_per_minute", "5"), ("max_pending", "7")],
)
def test_an_integration_change_needs_a_reason_and_logs_it(client, lead, field, value):
    integration = make_integration()
    url = _change_url(integration)

    refused = client.post(url, admin_form_data(client.get(url), **{field: value}, change_reason=""))
    saved = client.post(
        url, admin_form_data(client.get(url), **{field: value}, change_reason="New receiver", ticket_ref="CHG-1")
    )

    assert refused.status_code == 200
    assert saved.status_code == 302
    entry = LogEntry.objects.get_for_object(integration).filter(action=LogEntry.Action.UPDATE).latest("timestamp")
    assert field in entry.changes_dict
    assert entry.additional_data == {"reason": "New receiver", "ticket_ref": "CHG-1"}


def test_rotating_the_encryption_key_re_encrypts_so_the_old_key_can_go(settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.SECRET_ENCRYPTION_KEYS = [old]
    integration = make_integration()
    plain = Integration.objects.get(pk=integration.pk).webhook_secret
    settings.SECRET_ENCRYPTION_KEYS = [new, old]
    entries = LogEntry.objects.count()

    call_command("rotate_secret_encryption", stdout=io.StringIO())

    settings.SECRET_ENCRYPTION_KEYS = [new]
    assert Integration.objects.get(pk=integration.pk).webhook_secret == plain
    assert LogEntry.objects.count() == entries


def test_only_someone_who_may_change_integrations_rotates_a_secret():
    integration = make_integration()
    before = Integration.objects.get(pk=integration.pk).webhook_secret

    with pytest.raises(NotAllowed):
        integrations.integration_rotate_secret(
            actor=make_user_in_group(rbac.AUDITOR), integration=integration, reason="Curious"
        )

    assert Integration.objects.get(pk=integration.pk).webhook_secret == before


def test_rotating_a_secret_needs_a_reason_which_the_audit_log_keeps(lead):
    integration = make_integration()

    with pytest.raises(InvalidInput):
        integrations.integration_rotate_secret(actor=lead, integration=integration, reason=" ")
    integrations.integration_rotate_secret(actor=lead, integration=integration, reason="Leaked", ticket_ref="SEC-9")

    assert "Leaked" in _audit_text(integration)
    assert "SEC-9" in _audit_text(integration)
