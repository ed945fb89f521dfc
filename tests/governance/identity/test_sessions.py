"""Session hygiene: idle and absolute timeouts from settings; a password change or a
deprovisioning (deactivation) ends every other session of the person."""

import time

import pytest
from django.core.cache import cache
from django.test import Client

from governance.identity.middleware import SEEN, STARTED
from tests.governance.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"


@pytest.fixture(autouse=True)
def _fresh_counts():
    cache.clear()


def _signed_in(username: str = "nadia") -> Client:
    client = Client()
    assert client.post("/accounts/login/", {"login": username, "password": PASSWORD}).status_code == 302
    return client


def _shift(client: Client, key: str, seconds: float) -> None:
    session = client.session
    session[key] = session[key] - seconds
    session.save()


def test_a_session_idle_longer_than_the_setting_is_signed_out(settings):
    settings.SESSION_IDLE_SECONDS = 600
    UserFactory(username="nadia")
    client = _signed_in()
    _shift(client, SEEN, 601)

    response = client.get("/decisions/")

    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/")


def test_an_active_session_stays_and_its_last_seen_moves_on(settings):
    settings.SESSION_IDLE_SECONDS = 600
    UserFactory(username="nadia")
    client = _signed_in()
    _shift(client, SEEN, 300)

    assert client.get("/decisions/").status_code == 200
    assert time.time() - client.session[SEEN] < 5


def test_a_session_older_than_the_absolute_limit_is_signed_out_even_if_active(settings):
    settings.SESSION_ABSOLUTE_SECONDS = 3600
    UserFactory(username="nadia")
    client = _signed_in()
    _shift(client, STARTED, 3601)

    assert client.get("/decisions/").status_code == 302


def test_a_session_without_a_start_stamp_gets_one_and_the_absolute_limit_then_applies(settings):
    settings.SESSION_ABSOLUTE_SECONDS = 3600
    UserFactory(username="nadia")
    client = _signed_in()
    session = client.session
    del session[STARTED]
    session.save()

    assert client.get("/decisions/").status_code == 200
    assert time.time() - client.session[STARTED] < 5
    _shift(client, STARTED, 3601)
    assert client.get("/decisions/").status_code == 302


def test_a_password_change_signs_out_the_other_sessions_and_keeps_this_one():
    UserFactory(username="nadia")
    here, elsewhere = _signed_in(), _signed_in()

    response = here.post(
        "/accounts/password/change/",
        {"oldpassword": PASSWORD, "password1": "a-new-long-passphrase-42", "password2": "a-new-long-passphrase-42"},
    )

    assert response.status_code == 302
    assert here.get("/decisions/").status_code == 200
    assert elsewhere.get("/decisions/").status_code == 302


def test_deprovisioning_a_person_ends_their_sessions():
    nadia = UserFactory(username="nadia")
    client = _signed_in()

    nadia.is_active = False
    nadia.save()

    assert client.get("/decisions/").status_code == 302
