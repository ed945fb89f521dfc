"""MFA in Chromium: a local account enrols an authenticator app (TOTP, codes computed here with
pyotp, the RFC 6238 algorithm the app uses), then signing in asks for a code; a wrong one is refused."""

import time

import pyotp
import pytest
from allauth.mfa.models import Authenticator
from playwright.sync_api import expect

from governance import rbac
from tests.browser.scenes import PASSWORD, log_in, log_out, submit_password
from tests.browser.test_analyst_pages_a11y import assert_accessible
from tests.governance.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_totp_enrolment_then_sign_in_asks_for_a_code(page, live_server, screenshot):
    nadia = UserFactory(username="nadia", first_name="Nadia", groups=[rbac.ANALYST])
    log_in(page, live_server, nadia)

    page.get_by_role("link", name="Security").click()
    page.goto(f"{live_server.url}/accounts/2fa/totp/activate/")
    expect(page).to_have_url(f"{live_server.url}/accounts/reauthenticate/?next=%2Faccounts%2F2fa%2Ftotp%2Factivate%2F")
    page.get_by_label("Password").fill(PASSWORD)  # allauth asks for the password again before enrolment
    page.get_by_role("button", name="Confirm").click()
    secret = page.get_by_label("Authenticator secret").input_value()
    assert_accessible(page, "TOTP enrolment")
    page.get_by_label("Authenticator code").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Activate").click()
    expect(page.get_by_role("heading", level=1)).not_to_have_text("Activate Authenticator App")
    assert Authenticator.objects.filter(user=nadia, type=Authenticator.Type.TOTP).exists()
    screenshot("mfa-enrolled")
    page.goto(f"{live_server.url}/decisions/")
    log_out(page)

    submit_password(page, nadia)
    expect(page).to_have_url(f"{live_server.url}/accounts/2fa/authenticate/")
    assert_accessible(page, "second-factor page")
    page.get_by_label("Code").fill("000000")
    page.get_by_role("button", name="Sign In").click()
    expect(page.get_by_text("Incorrect code.")).to_be_visible()
    page.goto(f"{live_server.url}/decisions/")
    expect(page).to_have_url(f"{live_server.url}/accounts/login/?next=/decisions/")  # not signed in yet

    submit_password(page, nadia)
    page.get_by_label("Code").fill(pyotp.TOTP(secret).at(time.time() + 30))  # the next step: not the one used
    page.get_by_role("button", name="Sign In").click()
    expect(page).to_have_url(f"{live_server.url}/decisions/")
    expect(page.get_by_text("Signed in as")).to_contain_text("Nadia")


def test_a_security_key_is_added_and_then_asked_for_at_sign_in(page, live_server, settings):
    """WebAuthn with Chromium's virtual authenticator (DevTools protocol): no hardware needed."""
    settings.MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN = True  # the live server speaks plain http
    nadia = UserFactory(username="nadia", first_name="Nadia", groups=[rbac.ANALYST])
    devtools = page.context.new_cdp_session(page)
    devtools.send("WebAuthn.enable")
    devtools.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "usb",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )
    log_in(page, live_server, nadia)

    page.goto(f"{live_server.url}/accounts/2fa/webauthn/add/")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Confirm").click()
    page.get_by_label("Name").fill("Nadia's key")
    page.wait_for_load_state("load")  # allauth's script binds the button on load
    page.get_by_role("button", name="Add").click()
    page.wait_for_url(lambda url: not url.endswith("/webauthn/add/"), timeout=15_000)
    assert Authenticator.objects.filter(user=nadia, type=Authenticator.Type.WEBAUTHN).exists()
    page.goto(f"{live_server.url}/decisions/")
    log_out(page)

    submit_password(page, nadia)
    expect(page).to_have_url(f"{live_server.url}/accounts/2fa/authenticate/")
    page.wait_for_load_state("load")
    page.get_by_role("button", name="Use a security key").click()
    expect(page).to_have_url(f"{live_server.url}/decisions/")
    expect(page.get_by_text("Signed in as")).to_contain_text("Nadia")
