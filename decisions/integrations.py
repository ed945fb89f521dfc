"""Integrations and the credentials that call the API: provisioning (with a service account that
can never sign), webhook signing secrets, integration API keys, personal tokens."""

from __future__ import annotations

import base64
import secrets
from datetime import datetime, timedelta
from typing import NamedTuple

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify
from rest_framework_api_key.models import AbstractAPIKey

from decisions.actors import Actor, Person
from decisions.errors import InvalidInput, NotAllowed
from decisions.models import Integration, IntegrationAPIKey, PersonalToken
from governance import rbac
from governance.audit import acting_as, change_reason
from governance.models import ActionType

User = get_user_model()


def _webhook_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


@transaction.atomic
def integration_provision(*, actor: Actor, integration: Integration) -> Integration:
    """Save a new integration with its own service account (group Integration, no password,
    never staff) and a fresh webhook signing secret."""
    with acting_as(actor):
        account = User.objects.create(
            username=f"integration-{_slug(integration.name)}", first_name=integration.name[:150], is_staff=False
        )
        account.set_unusable_password()
        account.save(update_fields=["password"])
        account.groups.add(Group.objects.get(name=rbac.INTEGRATION))
        integration.service_account = account
        integration.webhook_secret = _webhook_secret()
        integration.webhook_secret_rotated_at = timezone.now()
        integration.full_clean()
        integration.save()
    return integration


@transaction.atomic
def integration_create(
    *,
    actor: Actor,
    name: str,
    team_contact: str,
    allowed_action_types: list[ActionType],
    webhook_url: str = "",
    rate_limit_per_minute: int = 1200,
    max_pending: int = 1000,
) -> Integration:
    """``integration_provision`` plus the action types it may submit."""
    integration = integration_provision(
        actor=actor,
        integration=Integration(
            name=name,
            team_contact=team_contact,
            webhook_url=webhook_url,
            rate_limit_per_minute=rate_limit_per_minute,
            max_pending=max_pending,
        ),
    )
    with acting_as(actor):
        integration.allowed_action_types.set(allowed_action_types)
    return integration


@transaction.atomic
def integration_rotate_secret(
    *, actor: Person, integration: Integration, reason: str, ticket_ref: str = ""
) -> Integration:
    """A new webhook signing secret; the old one stops verifying at once. Only someone who may
    change integrations rotates, and says why (the audit entry carries the reason and ticket).
    The caller shows ``integration.webhook_secret`` once to the lead who asked; it is stored
    encrypted, and the audit log records only when it changed."""
    if not actor.has_perm("decisions.change_integration"):
        raise NotAllowed("Only a governance lead may rotate an integration's webhook signing secret.")
    if not reason.strip():
        raise InvalidInput("Say why the secret is rotated.", field="reason")
    with acting_as(actor), change_reason(reason.strip(), ticket_ref):
        integration.webhook_secret = _webhook_secret()
        integration.webhook_secret_rotated_at = timezone.now()
        integration.save(update_fields=["webhook_secret", "webhook_secret_rotated_at"])
    return integration


def _slug(name: str) -> str:
    return slugify(name)[:100] or "unnamed"


class IssuedKey(NamedTuple):
    """A key row and its plain text: only a hash is stored, so show ``plain`` once, now."""

    row: AbstractAPIKey
    plain: str


def integration_key_create(*, integration: Integration, name: str, expiry_date: datetime | None = None) -> IssuedKey:
    """A new API key for ``integration``; the plain key is never stored."""
    row, plain = IntegrationAPIKey.objects.create_key(integration=integration, name=name, expiry_date=expiry_date)
    return IssuedKey(row=row, plain=plain)


def personal_token_create(*, user: Person, name: str, expires_at: datetime) -> IssuedKey:
    """A person's API token, expiring within PERSONAL_TOKEN_MAX_DAYS; the plain token is never stored."""
    now = timezone.now()
    if expires_at <= now or expires_at > now + timedelta(days=settings.PERSONAL_TOKEN_MAX_DAYS):
        raise InvalidInput(
            f"A personal token expires within {settings.PERSONAL_TOKEN_MAX_DAYS} days.", field="expires_at"
        )
    row, plain = PersonalToken.objects.create_key(user=user, name=name, expiry_date=expires_at)
    return IssuedKey(row=row, plain=plain)


@transaction.atomic
def integration_secrets_reencrypt() -> int:
    """Encrypt every stored webhook signing secret again with the first of SECRET_ENCRYPTION_KEYS
    (after a key rotation, before the old key is removed). The secrets themselves do not change,
    so the audit log records nothing. Locks the integration rows. Returns how many were rewritten."""
    rows = list(Integration.objects.select_for_update().order_by("pk"))
    # The field encrypts with the first key on write; no signals (nothing to audit).
    Integration.objects.bulk_update(rows, ["webhook_secret"], batch_size=500)
    return len(rows)
