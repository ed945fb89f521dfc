"""The review dashboard over 10,000 seeded decisions, in Chromium: a full-page screenshot, chart
and table values checked against figures this test computes itself from the rows (ORM counts
and Python, never ``review_figures``), and axe-core with zero violations."""

from __future__ import annotations

import math
import re
import struct
from collections import Counter
from datetime import timedelta

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.db.models import Count, Q
from django.utils import timezone
from playwright.sync_api import expect

from decisions.models import DecisionRequest, DecisionStatus, Outcome, OutcomeKind
from decisions.review.cycle import freeze_report
from decisions.review.figures import Period
from decisions.seeding.history import seed_history
from governance import rbac
from tests.browser.scenes import log_in
from tests.governance.factories import make_user_in_group

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DECISIONS = 10_000
HUMAN_VERDICTS = (DecisionStatus.APPROVED, DecisionStatus.OVERRIDDEN, DecisionStatus.REJECTED)

# Each bar of a pygal chart: the series it belongs to, its label and its value (pygal writes them
# into <desc> elements of the SVG).
BARS_JS = """svg => [...svg.querySelectorAll('g.series')]
    .filter(series => series.querySelector('g.bars'))
    .map(series => [...series.querySelectorAll('g.bar')].map(bar => [
        bar.querySelector('desc.x_label').textContent,
        Number(bar.querySelector('desc.value').textContent),
    ]))"""


def nearest_rank(values: list[float], p: int) -> float:
    ordered = sorted(values)
    return ordered[math.ceil(p * len(ordered) / 100) - 1]


def png_size(path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", data[16:24])


def figure(page, table: str, key: str) -> float:
    cell = page.locator(f'table[data-figures="{table}"] tr[data-key="{key}"] data').first
    return float(cell.get_attribute("value"))


def test_dashboard_of_ten_thousand_decisions_matches_the_rows(page, live_server, tmp_path):
    # First: a transactional test's flush removed the role groups, and the factory recreates them.
    lead = make_user_in_group(rbac.GOVERNANCE_LEAD, username="grace", first_name="Grace", last_name="Hopper")
    summary = seed_history(decisions=DECISIONS, days=60, seed=6, now=timezone.now() - timedelta(minutes=1))
    assert summary["decisions"] == DECISIONS

    # What the page must show, computed here from the rows.
    decisions = DecisionRequest.objects.all()
    statuses = Counter(dict(decisions.values_list("status").annotate(n=Count("id"))))
    per_action_type = {
        name: (auto, total - auto)
        for name, total, auto in decisions.values_list("action_type__name")
        .annotate(total=Count("id"), auto=Count("id", filter=Q(status=DecisionStatus.AUTO_APPROVED)))
        .values_list("action_type__name", "total", "auto")
    }
    outcomes = Outcome.objects.count()
    false_positives = Outcome.objects.filter(kind=OutcomeKind.FALSE_POSITIVE).count()
    waits = [
        (decided - created).total_seconds()
        for created, decided in decisions.filter(status__in=HUMAN_VERDICTS).values_list("created_at", "decided_at")
    ]

    log_in(page, live_server, lead)
    page.get_by_role("link", name="Review", exact=True).click()
    page.get_by_role("combobox", name="Period").select_option("90")
    page.get_by_role("button", name="Show", exact=True).click()
    expect(page.get_by_role("heading", name="By action type")).to_be_visible()
    assert "days=90" in page.url

    # Tables: the accessible truth.
    assert figure(page, "totals", "total") == DECISIONS
    for status in DecisionStatus:
        key = "auto" if status == DecisionStatus.AUTO_APPROVED else status.value
        assert figure(page, "totals", key) == statuses[status.value], status
    assert figure(page, "totals", "false_positive_rate") == pytest.approx(false_positives / outcomes, abs=5e-5)
    expect(page.locator('table[data-figures="totals"] tr[data-key="false_positive_rate"]')).to_contain_text(
        f"{false_positives} of {outcomes}"
    )
    assert figure(page, "totals", "p50") == pytest.approx(nearest_rank(waits, 50), abs=0.01)
    assert figure(page, "totals", "p90") == pytest.approx(nearest_rank(waits, 90), abs=0.01)
    action_type_rows = page.locator('table[data-figures="action_type"] tbody tr')
    shown = {
        row.locator("th").inner_text(): int(float(row.locator("data").first.get_attribute("value")))
        for row in action_type_rows.all()
    }
    assert shown == {name: auto + human for name, (auto, human) in per_action_type.items()}

    # Charts: the values pygal wrote into the SVG.
    status_bars = page.locator("#chart-review-status").evaluate(BARS_JS)
    assert dict(status_bars[0]) == {DecisionStatus(s).label: n for s, n in statuses.items() if n}
    auto_bars, human_bars = page.locator("#chart-review-action_type").evaluate(BARS_JS)
    largest = sorted(per_action_type.items(), key=lambda item: (-sum(item[1]), item[0]))[:15]
    assert dict(auto_bars) == {name: auto for name, (auto, _human) in largest}
    assert dict(human_bars) == {name: human for name, (_auto, human) in largest}
    expect(page.get_by_role("img", name="Decisions by action type: auto-approved and human")).to_be_visible()

    path = tmp_path / "review-dashboard.png"
    page.screenshot(path=str(path), full_page=True)
    width, height = png_size(path)
    assert width >= 1000
    assert height > 3000  # the whole page, not the viewport
    assert path.stat().st_size > 100_000

    results = Axe().run(page)
    assert results.violations_count == 0, results.generate_report()


def test_report_pages_and_sign_off_have_no_accessibility_violations(page, live_server):
    lead = make_user_in_group(rbac.GOVERNANCE_LEAD, username="grace", first_name="Grace", last_name="Hopper")
    now = timezone.now()
    seed_history(decisions=200, days=7, seed=2, now=now - timedelta(minutes=1))
    report = freeze_report(schedule=None, period=Period.last_days(7, now=now), now=now)
    axe = Axe()

    log_in(page, live_server, lead)
    page.goto(f"{live_server.url}/decisions/review/reports/")
    expect(page.get_by_text("Awaiting sign-off")).to_be_visible()
    results = axe.run(page)
    assert results.violations_count == 0, results.generate_report()

    page.get_by_role("link", name=re.compile(r"UTC –")).click()
    expect(page.get_by_role("heading", name=report.title)).to_be_visible()
    expect(page.locator('table[data-figures="totals"] tr[data-key="total"] data')).to_have_attribute(
        "value", str(report.figures["totals"]["total"])
    )
    page.get_by_role("button", name="Sign the review off").click()  # no notes
    expect(page.get_by_text("Give notes: what the review found and decided.")).to_be_visible()
    results = axe.run(page)
    assert results.violations_count == 0, results.generate_report()

    page.get_by_label("Review notes").fill("Tier-3 cover is thin at night.")
    page.get_by_label("Follow-up actions").fill("Certify a second analyst\nExtend the night roster")
    page.get_by_role("button", name="Sign the review off").click()
    expect(page.get_by_text("The review is signed off")).to_be_visible()
    expect(page.locator("#history")).to_contain_text("Signed off by Grace Hopper")
    results = axe.run(page)
    assert results.violations_count == 0, results.generate_report()
