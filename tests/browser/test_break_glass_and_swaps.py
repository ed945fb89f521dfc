"""Break-glass and governed shift swaps in real Chromium, with axe on every new page (zero
violations of any impact): an analyst breaks glass on a two-approval decision, the integration
learns it was break-glass, a colleague reviews it; an on-call analyst hands a shift over, a
cover to someone uncertified is refused with the gap named, and the other person accepts."""

from datetime import date, time

import pytest
from playwright.sync_api import expect
from standardwebhooks.webhooks import Webhook

from decisions.models import BreakGlass
from governance import rbac
from governance.models import ApprovalPolicy, ShiftSwap
from tests.browser.scenes import integration_learns_verdict, log_in, log_out, signing_scene, submission
from tests.browser.test_analyst_pages_a11y import assert_accessible
from tests.governance.factories import (
    ActionTypeFactory,
    CertificationFactory,
    DecisionRoleFactory,
    OwnershipAssignmentFactory,
    RosterFactory,
    UserFactory,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

REASON = "Credential dumping is spreading from wks-042; the second approver is unreachable."


def test_an_analyst_breaks_glass_and_a_colleague_reviews_it(page, live_server, screenshot, receiver):
    scene = signing_scene(live_server, required_approvals=2, webhook_url=receiver.url)
    ApprovalPolicy.objects.filter(name="Containment needs its owner").update(allows_break_glass=True)
    omar = UserFactory(username="omar", first_name="Omar", last_name="Haddad", groups=[rbac.ANALYST])
    RosterFactory(role=scene.role, name="Tier-3 second line", users=[omar])
    CertificationFactory(user=omar, role=scene.role)
    created = scene.api.submit(submission(scene.action_type), idempotency_key="inc-4711-glass")

    log_in(page, live_server, scene.analyst)
    page.get_by_role("link", name="Isolate wks-042", exact=True).click()
    expect(page.get_by_role("heading", name="Break glass")).to_be_visible()
    assert_accessible(page, "decision page with the break-glass panel")

    page.get_by_role("button", name="Break glass and execute now").click()  # no reason, no tick
    expect(page.get_by_text("The glass is not broken: Say why this cannot wait for the quorum.")).to_be_visible()
    assert_accessible(page, "break-glass refused for want of a reason")

    page.get_by_label("Why this cannot wait for the quorum").fill(REASON)
    page.get_by_label("I execute this decision now, on my own authority").check()
    page.get_by_role("button", name="Break glass and execute now").click()
    expect(page.get_by_text("Break-glass recorded: the decision is approved (break-glass).")).to_be_visible()
    expect(page.get_by_role("heading", name="Your review")).to_be_visible()
    expect(page.get_by_text("You cannot review it: You broke the glass")).to_be_visible()
    assert_accessible(page, "the break-glass page, read by the person who broke it")
    screenshot("break-glass-used")

    integration_learns_verdict(
        scene.api, created["id"], status="approved", receiver=receiver, secret=scene.integration.webhook_secret
    )
    (verdict,) = [Webhook(scene.integration.webhook_secret).verify(r.body, r.headers) for r in receiver.accepted]
    assert verdict["data"]["break_glass"]["reason"] == REASON
    assert verdict["data"]["break_glass"]["by"] == "nadia"
    log_out(page)

    log_in(page, live_server, omar)
    page.get_by_role("link", name="Break-glass").click()
    expect(page.get_by_role("row", name="Isolate wks-042")).to_contain_text("Waiting")
    assert_accessible(page, "the list of break-glass uses")
    page.get_by_role("link", name="Isolate wks-042").click()
    page.get_by_role("button", name="Record my review").click()
    expect(page.get_by_text("Confirm or condemn the break-glass.")).to_be_visible()
    assert_accessible(page, "the review form with errors")
    page.get_by_label("Confirmed: it was right to act").check()
    page.get_by_label("Rationale").fill("Dumping confirmed in EDR; waiting would have cost the segment.")
    page.get_by_role("button", name="Record my review").click()
    expect(page.get_by_text("Your review is recorded in the decision log.")).to_be_visible()
    assert_accessible(page, "a reviewed break-glass")
    screenshot("break-glass-reviewed")

    assert BreakGlass.objects.get().review == "confirmed"


def swap_scene():
    role = DecisionRoleFactory(slug="tier-3-analyst", name="Tier-3 Analyst")
    OwnershipAssignmentFactory(action_type=ActionTypeFactory(slug="isolate-host", name="Isolate host"), owner_role=role)
    nadia = UserFactory(username="nadia", first_name="Nadia", last_name="Rahman", groups=[rbac.ANALYST])
    omar = UserFactory(username="omar", first_name="Omar", last_name="Haddad", groups=[rbac.ANALYST])
    uma = UserFactory(username="uma", first_name="Uma", last_name="Novak", groups=[rbac.ANALYST])
    roster = RosterFactory(
        role=role, name="Tier-3 daily", users=[nadia, omar, uma], rotation_days=1, handoff_time=time(9, 0),
        rotation_start=date(2026, 1, 1),
    )  # fmt: skip
    for person in (nadia, omar):  # Uma's certification is still to come
        CertificationFactory(user=person, role=role)
    return roster, nadia, omar, uma


def propose_cover(page, to: str) -> None:
    page.get_by_label("Cover (take my shift)").check()
    page.get_by_label("My shift to hand over").select_option(index=1)
    page.get_by_label("Who takes it").select_option(label=to)
    page.get_by_label("Why", exact=True).fill("Family wedding that day.")
    page.get_by_role("button", name="Propose").click()


def test_an_analyst_hands_a_shift_over_and_the_other_accepts(page, live_server, screenshot):
    roster, nadia, omar, _uma = swap_scene()

    log_in(page, live_server, nadia)
    page.get_by_role("link", name="Rosters").click()
    assert_accessible(page, "the roster list")
    page.get_by_role("link", name="Tier-3 daily").click()
    expect(page.get_by_role("heading", name="Next 14 days")).to_be_visible()
    assert_accessible(page, "the roster's next 14 days")

    propose_cover(page, "Uma Novak")
    expect(page.get_by_role("alert")).to_contain_text("Refused: this swap would open a governance gap.")
    expect(page.get_by_role("alert")).to_contain_text("Uma Novak is not certified for it then")
    assert_accessible(page, "a swap refused with the gap named")
    screenshot("swap-refused-gap")

    propose_cover(page, "Omar Haddad")
    expect(page.get_by_text("Proposed: the other person is asked to accept it on this page.")).to_be_visible()
    expect(page.locator("[data-swaps]")).to_contain_text("Waiting for the other person")
    expect(page.get_by_role("button", name="Accept")).to_have_count(0)  # not hers to accept
    log_out(page)

    log_in(page, live_server, omar)
    page.goto(f"{live_server.url}/decisions/rosters/{roster.public_id}/")
    assert_accessible(page, "the roster with a swap waiting for this person")
    page.get_by_role("button", name="Accept").click()
    expect(page.get_by_text("Accepted: the swap is applied to the roster.")).to_be_visible()
    row = page.locator("[data-schedule] tr.from-swap")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Omar Haddad")
    expect(row).to_contain_text("Cover (take my shift): Nadia Rahman ↔ Omar Haddad")
    assert_accessible(page, "the roster after the swap")
    screenshot("swap-applied")

    assert ShiftSwap.objects.get().status == ShiftSwap.Status.APPLIED
