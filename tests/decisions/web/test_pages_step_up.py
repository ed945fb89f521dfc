"""Step-up on the sign-off page for a local account: re-enter the password, come back to the
form with what was typed, sign; the sign-off shows how and when its signer authenticated."""

from urllib.parse import quote

import pyotp
import pytest
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
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
