"""Integrations and the credentials that call the API: provisioning (with a service account that
can never sign), webhook signing secrets, integration API keys, personal tokens."""

from __future__ import annotations

import base64
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from decisions.errors import (
    InvalidInput,
)
from decisions.models import (
    Integration,
    IntegrationAPIKey,
    PersonalToken,
)
from governance import rbac
from governance.audit import acting_as

User = get_user_model()


def _webhook_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


@transaction.atomic
def integration_provision(*, actor, integration: Integration) -> Integration:
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
        integration.full_clean()
        integration.save()
    return integration


@transaction.atomic
def integration_create(
    *,
    actor,
    name: str,
    team_contact: str,
    allowed_action_types: list,
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
def integration_rotate_secret(*, actor, integration: Integration) -> Integration:
    """A new webhook signing secret; the old one stops verifying at once."""
    with acting_as(actor):
        integration.webhook_secret = _webhook_secret()
        integration.save(update_fields=["webhook_secret"])
    return integration


def _slug(name: str) -> str:
    return slugify(name)[:100] or "unnamed"


def integration_key_create(*, integration: Integration, name: str, expiry_date=None):
    """A new API key. Returns (key row, plain key): the plain key is never stored, show it once."""
    return IntegrationAPIKey.objects.create_key(integration=integration, name=name, expiry_date=expiry_date)


def personal_token_create(*, user, name: str, expires_at):
    """A person's API token, expiring within PERSONAL_TOKEN_MAX_DAYS. Returns (row, plain token)."""
    now = timezone.now()
    if expires_at <= now or expires_at > now + timedelta(days=settings.PERSONAL_TOKEN_MAX_DAYS):
        raise InvalidInput(
            f"A personal token expires within {settings.PERSONAL_TOKEN_MAX_DAYS} days.", field="expires_at"
        )
    return PersonalToken.objects.create_key(user=user, name=name, expiry_date=expires_at)
