"""Integrations (SOAR tools, AI agents) and the credentials that call the API."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from rest_framework_api_key.models import AbstractAPIKey

from decisions.models.fields import EncryptedTextField
from governance.audit import AuditReasonMixin
from governance.models import ActionType
from governance.urlguard import OutboundURLValidator


class Integration(AuditReasonMixin, models.Model):
    """A SOAR tool or AI agent that submits recommendations. Acts through API keys and a
    service account that can never sign."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=120, unique=True)
    team_contact = models.CharField(max_length=200, help_text="Owning team and how to reach them.")
    service_account = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="integration", editable=False
    )
    allowed_action_types = models.ManyToManyField(ActionType, related_name="integrations", blank=True)
    webhook_url = models.URLField(
        blank=True, validators=[OutboundURLValidator()], help_text="Verdicts are POSTed here (Standard Webhooks)."
    )
    # Encrypted at rest, shown once (at creation or rotation) to the lead who made it, never audited.
    webhook_secret = EncryptedTextField(editable=False)
    webhook_secret_rotated_at = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="When the signing secret was last made (creation or rotation)."
    )
    rate_limit_per_minute = models.PositiveIntegerField(
        default=1200, validators=[MinValueValidator(1)], help_text="Submissions and reads per API key per minute."
    )
    max_pending = models.PositiveIntegerField(
        default=1000, validators=[MinValueValidator(1)], help_text="Cap on this integration's pending decisions."
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class IntegrationAPIKey(AbstractAPIKey):
    """An integration's API key: only a hash is stored; the key is shown once, at creation."""

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="api_keys")
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta(AbstractAPIKey.Meta):
        verbose_name = "integration API key"
        verbose_name_plural = "integration API keys"


class PersonalToken(AbstractAPIKey):
    """A person's API token (for signing through the API): hashed, expiring."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="personal_tokens")
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta(AbstractAPIKey.Meta):
        verbose_name = "personal API token"
        verbose_name_plural = "personal API tokens"
        constraints = [
            models.CheckConstraint(name="personal_token_expires", condition=Q(expiry_date__isnull=False)),
        ]
