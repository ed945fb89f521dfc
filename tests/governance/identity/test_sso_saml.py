"""SAML sign-in against a real IdP (pysaml2) with a signed assertion: the user is created with
the groups the attribute maps to; a tampered assertion is refused and creates nobody."""

import base64
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth.models import Group, User

from governance import rbac
from governance.models import IdPGroupMapping
from tests.saml_idp import SAMLIdP

pytestmark = pytest.mark.django_db


@pytest.fixture
def idp(tmp_path, settings, client):
    provider = SAMLIdP(tmp_path)
    # python3-saml refuses single-label hosts such as Django's "testserver" in SP URLs.
    settings.ALLOWED_HOSTS = ["countersign.acme.test"]
    client.defaults["HTTP_HOST"] = "countersign.acme.test"
    settings.SOCIALACCOUNT_PROVIDERS = {"openid_connect": {"APPS": []}, "saml": {"APPS": [provider.app_settings()]}}
    IdPGroupMapping.objects.create(
        provider="acme-saml", idp_group="soc-analysts", group=Group.objects.get(name=rbac.ANALYST)
    )
    metadata = client.get("/accounts/saml/acme/metadata/")
    assert metadata.status_code == 200
    provider.trust(metadata.content.decode())
    return provider


def _start(client) -> tuple[str, str, str]:
    """The portal sends the browser to the IdP: its AuthnRequest, RelayState and the ACS path."""
    response = client.post("/accounts/saml/acme/login/", {"process": "login"})
    assert response.status_code == 302
    query = parse_qs(urlsplit(response.url).query)
    return query["SAMLRequest"][0], query.get("RelayState", [""])[0], "/accounts/saml/acme/acs/"


def _post_to_acs(client, acs: str, saml_response: str, relay_state: str):
    response = client.post(acs, {"SAMLResponse": saml_response, "RelayState": relay_state})
    assert response.status_code == 302  # allauth finishes the ACS on its own URL
    return client.get(response.url)


def test_a_signed_assertion_signs_in_a_new_user_with_the_mapped_groups(client, idp):
    saml_request, relay_state, acs = _start(client)

    finished = _post_to_acs(client, acs, idp.answer(saml_request, uid="grace", groups=["soc-analysts"]), relay_state)

    assert finished.status_code == 302
    assert finished.url == "/decisions/"
    grace = User.objects.get(socialaccount__uid="grace", socialaccount__provider="acme-saml")
    assert [g.name for g in grace.groups.all()] == [rbac.ANALYST]
    assert client.get("/decisions/").status_code == 200


def test_a_tampered_assertion_is_refused_and_creates_nobody(client, idp):
    saml_request, relay_state, acs = _start(client)
    signed = base64.b64decode(idp.answer(saml_request, uid="grace", groups=["soc-analysts"])).decode()
    assert "soc-analysts" in signed
    tampered = base64.b64encode(signed.replace("soc-analysts", "soc-leads").encode()).decode()

    finished = _post_to_acs(client, acs, tampered, relay_state)

    assert finished.status_code == 401
    assert "Third-Party Login Failure" in finished.text
    assert not User.objects.filter(socialaccount__uid="grace").exists()
    assert client.get("/decisions/").status_code == 302


def test_an_unsigned_assertion_is_refused(client, idp):
    saml_request, relay_state, acs = _start(client)
    signed = base64.b64decode(idp.answer(saml_request, uid="grace", groups=["soc-analysts"])).decode()
    unsigned, removed = re.subn(r"<(\w+:)?Signature[ >].*?</\1Signature>", "", signed, flags=re.DOTALL)
    assert removed == 1

    finished = _post_to_acs(client, acs, base64.b64encode(unsigned.encode()).decode(), relay_state)

    assert finished.status_code == 401
    assert not User.objects.filter(socialaccount__uid="grace").exists()


def test_an_unmapped_saml_user_gets_the_no_access_page(client, idp):
    saml_request, relay_state, acs = _start(client)

    finished = _post_to_acs(client, acs, idp.answer(saml_request, uid="mallory", groups=["sales"]), relay_state)

    assert finished.status_code == 403
    assert "No access to Countersign" in finished.text
    assert not User.objects.filter(socialaccount__uid="mallory").exists()
