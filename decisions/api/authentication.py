"""API authentication: integrations by API key, people by personal token. Keys are stored
hashed (djangorestframework-api-key); the plain key is shown once, at creation."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework_api_key.models import AbstractAPIKey

from decisions.models import IntegrationAPIKey, PersonalToken
from decisions.selectors import usable_integration_key

LAST_USED_RESOLUTION = timedelta(seconds=60)


def _touch(model, key_obj, now) -> None:
    """Record last use at most once a minute: no write on every request."""
    if key_obj.last_used_at is None or now - key_obj.last_used_at > LAST_USED_RESOLUTION:
        model.objects.filter(pk=key_obj.pk).update(last_used_at=now)
        key_obj.last_used_at = now


class _KeyAuthentication(authentication.BaseAuthentication):
    keyword = ""
    model: type[AbstractAPIKey]
    label = ""
    related: tuple[str, ...] = ()

    def _raw_key(self, request) -> str | None:
        header = authentication.get_authorization_header(request).decode("latin-1")
        parts = header.split()
        if not parts or parts[0].lower() != self.keyword.lower():
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(f"Malformed Authorization header: use '{self.keyword} <key>'.")
        return parts[1]

    def authenticate_header(self, request) -> str:
        return self.keyword

    def _find(self, prefix: str):
        return self.model.objects.get_usable_keys().select_related(*self.related).filter(prefix=prefix).first()

    def _lookup(self, raw: str):
        found = self._find(raw.partition(".")[0])
        if found is None or not found.is_valid(raw):
            raise exceptions.AuthenticationFailed(f"Invalid or revoked {self.label}.")
        return found


class IntegrationKeyAuthentication(_KeyAuthentication):
    """``Authorization: Api-Key <key>``: the request acts as the integration's service account."""

    keyword = "Api-Key"
    model = IntegrationAPIKey
    label = "API key"
    related = ("integration__service_account",)

    def _find(self, prefix: str):
        return usable_integration_key(prefix=prefix)

    def authenticate(self, request):
        raw = self._raw_key(request)
        if raw is None:
            return None
        key = self._lookup(raw)
        now = timezone.now()
        if key.has_expired:
            raise exceptions.AuthenticationFailed("This API key has expired.")
        integration = key.integration
        if not integration.is_active:
            raise exceptions.AuthenticationFailed(f"Integration {integration.name} is disabled.")
        _touch(IntegrationAPIKey, key, now)
        user = integration.service_account
        user.is_integration_account = True
        return user, key


class PersonalTokenAuthentication(_KeyAuthentication):
    """``Authorization: Bearer <token>``: a person acting through the API."""

    keyword = "Bearer"
    model = PersonalToken
    label = "personal token"
    related = ("user",)

    def authenticate(self, request):
        raw = self._raw_key(request)
        if raw is None:
            return None
        token = self._lookup(raw)
        now = timezone.now()
        if token.has_expired:
            raise exceptions.AuthenticationFailed("This personal token has expired: create a new one.")
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("This account is disabled.")
        _touch(PersonalToken, token, now)
        return token.user, token


class IntegrationKeyScheme(OpenApiAuthenticationExtension):
    target_class = "decisions.api.authentication.IntegrationKeyAuthentication"
    name = "IntegrationApiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Api-Key <key>`: an integration's key, shown once when created in the admin.",
        }


class PersonalTokenScheme(OpenApiAuthenticationExtension):
    target_class = "decisions.api.authentication.PersonalTokenAuthentication"
    name = "PersonalToken"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "A person's expiring API token."}
