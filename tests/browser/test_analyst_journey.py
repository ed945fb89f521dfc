"""Analysts in real Chromium: an integration submits through the API, the on-call analyst logs in,
finds it in the queue, reads it and signs; the integration then learns the verdict. Plus what
people who may not sign see, and signing with the keyboard only."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from decisions.models import SignOff
from governance import rbac
from tests.browser.scenes import (
    integration_learns_verdict,
    log_in,
    log_out,
    signing_scene,
    submission,
)
from tests.decisions.factories import submit
from tests.governance.factories import CertificationFactory, RosterFactory, UserFactory, make_user_in_group

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def open_from_queue(page, title):
    page.get_by_role("link", name=title, exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(title)


def sign(page, *, verdict, reason, rationale):
    page.get_by_label(verdict, exact=True).check()
    page.get_by_label("Reason", exact=True).select_option(label=reason)
    page.get_by_label("Rationale").fill(rationale)
    page.get_by_role("button", name="Record my verdict").click()


def test_analyst_approves_a_submitted_recommendation_and_the_integration_learns_it(
    page, live_server, screenshot, receiver
):
    scene = signing_scene(live_server, webhook_url=receiver.url)
    created = scene.api.submit(submission(scene.action_type), idempotency_key="inc-4711-isolate-1")
    assert created["status"] == "pending"

    log_in(page, live_server, scene.analyst)
    row = page.get_by_role("row", name=re.compile("Isolate wks-042"))
    expect(row).to_contain_text("Severity: High")
    expect(row).to_contain_text("Blast radius: Medium")
    expect(row).to_contain_text(re.compile(r"\d\d min \d\d s left"))  # the live countdown runs
    screenshot("analyst-queue")

    open_from_queue(page, "Isolate wks-042")
    expect(page.get_by_text("EDR shows credential dumping on wks-042")).to_be_visible()
    expect(page.locator("pre").filter(has_text='"process": "lsass.exe dump by rundll32"')).to_be_visible()
    expect(page.get_by_text("Containment needs its owner", exact=True)).to_be_visible()
    why = "Nadia Rahman — on call for Tier-3 Analyst via roster Tier-3 follow-the-sun on the rotation"
    expect(page.locator("li", has_text=why)).to_be_visible()
    screenshot("analyst-decision-detail")

    sign(page, verdict="Approve", reason="Evidence supports the action", rationale="Dump confirmed in EDR.")

    expect(page.get_by_text("Your approval is recorded. The decision is now approved.")).to_be_visible()
    expect(page.get_by_role("heading", name="Your verdict").locator("..")).to_contain_text(
        "This decision is approved: it takes no more verdicts."
    )
    answer = integration_learns_verdict(
        scene.api, created["id"], status="approved", receiver=receiver, secret=scene.integration.webhook_secret
    )
    assert answer["final_action"]["target"] == {"host": "wks-042.corp.example", "edr_id": "a1b2c3"}
    page.goto(f"{live_server.url}/decisions/")
    expect(page.get_by_role("heading", name="Nothing waits for you")).to_be_visible()


def test_analyst_narrows_one_action_by_override_and_rejects_another(page, live_server, screenshot, receiver):
    scene = signing_scene(live_server, webhook_url=receiver.url)
    narrowed = scene.api.submit(submission(scene.action_type), idempotency_key="inc-4711-isolate-1")
    rejected = scene.api.submit(
        submission(scene.action_type, title="Isolate build-07", incident_ref="INC-4712"),
        idempotency_key="inc-4712-isolate-1",
    )
    log_in(page, live_server, scene.analyst)

    open_from_queue(page, "Isolate wks-042")
    page.get_by_label("Override (change the action)").check()
    changed = page.get_by_label("Changed action (override only)")
    expect(changed).to_have_value(re.compile('"host": "wks-042.corp.example"'))  # pre-filled with the target
    expect(page.get_by_label("Reason", exact=True).locator("option", has_text="False positive")).to_be_disabled()
    changed.fill('{"target": {"host": "wks-042.corp.example", "scope": "block outbound only"}}')
    page.get_by_label("Reason", exact=True).select_option(label="Scope too broad: narrowed")
    page.get_by_label("Rationale").fill("Finance needs the laptop; blocking outbound traffic is enough.")
    page.get_by_role("button", name="Record my verdict").click()
    expect(page.get_by_text("Your override is recorded. The decision is now overridden.")).to_be_visible()
    screenshot("analyst-decision-overridden")

    page.get_by_role("link", name="My queue").first.click()
    open_from_queue(page, "Isolate build-07")
    sign(page, verdict="Reject", reason="False positive", rationale="The build server runs this scanner nightly.")
    expect(page.get_by_text("Your rejection is recorded. The decision is now rejected.")).to_be_visible()

    secret = scene.integration.webhook_secret
    overridden = integration_learns_verdict(
        scene.api, narrowed["id"], status="overridden", receiver=receiver, secret=secret
    )
    assert overridden["final_action"]["target"] == {"host": "wks-042.corp.example", "scope": "block outbound only"}
    assert overridden["final_action"]["overridden"] is True
    rejected_answer = integration_learns_verdict(
        scene.api, rejected["id"], status="rejected", receiver=receiver, secret=secret
    )
    assert rejected_answer["final_action"] is None


def test_queue_refreshes_itself_when_a_decision_arrives(page, live_server, monkeypatch):
    monkeypatch.setattr("decisions.web.views.QUEUE_REFRESH_SECONDS", 1)
    scene = signing_scene(live_server)
    log_in(page, live_server, scene.analyst)
    expect(page.get_by_role("heading", name="Nothing waits for you")).to_be_visible()

    submit(scene.action_type, integration=scene.integration, title="Isolate wks-099")

    expect(page.get_by_role("link", name="Isolate wks-099")).to_be_visible(timeout=5000)
    expect(page.locator("#refresh-status")).to_contain_text("Queue updated at")
    expect(page.locator("#refresh-status")).to_contain_text("1 decision waits for you")


def test_a_wrong_reason_is_explained_on_the_form_without_javascript(browser, live_server):
    """Without JavaScript every reason is offered; the server refuses one that does not fit."""
    scene = signing_scene(live_server)
    decision = submit(scene.action_type, integration=scene.integration)
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        log_in(page, live_server, scene.analyst)
        expect(page.get_by_text(re.compile(r"^in \d+\xa0minutes$"))).to_be_visible()  # the deadline, printed
        page.goto(f"{live_server.url}/decisions/{decision.public_id}/")
        sign(page, verdict="Approve", reason="False positive", rationale="Looks fine.")
        expect(page.get_by_text("This reason does not fit “Approve”")).to_be_visible()
        expect(page.get_by_label("Rationale")).to_have_value("Looks fine.")
    finally:
        context.close()


def test_people_who_may_not_sign_read_why_instead_of_a_form(page, live_server):
    scene = signing_scene(live_server)
    # Omar was on call and certified when the decision was routed; his certification lapsed since.
    expired = UserFactory(username="omar", groups=[rbac.ANALYST])
    RosterFactory(role=scene.role, users=[expired])
    certification = CertificationFactory(user=expired, role=scene.role)
    decision = submit(scene.action_type, integration=scene.integration, title="Isolate wks-077")
    certification.valid_until = timezone.now() - timedelta(seconds=1)
    certification.save()
    own_submission = submit(scene.action_type, integration=scene.integration, actor=scene.analyst, title="Own")
    auditor = make_user_in_group(rbac.AUDITOR, username="alan")
    off_call = UserFactory(username="tom", groups=[rbac.ANALYST])
    CertificationFactory(user=off_call, role=scene.role)

    def detail(d):
        return f"{live_server.url}/decisions/{d.public_id}/"

    log_in(page, live_server, expired)
    page.goto(detail(decision))
    expect(page.get_by_text("Your certification for this role has expired or was revoked")).to_be_visible()
    expect(page.get_by_role("button", name="Record my verdict")).to_have_count(0)
    log_out(page)

    log_in(page, live_server, scene.analyst)
    page.goto(detail(own_submission))
    expect(page.get_by_text("You submitted this decision, so you cannot sign it.")).to_be_visible()
    expect(page.get_by_role("button", name="Record my verdict")).to_have_count(0)
    log_out(page)

    log_in(page, live_server, auditor)
    page.goto(detail(decision))
    expect(page.get_by_role("heading", level=1)).to_have_text("Isolate wks-077")
    expect(page.get_by_text("You cannot sign this decision")).to_be_visible()
    expect(page.get_by_role("button", name="Record my verdict")).to_have_count(0)
    expect(page.get_by_role("link", name="All decisions")).to_be_visible()
    log_out(page)

    log_in(page, live_server, off_call)
    response = page.goto(detail(decision))
    assert response.status == 404
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    expect(page.get_by_role("link", name="All decisions")).to_have_count(0)

    page.context.clear_cookies()
    page.goto(detail(decision))
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/decisions/"))


def test_analyst_signs_with_the_keyboard_only(page, live_server):
    scene = signing_scene(live_server)
    decision = submit(scene.action_type, integration=scene.integration)
    log_in(page, live_server, scene.analyst)
    page.goto(f"{live_server.url}/decisions/{decision.public_id}/")

    for _ in range(60):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.name") == "verdict":
            break
    else:
        pytest.fail("Tab never reached the verdict radio buttons")
    page.keyboard.press("Space")  # the first verdict: Approve
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.name") == "reason_code"
    page.keyboard.type("Evidence")  # type-ahead picks "Evidence supports the action"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.name") == "rationale"
    page.keyboard.type("Dump confirmed in EDR; approved from the keyboard.")
    page.keyboard.press("Tab")  # the hidden override box is skipped
    assert page.evaluate("document.activeElement.textContent") == "Record my verdict"
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none", "the focused button shows no focus outline"
    page.keyboard.press("Enter")

    expect(page.get_by_text("Your approval is recorded. The decision is now approved.")).to_be_visible()
    assert SignOff.objects.get().reason_code == "evidence_sufficient"
