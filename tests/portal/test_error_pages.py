"""Friendly 403, 404 and 500 pages, on the analyst pages and in the admin: no debug page, no
traceback, and a link back to where the person came from."""

import pytest
from django.test import Client

from governance import rbac
from tests.governance.factories import UserFactory, make_user_in_group

pytestmark = pytest.mark.django_db

QUEUE_LINK = '<a href="/decisions/">Back to my queue</a>'
ADMIN_LINK = '<a href="/admin/">Back to the governance admin</a>'


def _no_debug(page: str) -> None:
    assert "Traceback" not in page
    assert "DEBUG = True" not in page
    assert "abc123" not in page


def test_an_analyst_page_that_does_not_exist_is_a_friendly_404_back_to_the_queue(client):
    client.force_login(UserFactory())

    response = client.get("/decisions/00000000-0000-0000-0000-000000000000/")

    page = response.content.decode()
    assert response.status_code == 404
    assert "Not found" in page
    assert QUEUE_LINK in page
    _no_debug(page)


def test_an_admin_page_that_does_not_exist_is_a_friendly_404_back_to_the_admin(client):
    client.force_login(make_user_in_group(rbac.GOVERNANCE_LEAD))

    response = client.get("/admin/governance/no-such-model/")

    page = response.content.decode()
    assert response.status_code == 404
    assert ADMIN_LINK in page
    _no_debug(page)


def test_an_admin_page_the_auditor_may_not_open_is_a_friendly_403_back_to_the_admin(client):
    client.force_login(make_user_in_group(rbac.AUDITOR))

    response = client.get("/admin/governance/actiontype/add/")

    page = response.content.decode()
    assert response.status_code == 403
    assert "Not allowed" in page
    assert ADMIN_LINK in page


@pytest.mark.parametrize("path", ["/decisions/boom/", "/admin/boom/"])
def test_a_failure_is_a_friendly_500_with_a_way_back_and_no_details(settings, path):
    settings.ROOT_URLCONF = "tests.portal.boom_urls"
    client = Client(raise_request_exception=False)
    client.force_login(make_user_in_group(rbac.GOVERNANCE_LEAD))

    response = client.get(path)

    page = response.content.decode()
    assert response.status_code == 500
    assert "Something went wrong" in page
    assert QUEUE_LINK in page
    assert ADMIN_LINK in page
    _no_debug(page)
