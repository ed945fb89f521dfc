"""Who is calling: integrations by API key, people by personal token. Every refusal is a 401 with
a JSON body and a WWW-Authenticate challenge."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from decisions import integrations
from decisions.models import IntegrationAPIKey, PersonalToken

pytestmark = pytest.mark.django_db

LIST = "/api/v1/decisions/"


def bearer(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def test_no_credentials_is_a_401_with_a_json_body():
    response = APIClient().get(LIST)

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_no_credentials_challenges_for_an_api_key():
    response = APIClient().get(LIST)

    assert response.headers["WWW-Authenticate"] == "Api-Key"


def test_no_credentials_cannot_submit(body):
    response = APIClient().post(LIST, body, format="json")

    assert response.status_code == 401


def test_valid_api_key_is_accepted(api_client):
    assert api_client.get(LIST).status_code == 200


def test_unknown_api_key_is_a_401(key_client, db):
    response = key_client("AbCdEfGh.0123456789abcdef0123456789abcdef").get(LIST)

    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid or revoked API key.", "code": "authentication_failed"}


def test_api_key_with_a_known_prefix_but_a_wrong_secret_is_a_401(caller, key_client):
    prefix = caller.key.partition(".")[0]

    response = key_client(f"{prefix}.{'0' * 32}").get(LIST)

    assert response.status_code == 401


def test_authorization_header_without_a_key_is_a_401(db):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Api-Key")

    response = client.get(LIST)

    assert response.status_code == 401


def test_revoked_api_key_is_a_401(caller):
    caller.key_row.revoked = True
    caller.key_row.save()

    response = caller.client.get(LIST)

    assert response.status_code == 401


def test_expired_api_key_is_a_401(caller, key_client):
    _row, key = integrations.integration_key_create(
        integration=caller.integration, name="old", expiry_date=timezone.now() - timedelta(minutes=1)
    )

    response = key_client(key).get(LIST)

    assert response.status_code == 401
    assert response.json()["detail"] == "This API key has expired."


def test_disabled_integrations_key_is_a_401(caller):
    caller.integration.is_active = False
    caller.integration.save()

    response = caller.client.get(LIST)

    assert response.status_code == 401
    assert response.json()["detail"] == f"Integration {caller.integration.name} is disabled."


def test_api_key_use_is_recorded(caller):
    caller.client.get(LIST)

    assert IntegrationAPIKey.objects.get(pk=caller.key_row.pk).last_used_at is not None


def test_valid_personal_token_is_accepted(signer):
    _row, token = integrations.personal_token_create(
        user=signer, name="cli", expires_at=timezone.now() + timedelta(days=1)
    )

    assert bearer(token).get(LIST).status_code == 200


def test_expired_personal_token_is_a_401(signer):
    row, token = integrations.personal_token_create(
        user=signer, name="cli", expires_at=timezone.now() + timedelta(days=1)
    )
    PersonalToken.objects.filter(pk=row.pk).update(expiry_date=timezone.now() - timedelta(seconds=1))

    response = bearer(token).get(LIST)

    assert response.status_code == 401
    assert response.json()["detail"] == "This personal token has expired: create a new one."


def test_revoked_personal_token_is_a_401(signer):
    row, token = integrations.personal_token_create(
        user=signer, name="cli", expires_at=timezone.now() + timedelta(days=1)
    )
    PersonalToken.objects.filter(pk=row.pk).update(revoked=True)

    assert bearer(token).get(LIST).status_code == 401


def test_personal_token_of_a_deactivated_person_is_a_401(signer):
    _row, token = integrations.personal_token_create(
        user=signer, name="cli", expires_at=timezone.now() + timedelta(days=1)
    )
    signer.is_active = False
    signer.save()

    assert bearer(token).get(LIST).status_code == 401


def test_api_key_sent_as_a_bearer_token_is_a_401(caller):
    assert bearer(caller.key).get(LIST).status_code == 401
