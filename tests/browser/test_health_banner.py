"""The stalled-sweep banner in Chromium: it appears on the analyst page and in the admin when
the sweep's heartbeat is older than three periods, is announced to assistive technology
(role=alert), has no accessibility violations, and is gone once the real sweep runs again."""

from datetime import timedelta

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.utils import timezone
from playwright.sync_api import expect

from decisions.escalation import sweep
from decisions.models import Heartbeat
from governance import rbac
from tests.browser.scenes import PASSWORD, log_in
from tests.governance.factories import make_user_in_group

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
STALLED = "Escalations are not running since"


def test_the_banner_shows_while_the_sweep_is_stopped_and_goes_when_it_runs(page, live_server, settings, screenshot):
    settings.ESCALATION_SWEEP_SECONDS = 5
    Heartbeat.objects.create(name=Heartbeat.SWEEP, at=timezone.now() - timedelta(minutes=2))
    analyst = make_user_in_group(rbac.ANALYST, is_staff=False)
    analyst.set_password(PASSWORD)
    analyst.save()

    log_in(page, live_server, analyst)
    banner = page.get_by_role("alert").filter(has_text=STALLED)
    expect(banner).to_be_visible()
    results = Axe().run(page)
    assert results.violations_count == 0, results.generate_report()
    screenshot("health-banner-stalled-sweep")

    sweep.sweep_overdue()
    page.reload()

    expect(page.get_by_role("heading", level=1)).to_be_visible()
    expect(page.get_by_text(STALLED)).to_have_count(0)


def test_the_admin_shows_the_banner(page, live_server, settings):
    settings.ESCALATION_SWEEP_SECONDS = 5
    Heartbeat.objects.create(name=Heartbeat.SWEEP, at=timezone.now() - timedelta(minutes=2))
    lead = make_user_in_group(rbac.GOVERNANCE_LEAD)
    lead.set_password(PASSWORD)
    lead.save()

    page.goto(f"{live_server.url}/admin/login/")
    page.get_by_label("Username").fill(lead.get_username())
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()

    expect(page.get_by_role("alert").filter(has_text=STALLED)).to_be_visible()
