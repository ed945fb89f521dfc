"""Step-up on the sign-off page for a local account: re-enter the password, come back to the
form with what was typed, sign; the sign-off shows how and when its signer authenticated."""

import time
from urllib.parse import parse_qs, parse_qsl, quote, urlsplit

import pyotp
import pytest
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from allauth.socialaccount.models import SocialAccount
from django.core.cache import cache

from decisions.models import SignOff
from governance.models import StepUp
from tests.decisions.factories import submit

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"
VERDICT = {"verdict": "approve", "reason_code": "evidence_sufficient", "rationale": "Beaconing confirmed on the EDR."}


@pytest.fixture
def stepped_up(staffed, signer, client):
    cache.clear()
    staffed.policy.step_up = StepUp.RECENT
    staffed.policy.save()
    decision = submit(staffed.action_type)
    assert client.post("/accounts/login/", {"login": signer.username, "password": PASSWORD}).status_code == 302
    session = client.session
    records = session["account_authentication_methods"]
    for record in records:
        record["at"] -= 600  # signed in ten minutes ago
    session["account_authentication_methods"] = records
    session.save()
    return decision


def test_a_stale_sign_in_is_sent_to_re_authenticate_and_nothing_is_signed(client, stepped_up):
    page = f"/decisions/{stepped_up.public_id}/"

    response = client.post(page, VERDICT)

    assert response.status_code == 302
    assert response.url == f"/accounts/reauthenticate/?next={quote(page + '?draft=kept', safe='')}"
    assert not SignOff.objects.filter(decision=stepped_up).exists()


def test_after_the_password_the_form_comes_back_as_typed_and_signs(client, stepped_up):
    page = f"/decisions/{stepped_up.public_id}/"
    reauth = client.post(page, VERDICT).url

    back = client.post(reauth, {"password": PASSWORD})
    assert back.status_code == 302
    assert back.url == f"{page}?draft=kept"
    form_page = client.get(back.url)
    assert "Beaconing confirmed on the EDR.</textarea>" in form_page.text
    assert client.get(page).text.count("Beaconing confirmed on the EDR.</textarea>") == 0  # taken once

    signed = client.post(page, VERDICT)

    assert signed.status_code == 302
    signoff = SignOff.objects.get(decision=stepped_up)
    assert signoff.auth_context["method"] == "password"
    assert signoff.auth_context["via"] == "session"
    assert "password, no MFA" in client.get(page).text


def test_the_mfa_mode_sends_to_the_second_factor_and_records_it(client, staffed, signer):
    cache.clear()
    staffed.policy.step_up = StepUp.MFA
    staffed.policy.save()
    decision = submit(staffed.action_type)
    assert client.post("/accounts/login/", {"login": signer.username, "password": PASSWORD}).status_code == 302
    secret = generate_totp_secret()
    TOTP.activate(signer, secret)
    page = f"/decisions/{decision.public_id}/"

    reauth = client.post(page, VERDICT)
    assert reauth.url == f"/accounts/2fa/reauthenticate/?next={quote(page + '?draft=kept', safe='')}"
    back = client.post(reauth.url, {"code": pyotp.TOTP(secret).now()})
    assert back.url == f"{page}?draft=kept"
    client.get(back.url)
    client.post(page, VERDICT)

    signoff = SignOff.objects.get(decision=decision)
    assert signoff.auth_context["mfa"] is True
    assert "password, MFA" in client.get(page).text


def test_the_mfa_mode_without_a_second_factor_sends_to_enrol_one(client, staffed, signer):
    cache.clear()
    staffed.policy.step_up = StepUp.MFA
    staffed.policy.save()
    decision = submit(staffed.action_type)
    client.post("/accounts/login/", {"login": signer.username, "password": PASSWORD})

    response = client.post(f"/decisions/{decision.public_id}/", VERDICT)

    assert response.url.startswith("/accounts/2fa/?next=")
    assert not SignOff.objects.filter(decision=decision).exists()


def _sso_session(client, signer, settings, *, minutes_ago: float, acr: str = "") -> None:
    """``signer`` as an OIDC user (no password) whose session's SSO login is ``minutes_ago`` old."""
    app_settings = {"server_url": "https://idp.invalid", "step_up_acr_values": acr}
    settings.SOCIALACCOUNT_PROVIDERS = {
        "openid_connect": {
            "APPS": [{"provider_id": "acme", "name": "Acme", "client_id": "c", "secret": "s", "settings": app_settings}]
        },
        "saml": {"APPS": []},
    }
    signer.set_unusable_password()
    signer.save()
    SocialAccount.objects.create(user=signer, provider="acme", uid="signer-sub")
    client.force_login(signer)
    session = client.session
    at = time.time() - minutes_ago * 60
    session["account_authentication_methods"] = [
        {"method": "socialaccount", "at": at, "provider": "acme", "uid": "signer-sub", "auth_time": at}
    ]
    session["account_authentication_methods_user"] = str(signer.pk)
    session.save()


def _auth_params(url: str) -> dict[str, str]:
    query = parse_qs(urlsplit(url).query)
    return dict(parse_qsl(query["auth_params"][0]))


def test_an_sso_step_up_asks_the_idp_to_sign_in_again_within_the_window(client, staffed, signer, settings):
    cache.clear()
    staffed.policy.step_up = StepUp.RECENT
    staffed.policy.save()
    decision = submit(staffed.action_type)
    _sso_session(client, signer, settings, minutes_ago=10)

    response = client.post(f"/decisions/{decision.public_id}/", VERDICT)

    assert response.status_code == 302
    assert response.url.startswith("/accounts/oidc/acme/login/")
    assert _auth_params(response.url) == {"prompt": "login", "max_age": "300"}
    assert not SignOff.objects.filter(decision=decision).exists()


def test_an_sso_mfa_step_up_goes_to_the_idp_with_the_configured_acr_values(client, staffed, signer, settings):
    cache.clear()
    staffed.policy.step_up = StepUp.MFA
    staffed.policy.save()
    decision = submit(staffed.action_type)
    _sso_session(client, signer, settings, minutes_ago=1, acr="phr")

    response = client.post(f"/decisions/{decision.public_id}/", VERDICT)

    assert response.url.startswith("/accounts/oidc/acme/login/")
    assert _auth_params(response.url) == {"prompt": "login", "max_age": "300", "acr_values": "phr"}


def test_an_idp_time_from_before_the_step_up_is_refused_with_a_clear_message(client, staffed, signer, settings):
    cache.clear()
    staffed.policy.step_up = StepUp.RECENT
    staffed.policy.save()
    decision = submit(staffed.action_type)
    _sso_session(client, signer, settings, minutes_ago=10)
    page = f"/decisions/{decision.public_id}/"
    client.post(page, VERDICT)  # the step-up begins
    # The IdP ignored max_age: its ID token says the person signed in two minutes ago.
    session = client.session
    session["account_authentication_methods"][0]["auth_time"] = time.time() - 120
    session.save()

    response = client.post(page, VERDICT, follow=True)

    assert not SignOff.objects.filter(decision=decision).exists()
    assert "did not sign you in again" in response.text
