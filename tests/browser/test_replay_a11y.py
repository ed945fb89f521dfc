"""A governance lead, in Chromium, replays a draft policy in the admin and activates it with a
reason: the draft's page, the Replay page (form and results) and the activation page have no
accessibility violations (axe-core, any impact)."""

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from decisions.models import DraftStatus
from tests.decisions.replay.history import make_draft, make_history

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

axe = Axe()


def assert_accessible(page, what: str) -> None:
    results = axe.run(page)
    assert results.violations_count == 0, f"{what}:\n{results.generate_report()}"


def test_lead_replays_a_draft_and_activates_it_without_accessibility_violations(page, live_server, screenshot):
    history = make_history()
    draft = make_draft(history, history.enrich_policy, allow_auto_approval=True)
    page.goto(f"{live_server.url}/admin/login/")
    page.get_by_label("Username").fill(history.lead.username)
    page.get_by_label("Password").fill("correct-horse-battery")
    page.get_by_role("button", name="Log in").click()

    page.goto(f"{live_server.url}/admin/decisions/policydraft/{draft.pk}/change/")
    assert_accessible(page, "the draft's change page")
    page.get_by_role("link", name="Replay", exact=True).click()
    expect(page.get_by_role("button", name="Replay")).to_be_visible()
    assert_accessible(page, "the replay page before a replay")

    page.get_by_label("Last").select_option("7")
    page.get_by_role("button", name="Replay").click()
    table = page.locator("table.cs-replay")
    expect(table.get_by_role("row").nth(1)).to_contain_text("Enrich rejected")
    expect(table.get_by_role("row").nth(1)).to_contain_text("Auto-approval over a rejection")
    expect(page.get_by_text("Would be auto-approved, a person rejected")).to_be_visible()
    assert_accessible(page, "the replay results")
    screenshot("admin-policy-draft-replay")

    page.get_by_role("link", name="Activate this draft with this replay…").click()
    reason = page.get_by_label("Reason for this change")
    page.get_by_role("button", name="Activate").click()  # no reason: the browser refuses to send it
    assert reason.evaluate("field => field.validity.valueMissing")
    reason.fill("   ")  # blank: the server refuses it
    page.get_by_role("button", name="Activate").click()
    expect(page.get_by_text("This field is required.")).to_be_visible()
    assert_accessible(page, "the activation form with an error")
    reason.fill("Enrichment is harmless: a person only ever approved it")
    page.get_by_role("button", name="Activate").click()
    expect(page.get_by_text("is in force; its replay report is kept with it")).to_be_visible()
    assert_accessible(page, "the activated draft's page")

    draft.refresh_from_db()
    assert draft.status == DraftStatus.ACTIVATED
    assert draft.replay_report["summary"]["auto_over_rejection"] == 1
