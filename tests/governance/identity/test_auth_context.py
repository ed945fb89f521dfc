"""The authentication context a sign-off records: an OIDC login's time is the ID token's
``auth_time`` (the callback time only without one, marked unverified), its ``amr`` gives the MFA
flag, and a SAML login's callback time never proves a fresh authentication."""

import time
from datetime import UTC, datetime

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.test import RequestFactory

from governance.identity.context import auth_context_of, idp_facts
from tests.governance.factories import UserFactory

pytestmark = pytest.mark.django_db


def _request_with(user, records):
    request = RequestFactory().get("/")
    request.user = user
    request.session = SessionStore()
    request.session["account_authentication_methods"] = records
    request.session["account_authentication_methods_user"] = str(user.pk)
    return request


def test_the_id_tokens_auth_time_and_amr_are_what_the_idp_asserted():
    facts = idp_facts({"id_token": {"auth_time": 1700000000, "amr": ["pwd", "otp"]}}, protocol="openid_connect")

    assert facts == {
        "auth_time": 1700000000.0,
        "auth_time_source": "idp",
        "fresh": True,
        "amr": ["pwd", "otp"],
        "idp_mfa": True,
    }


def test_without_auth_time_the_callback_time_counts_but_is_marked_unverified():
    facts = idp_facts({"userinfo": {"auth_time": 5, "amr": ["mfa"]}}, protocol="openid_connect")

    # Only the (signed) ID token is believed; userinfo claims are not.
    assert facts == {"auth_time_source": "portal", "fresh": True, "amr": [], "idp_mfa": False}


def test_a_saml_login_is_never_fresh_proof():
    assert idp_facts({"groups": ["x"]}, protocol="saml")["fresh"] is False


def test_the_context_takes_auth_time_and_the_idp_mfa_from_the_record():
    user = UserFactory()
    now = time.time()
    record = {"method": "socialaccount", "at": now, "provider": "acme", "uid": "u1"}
    record.update(idp_facts({"id_token": {"auth_time": now - 3600, "amr": ["hwk"]}}, protocol="openid_connect"))

    context = auth_context_of(_request_with(user, [record]))

    assert context.method == "sso"
    assert context.authenticated_at == datetime.fromtimestamp(now - 3600, tz=UTC)
    assert context.fresh_at == context.authenticated_at
    assert context.auth_time_source == "idp"
    assert context.mfa is True
    assert context.mfa_at == context.authenticated_at
    assert context.as_data()["auth_time_source"] == "idp"


def test_a_saml_record_gives_no_fresh_time_but_a_later_password_does():
    user = UserFactory()
    now = time.time()
    saml = {"method": "socialaccount", "at": now - 60, "provider": "saml-idp", "uid": "u1"}
    saml.update(idp_facts({}, protocol="saml"))

    assert auth_context_of(_request_with(user, [saml])).fresh_at is None
    both = auth_context_of(_request_with(user, [saml, {"method": "reauthenticated", "at": now}]))
    assert both.fresh_at == datetime.fromtimestamp(now, tz=UTC)
