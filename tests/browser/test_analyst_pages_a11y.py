"""axe-core (axe-playwright-python, bundled: nothing fetched) on every analyst page in Chromium:
zero violations of any impact, not only serious and critical."""

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from decisions.lifecycle import signing
from governance import rbac
from tests.browser.scenes import log_in, log_out, signing_scene
from tests.decisions.factories import submit
from tests.governance.factories import make_user_in_group

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

axe = Axe()


def assert_accessible(page, what: str) -> None:
    results = axe.run(page)
    assert results.violations_count == 0, f"{what}:\n{results.generate_report()}"


def test_analyst_pages_have_no_accessibility_violations(page, live_server, screenshot):
    scene = signing_scene(live_server)

    page.goto(f"{live_server.url}/accounts/login/")
    assert_accessible(page, "login page")
    page.get_by_label("Username").fill("nadia")
    page.get_by_label("Password").fill("not her password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_contain_text("Please enter a correct username and password.")
    assert_accessible(page, "login page with an error")

    log_in(page, live_server, scene.analyst)
    expect(page.get_by_role("heading", name="Nothing waits for you")).to_be_visible()
    assert_accessible(page, "empty queue")
    screenshot("analyst-queue-empty")

    decision = submit(scene.action_type, integration=scene.integration, incident_ref="INC-1")
    submit(scene.action_type, integration=scene.integration, title="Disable svc-backup", incident_ref="INC-2")
    page.reload()
    expect(page.get_by_role("link", name="Disable svc-backup")).to_be_visible()
    assert_accessible(page, "queue with decisions")

    page.goto(f"{live_server.url}/decisions/{decision.public_id}/")
    expect(page.get_by_role("button", name="Record my verdict")).to_be_visible()
    assert_accessible(page, "decision page with the sign-off form")

    page.get_by_label("Override (change the action)").check()
    page.get_by_role("button", name="Record my verdict").click()  # no reason, no rationale
    expect(page.get_by_text("A rationale is required for every verdict.")).to_be_visible()
    assert_accessible(page, "sign-off form with errors")
    screenshot("analyst-sign-off-errors")

    page.get_by_role("link", name="Notifications").click()
    expect(page.get_by_label("Email me when a decision waits for my sign-off")).to_be_checked()
    assert_accessible(page, "notification settings")


def test_reviewer_pages_have_no_accessibility_violations(page, live_server, screenshot):
    scene = signing_scene(live_server)
    decided = submit(scene.action_type, integration=scene.integration, title="Isolate wks-042")
    signing.decision_sign_off(
        decision=decided,
        actor=scene.analyst,
        verdict="override",
        reason_code="scope_too_broad",
        rationale="Block outbound traffic only.",
        override_action={"target": {"host": "wks-042", "scope": "outbound"}},
    )
    for n in range(3):
        submit(scene.action_type, integration=scene.integration, title=f"Pending {n}")
    auditor = make_user_in_group(rbac.AUDITOR, username="alan")

    log_in(page, live_server, auditor)
    page.goto(f"{live_server.url}/decisions/all/")
    expect(page.get_by_role("link", name="Isolate wks-042")).to_be_visible()
    assert_accessible(page, "all decisions")
    screenshot("reviewer-all-decisions")

    page.goto(f"{live_server.url}/decisions/all/?created_from=2031-01-15&created_to=2031-01-01")
    expect(page.get_by_text("The end date is before the start date.")).to_be_visible()
    assert_accessible(page, "all decisions with a filter error")

    page.get_by_role("link", name="Clear").click()
    page.get_by_role("link", name="Isolate wks-042").click()
    expect(page.get_by_text("This decision is overridden: it takes no more verdicts.")).to_be_visible()
    assert_accessible(page, "a decided decision, read by an auditor")

    response = page.goto(f"{live_server.url}/decisions/00000000-0000-4000-8000-000000000000/")
    assert response.status == 404
    assert_accessible(page, "not found")
    log_out(page)

    lead = make_user_in_group(rbac.GOVERNANCE_LEAD, username="grace")
    log_in(page, live_server, lead)
    page.goto(f"{live_server.url}/decisions/all/?status=pending")
    page.get_by_role("link", name="Pending 0").click()
    expect(page.get_by_role("button", name="Reassign")).to_be_visible()
    assert_accessible(page, "a pending decision with the reassign form, read by a lead")
    screenshot("lead-reassign")
