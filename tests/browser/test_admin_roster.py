"""A governance lead, in Chromium, logs into the admin and reads who is on call."""

import pytest

from governance import rbac
from tests.governance.factories import RosterFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _login(page, live_server, username):
    page.goto(f"{live_server.url}/admin/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill("correct-horse-battery")
    page.get_by_role("button", name="Log in").click()


def test_lead_sees_who_is_on_call_now_and_next_on_a_roster_page(page, live_server, screenshot):
    UserFactory(username="lead", is_staff=True, groups=[rbac.GOVERNANCE_LEAD])
    ada = UserFactory(username="ada", first_name="Ada", last_name="Lovelace")
    bob = UserFactory(username="bob", first_name="Bob", last_name="Kahn")
    roster = RosterFactory(name="Incident commanders", time_zone="Europe/London", rotation_days=1, users=[ada, bob])

    _login(page, live_server, "lead")
    page.goto(f"{live_server.url}/admin/governance/roster/")
    row = page.get_by_role("row", name="Incident commanders")
    on_call_now = row.locator("td.field-on_call_now").inner_text()
    assert on_call_now in {"Ada Lovelace", "Bob Kahn"}

    page.goto(f"{live_server.url}/admin/governance/roster/{roster.pk}/change/")
    preview = page.locator("table.cs-preview")
    rows = preview.locator("tbody tr")
    assert rows.count() >= 14  # a daily rotation: at least one slot per day for 14 days
    first, second = rows.nth(0).locator("td").nth(2).inner_text(), rows.nth(1).locator("td").nth(2).inner_text()
    assert first == on_call_now
    assert {first, second} == {"Ada Lovelace", "Bob Kahn"}
    screenshot("admin-roster-preview")


def test_analyst_is_sent_back_to_the_login_page(page, live_server):
    UserFactory(username="analyst", groups=[rbac.ANALYST])
    _login(page, live_server, "analyst")
    assert "/accounts/login/" in page.url
    assert page.get_by_text("You are signed in as analyst, who may not open that page.").is_visible()
