"""Login throttling (allauth's login_failed rate limit) and the local-password switch."""

import pytest
from allauth.socialaccount.models import SocialAccount
from django.core.cache import cache

from tests.governance.factories import UserFactory

pytestmark = pytest.mark.django_db

RIGHT = "correct-horse-battery"
LOCKED = "Too many failed sign-in attempts for this account"


@pytest.fixture(autouse=True)
def _fresh_counts():
    cache.clear()
    yield
    cache.clear()


def _attempt(client, username, password):
    return client.post("/accounts/login/", {"login": username, "password": password})


def test_the_21st_attempt_after_20_wrong_passwords_is_refused_even_with_the_right_one(client):
    UserFactory(username="nadia")
    for _ in range(20):
        response = _attempt(client, "nadia", "not her password")
        assert response.status_code == 200
        assert "Please enter a correct username and password." in response.text

    response = _attempt(client, "nadia", RIGHT)

    assert response.status_code == 200
    assert LOCKED in response.text
    assert "_auth_user_id" not in client.session
    assert client.get("/decisions/").status_code == 302


def test_the_right_password_after_19_wrong_ones_still_logs_in(client):
    UserFactory(username="nadia")
    for _ in range(19):
        _attempt(client, "nadia", "not her password")

    response = _attempt(client, "nadia", RIGHT)

    assert response.status_code == 302
    assert response.url == "/decisions/"


def test_a_locked_username_does_not_lock_another(client):
    UserFactory(username="nadia")
    UserFactory(username="omar")
    for _ in range(21):
        _attempt(client, "nadia", "not her password")

    assert _attempt(client, "omar", RIGHT).status_code == 302


def test_with_local_passwords_off_only_the_break_glass_operator_signs_in_with_a_password(client, settings):
    settings.LOCAL_PASSWORD_LOGIN = False
    settings.BREAK_GLASS_USERNAMES = ["breakglass"]
    UserFactory(username="nadia")
    UserFactory(username="breakglass")

    refused = _attempt(client, "nadia", RIGHT)
    assert refused.status_code == 200
    assert "Passwords are turned off here" in refused.text

    assert _attempt(client, "breakglass", RIGHT).status_code == 302


def test_an_sso_account_never_signs_in_with_a_password_nor_gets_a_reset_mail(client, mailoutbox):
    ada = UserFactory(username="ada", email="ada@soc.example")
    SocialAccount.objects.create(user=ada, provider="acme", uid="ada-sub")

    refused = _attempt(client, "ada", RIGHT)
    client.post("/accounts/password/reset/", {"email": "ada@soc.example"})

    assert refused.status_code == 200
    assert "Please enter a correct username and password." in refused.text
    assert "_auth_user_id" not in client.session
    assert mailoutbox == []


def _errors(response) -> list[str]:
    return [str(e) for e in response.context["form"].non_field_errors()]


def test_an_sso_linked_username_is_throttled_and_answers_like_a_wrong_password(client):
    ada = UserFactory(username="ada")
    SocialAccount.objects.create(user=ada, provider="acme", uid="ada-sub")
    UserFactory(username="nadia")

    sso_answer = _attempt(client, "ada", RIGHT)
    wrong_answer = _attempt(client, "nadia", "not her password")
    assert _errors(sso_answer) == _errors(wrong_answer) == ["Please enter a correct username and password."]
    for _ in range(19):
        _attempt(client, "ada", RIGHT)

    locked = _attempt(client, "ada", RIGHT)  # the 21st attempt
    assert LOCKED in locked.text


def test_a_local_account_still_gets_its_reset_mail(client, mailoutbox):
    UserFactory(username="nadia", email="nadia@soc.example")

    client.post("/accounts/password/reset/", {"email": "nadia@soc.example"})

    assert [m.to for m in mailoutbox] == [["nadia@soc.example"]]
