"""The periodic review pages: the dashboard (period selector, figures, charts, gaps, exports),
the frozen reports and the review sign-off. Decisions are written straight to the tables with
past submission times (the figures read rows, not the routing that made them)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from xml.etree import ElementTree

import pytest
from django.utils import timezone

from decisions.models import (
    DecisionStatus,
    OutcomeKind,
    ReasonCode,
    ReviewReport,
    ReviewSchedule,
    Verdict,
)
from decisions.review import charts
from decisions.review.cycle import freeze_report, last_complete_period
from decisions.review.figures import Period, review_figures
from governance import rbac
from governance.gaps import GapKind
from tests.decisions.factories import make_integration, make_past_decision
from tests.decisions.scenarios import outcome_row, signoff_row
from tests.governance.factories import ActionTypeFactory, DecisionRoleFactory, UserFactory, make_user_in_group

pytestmark = pytest.mark.django_db

DASHBOARD = "/decisions/review/"
REPORTS = "/decisions/review/reports/"
NOW = timezone.now().replace(microsecond=0)
_titles = itertools.count(1)


def make_decision(integration, action_type, *, status=DecisionStatus.APPROVED, age=timedelta(days=2), **fields):
    model = (fields.pop("model_name", "triage-agent"), fields.pop("model_version", "2026.11"))
    return make_past_decision(integration, action_type, created=NOW - age, status=status, model=model, **fields)


@pytest.fixture
def scene():
    """Isolate-host decisions owned by Tier-3: two approved (one later a false positive), one
    rejected, one pending; Nadia signed the decided ones."""
    role = DecisionRoleFactory(name="Tier-3 Analyst")
    isolate = ActionTypeFactory(name="Isolate host")
    integration = make_integration(isolate)
    nadia = UserFactory(username="nadia", first_name="Nadia", last_name="Rahman")
    approved = make_decision(integration, isolate, owner_role=role, minutes=4)
    signoff_row(approved, nadia, role)
    outcome_row(approved, OutcomeKind.FALSE_POSITIVE)
    second = make_decision(integration, isolate, owner_role=role, minutes=8)
    signoff_row(second, nadia, role)
    outcome_row(second, OutcomeKind.TRUE_POSITIVE)
    rejected = make_decision(integration, isolate, owner_role=role, status=DecisionStatus.REJECTED, minutes=30)
    signoff_row(rejected, nadia, role, Verdict.REJECT, ReasonCode.INSUFFICIENT_EVIDENCE)
    make_decision(integration, isolate, owner_role=role, status=DecisionStatus.PENDING)
    return {"role": role, "action_type": isolate, "integration": integration, "signer": nadia}


@pytest.fixture
def lead():
    return make_user_in_group(rbac.GOVERNANCE_LEAD, username="grace", first_name="Grace", last_name="Hopper")


@pytest.fixture
def auditor():
    return make_user_in_group(rbac.AUDITOR, username="alan", is_staff=False)


def row_values(html: str, table: str, key: str) -> str:
    """The HTML of one row of one figures table (tables carry data-figures, rows data-key)."""
    start = html.index(f'data-figures="{table}"')
    row = html.index(f'data-key="{key}"', start)
    return html[row : html.index("</tr>", row)]


def gap_group(html: str, kind: str) -> str:
    start = html.index(f'data-kind="{kind}"')
    end = html.find("data-kind=", start + 1)
    return html[start : end if end != -1 else len(html)]


# --- Access ---------------------------------------------------------------------------------


def test_anonymous_visitor_is_sent_to_log_in(client):
    response = client.get(DASHBOARD)

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize("path", [DASHBOARD, REPORTS])
def test_analyst_is_refused_the_review_with_the_sites_403_page(client, path):
    client.force_login(make_user_in_group(rbac.ANALYST))

    response = client.get(path)

    assert response.status_code == 403
    assert "Only governance leads and auditors can see the periodic review." in response.content.decode()


def test_analyst_is_refused_a_frozen_report(client):
    report = freeze_report(schedule=None, period=Period.last_days(7))
    client.force_login(make_user_in_group(rbac.ANALYST))

    assert client.get(f"{REPORTS}{report.public_id}/").status_code == 403


@pytest.mark.parametrize("group", [rbac.GOVERNANCE_LEAD, rbac.AUDITOR])
def test_leads_and_auditors_see_the_dashboard(client, group):
    client.force_login(make_user_in_group(group))

    response = client.get(DASHBOARD)

    assert response.status_code == 200
    assert "<h1>Periodic review</h1>" in response.content.decode()


def test_nav_links_the_review_for_reviewers_only(client, auditor):
    client.force_login(auditor)
    assert 'href="/decisions/review/"' in client.get("/decisions/").content.decode()

    client.force_login(make_user_in_group(rbac.ANALYST))
    assert 'href="/decisions/review/"' not in client.get("/decisions/").content.decode()


def test_head_is_answered_like_get(client, lead):
    client.force_login(lead)

    for path in (DASHBOARD, REPORTS, "/decisions/review/export/decisions.csv", "/decisions/review/evidence/"):
        response = client.head(path)
        assert response.status_code == 200, path


def test_dashboard_refuses_post(client, lead):
    client.force_login(lead)

    assert client.post(DASHBOARD).status_code == 405


# --- Period selector --------------------------------------------------------------------------


def test_default_period_is_the_last_30_days(client, lead):
    client.force_login(lead)

    period = client.get(DASHBOARD).context["period"]

    assert period.end - period.start == timedelta(days=30)


@pytest.mark.parametrize("days", [7, 30, 90, 365])
def test_preset_sets_the_period_length(client, lead, days):
    client.force_login(lead)

    response = client.get(DASHBOARD, {"days": days})

    assert response.context["period"].end - response.context["period"].start == timedelta(days=days)
    assert f'<option value="{days}" selected>' in response.content.decode()


def test_preset_counts_only_decisions_submitted_within_it(client, lead, scene):
    make_decision(scene["integration"], scene["action_type"], age=timedelta(days=10))
    client.force_login(lead)

    week = client.get(DASHBOARD, {"days": 7}).context["figures"]["totals"]["total"]
    month = client.get(DASHBOARD, {"days": 30}).context["figures"]["totals"]["total"]

    assert (week, month) == (4, 5)


def test_custom_dates_are_whole_days_in_the_current_time_zone(client, lead, settings):
    settings.TIME_ZONE = "America/New_York"
    client.force_login(lead)

    period = client.get(DASHBOARD, {"start": "2026-03-01", "end": "2026-03-07"}).context["period"]

    assert period.start == datetime(2026, 3, 1, 5, 0, tzinfo=UTC)  # midnight EST
    assert period.end == datetime(2026, 3, 8, 5, 0, tzinfo=UTC)


def test_export_links_carry_the_period(client, lead):
    client.force_login(lead)

    html = client.get(DASHBOARD, {"start": "2026-03-01", "end": "2026-03-07"}).content.decode()

    for dataset in ("decisions", "signoffs", "events"):
        for fmt in ("csv", "json"):
            assert f'href="/decisions/review/export/{dataset}.{fmt}?start=2026-03-01&amp;end=2026-03-07"' in html
    assert 'href="/decisions/review/evidence/?start=2026-03-01&amp;end=2026-03-07"' in html


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"days": "abc"}, "days must be a whole number."),
        ({"days": "0"}, "days must be between 1 and 3660."),
        ({"start": "2026-03-01"}, "Give both a start and an end date, or neither."),
        ({"start": "2026-03-01", "end": "March 7"}, "Dates must be written YYYY-MM-DD."),
        ({"start": "2026-03-07", "end": "2026-03-01"}, "The end date must not be before the start date."),
    ],
)
def test_bad_period_shows_the_message_and_the_form_with_status_400(client, lead, params, message):
    client.force_login(lead)

    response = client.get(DASHBOARD, params)

    html = response.content.decode()
    assert response.status_code == 400
    assert f'<p class="notice" role="alert">{message}</p>' in html
    assert 'name="days"' in html
    assert 'name="start"' in html
    assert "data-figures" not in html


@pytest.mark.parametrize(
    ("zone", "start", "end"),
    [
        ("UTC", "9999-12-31", "9999-12-31"),  # the day after the last day is past year 9999
        ("Pacific/Kiritimati", "9999-12-30", "9999-12-31"),
        ("America/Adak", "0001-01-01", "0001-01-01"),  # local midnight is still year 1 in UTC, hours later
        ("UTC", "1969-12-31", "1970-01-01"),
    ],
)
def test_dates_beyond_what_a_period_can_hold_are_a_400_not_a_500(client, lead, settings, zone, start, end):
    settings.TIME_ZONE = zone
    client.force_login(lead)

    response = client.get(DASHBOARD, {"start": start, "end": end})

    assert response.status_code == 400
    assert "Dates must fall between 1970-01-01 and 9998-12-31." in response.content.decode()


# --- Figures, charts, empty state -----------------------------------------------------------------


def test_dashboard_shows_the_totals(client, lead, scene):
    client.force_login(lead)

    html = client.get(DASHBOARD).content.decode()

    assert '<data value="4">4</data>' in row_values(html, "totals", "total")
    assert '<data value="1">1</data>' in row_values(html, "totals", "pending")
    assert '<data value="0.5">50.0 %</data><span class="sub">1 of 2</span>' in row_values(
        html, "totals", "false_positive_rate"
    )
    assert '<data value="480.0">8 min</data>' in row_values(html, "totals", "p50")


def test_dashboard_shows_each_dimension_with_its_chart(client, lead, scene):
    client.force_login(lead)

    html = client.get(DASHBOARD).content.decode()

    assert "Isolate host" in row_values(html, "action_type", str(scene["action_type"].pk))
    assert "Tier-3 Analyst" in row_values(html, "owner_role", str(scene["role"].pk))
    assert "triage-agent 2026.11" in row_values(html, "model", "triage-agent 2026.11")
    assert "Nadia Rahman" in row_values(html, "approver", str(scene["signer"].pk))
    assert "Evidence insufficient" in row_values(html, "reasons_reject", ReasonCode.INSUFFICIENT_EVIDENCE)
    for key in ("status", "action_type", "owner_role", "time_owner_role", "model", "approver", "reasons_reject"):
        assert f'id="chart-review-{key}"' in html
    assert "No overrides in this period." in html


def test_charts_are_inline_svg_without_script_or_external_urls(client, lead, scene):
    client.force_login(lead)

    html = client.get(DASHBOARD).content.decode()

    assert html.count("<svg") == 7
    assert html.count("<script") == 1  # the page's own pages.js, nothing from the charts
    assert 'role="img" aria-label="Decisions by action type: auto-approved and human"' in html
    assert "<title>Decisions by action type: auto-approved and human</title>" in html
    for external in ("pygal.org", "github.com", "googleapis", "cdn", "xml-stylesheet", "<?xml"):
        assert external not in html


def test_empty_period_shows_an_empty_state(client, lead):
    client.force_login(lead)

    html = client.get(DASHBOARD).content.decode()

    assert "No decisions in this period" in html
    assert "<svg" not in html
    assert "data-figures" not in html


def test_definitions_are_explained(client, lead):
    client.force_login(lead)

    html = client.get(DASHBOARD).content.decode()

    assert "How the figures are counted" in html
    assert "Over-blocking" in html


def test_script_in_an_action_type_name_is_escaped_in_chart_and_table(client, lead):
    evil = ActionTypeFactory(name="<script>alert('owned')</script>")
    make_decision(make_integration(evil), evil)
    client.force_login(lead)

    html = client.get(DASHBOARD).content.decode()

    assert "<script>alert" not in html
    chart = html[
        html.index('id="chart-review-action_type"') : html.index("</svg>", html.index("chart-review-action_type"))
    ]
    assert "&lt;script&gt;alert(" in chart
    assert "&lt;script&gt;alert(" in row_values(html, "action_type", str(evil.pk))


def test_hostile_model_and_role_names_are_escaped_in_charts_and_tables(client, lead):
    """AI model names come from the integrations' API calls, role names from the admin."""
    role = DecisionRoleFactory(name='Tier-3 <img src=x onerror="alert(1)">')
    action_type = ActionTypeFactory(name="Isolate host")
    make_decision(
        make_integration(action_type), action_type, owner_role=role, model_name="<svg onload=alert(2)>", minutes=3
    )
    client.force_login(lead)

    html = client.get(DASHBOARD).content.decode()

    assert "<img src=x" not in html
    assert "<svg onload" not in html
    assert "&lt;svg onload=alert(2)&gt;" in row_values(html, "model", "&lt;svg onload=alert(2)&gt; 2026.11")
    chart = html[
        html.index('id="chart-review-owner_role"') : html.index("</svg>", html.index("chart-review-owner_role"))
    ]
    assert "Tier-3 &lt;img src=x" in chart


def test_chart_svg_is_well_formed_and_keeps_a_hostile_label_as_text():
    label = '</text><script>x()</script><a b="'
    figures = {
        "by_model": [{"key": "m", "label": label, "auto": 1, "human": 2}],
    }

    svg = charts.dimension_chart(figures, "model", "AI model version").svg

    root = ElementTree.fromstring(svg)  # noqa: S314 - our own chart, not untrusted XML
    texts = {el.text for el in root.iter() if el.tag.endswith("text")}
    assert label in texts
    assert not [el for el in root.iter() if el.tag.endswith("script")]


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(None, "—"), (12.4, "12 s"), (300, "5 min"), (5400, "1 h 30 min"), (7200, "2 h"), (200_000, "2 d 7 h")],
)
def test_durations_are_shown_in_human_units(seconds, shown):
    assert charts.duration(seconds) == shown


# --- Ownership gaps ---------------------------------------------------------------------------


def test_dashboard_lists_gaps_with_fix_links_for_staff(client, lead):
    orphan = ActionTypeFactory(name="Disable account")
    client.force_login(lead)

    html = client.get(DASHBOARD).content.decode()

    group = gap_group(html, GapKind.UNOWNED_ACTION_TYPE)
    assert "1 · critical" in group
    assert "Disable account" in group
    assert f'href="/admin/governance/ownershipassignment/add/?action_type={orphan.pk}"' in group


def test_gap_fix_links_are_hidden_from_non_staff(client, auditor):
    ActionTypeFactory(name="Disable account")
    client.force_login(auditor)

    html = client.get(DASHBOARD).content.decode()

    assert "Disable account" in html
    assert "/admin/governance/ownershipassignment/add/" not in html


def test_every_gap_kind_is_listed_even_when_empty(client, lead):
    client.force_login(lead)

    html = client.get(DASHBOARD).content.decode()

    for kind in GapKind.LABELS:
        assert f'data-kind="{kind}"' in html


# --- Frozen reports ---------------------------------------------------------------------------


def frozen(now=None) -> ReviewReport:
    return freeze_report(schedule=None, period=Period.last_days(7, now=now or NOW), now=now or NOW)


def test_report_list_shows_period_and_sign_off_state(client, auditor, lead, scene):
    waiting = frozen()
    signed = frozen(NOW - timedelta(days=7))
    signed.signed_off_by, signed.signed_off_at, signed.signoff_notes = lead, NOW, "Fine."
    signed.save()
    client.force_login(auditor)

    html = client.get(REPORTS).content.decode()

    assert f'href="/decisions/review/reports/{waiting.public_id}/"' in html
    assert "Awaiting sign-off" in html
    assert "Signed off by Grace Hopper" in html


def test_a_report_is_named_for_the_local_days_of_its_schedule(client, lead, settings):
    """A Berlin week starts at 23:00 UTC on the Sunday before, and its end is the next Monday:
    the name gives the first and last local days, not the UTC dates of its bounds."""
    settings.TIME_ZONE = "Europe/Berlin"
    schedule = ReviewSchedule.objects.create(name="Berlin weekly", time_zone="Europe/Berlin")
    week = last_complete_period(schedule, now=datetime(2026, 1, 14, 12, tzinfo=UTC))  # Mon 5 – Sun 11 Jan
    report = freeze_report(schedule=schedule, period=week)
    client.force_login(lead)

    page = client.get(f"{REPORTS}{report.public_id}/").content.decode()
    dashboard = client.get(DASHBOARD).content.decode()

    assert "<title>Review 2026-01-05 – 2026-01-11 · Countersign</title>" in page
    assert "<h1>Review 2026-01-05 – 2026-01-11</h1>" in page
    assert f'href="/decisions/review/reports/{report.public_id}/">Review 2026-01-05 – 2026-01-11</a>' in dashboard


def test_report_list_is_paginated(client, auditor):
    for week in range(27):
        start = NOW - timedelta(days=7 * (week + 1))
        ReviewReport.objects.create(
            period_start=start, period_end=start + timedelta(days=7), frozen_at=NOW, figures={}, gaps=[]
        )
    client.force_login(auditor)

    response = client.get(REPORTS, {"page": 2})

    assert len(response.context["page"].object_list) == 2
    assert "page 2 of 2" in response.content.decode()


def test_report_shows_frozen_figures_even_after_new_decisions(client, auditor, scene):
    report = frozen()
    for _ in range(3):
        make_decision(scene["integration"], scene["action_type"], age=timedelta(days=1))
    client.force_login(auditor)

    response = client.get(f"{REPORTS}{report.public_id}/")

    html = response.content.decode()
    assert response.context["figures"] == report.figures
    assert '<data value="4">4</data>' in row_values(html, "totals", "total")
    assert review_figures(Period.last_days(7, now=NOW))["totals"]["total"] == 7


def test_report_shows_frozen_gaps_not_live_ones(client, lead):
    report = frozen()
    ActionTypeFactory(name="Disable account")  # an ownership gap born after the freeze
    client.force_login(lead)

    html = client.get(f"{REPORTS}{report.public_id}/").content.decode()

    assert "Ownership gaps when frozen" in html
    assert "Disable account" not in html


def test_report_frozen_in_another_format_is_shown_as_stored_not_an_error(client, auditor):
    report = ReviewReport.objects.create(
        period_start=NOW - timedelta(days=7),
        period_end=NOW,
        frozen_at=NOW,
        figures={"format": 0, "decisions": 12},
        gaps=[{"kind": "a_kind_from_the_future"}, "not a gap"],
    )
    client.force_login(auditor)

    response = client.get(f"{REPORTS}{report.public_id}/")

    assert response.status_code == 200
    assert "shown exactly as stored" in response.content.decode()
    assert "&quot;decisions&quot;: 12" in response.content.decode()


def test_report_shows_the_log_verification_as_stored(client, auditor):
    live = frozen()
    report = ReviewReport.objects.create(
        period_start=live.period_start - timedelta(days=7),
        period_end=live.period_start,
        frozen_at=NOW,
        figures=live.figures,
        gaps=[],
        log_verification={
            "intact": False,
            "first_break": "decision 7 event 3",
            "decisions": 9,
            "events": 40,
            "verified_at": NOW.isoformat(),
        },
    )
    client.force_login(auditor)

    html = client.get(f"{REPORTS}{report.public_id}/").content.decode()

    assert "NO: the log was altered" in html
    assert "decision 7 event 3" in html


def test_unknown_report_is_404(client, auditor):
    client.force_login(auditor)

    assert client.get(f"{REPORTS}00000000-0000-4000-8000-000000000000/").status_code == 404


# --- Review sign-off --------------------------------------------------------------------------


def test_lead_sees_the_sign_off_form_of_an_unsigned_report(client, lead):
    report = frozen()
    client.force_login(lead)

    html = client.get(f"{REPORTS}{report.public_id}/").content.decode()

    assert "Sign the review off" in html
    assert 'name="csrfmiddlewaretoken"' in html


def test_lead_signs_the_review_off_with_notes_and_follow_ups(client, lead):
    report = frozen()
    client.force_login(lead)

    response = client.post(
        f"{REPORTS}{report.public_id}/",
        {"notes": "Two gaps in Tier-3 cover.", "follow_up_actions": "Certify Sam\n\n  Extend the roster  \n"},
    )

    assert response.status_code == 302
    report.refresh_from_db()
    assert (report.signed_off_by, report.signoff_notes) == (lead, "Two gaps in Tier-3 cover.")
    assert report.follow_up_actions == "Certify Sam\nExtend the roster"
    html = client.get(response["Location"]).content.decode()
    assert "The review is signed off" in html
    assert "<li>Certify Sam</li>" in html
    assert "Sign the review off" not in html


def test_sign_off_appears_in_the_report_audit_history(client, lead):
    report = frozen()
    client.force_login(lead)
    client.post(f"{REPORTS}{report.public_id}/", {"notes": "Reviewed."})

    response = client.get(f"{REPORTS}{report.public_id}/")

    history = response.context["history"]
    assert [item["what"] for item in history] == ["Frozen", "Signed off"]
    assert history[1]["entry"].actor == lead
    assert ("Notes", "Reviewed.") in history[1]["changes"]
    assert "by Grace Hopper" in response.content.decode()


def test_sign_off_needs_notes(client, lead):
    report = frozen()
    client.force_login(lead)

    response = client.post(f"{REPORTS}{report.public_id}/", {"notes": "  ", "follow_up_actions": "x"})

    assert response.status_code == 400
    assert "Give notes: what the review found and decided." in response.content.decode()
    report.refresh_from_db()
    assert not report.is_signed_off


def test_auditor_gets_no_sign_off_form(client, auditor):
    report = frozen()
    client.force_login(auditor)

    html = client.get(f"{REPORTS}{report.public_id}/").content.decode()

    assert "Awaiting sign-off" in html
    assert "Sign the review off" not in html


def test_auditor_cannot_sign_off_by_posting(client, auditor):
    report = frozen()
    client.force_login(auditor)

    response = client.post(f"{REPORTS}{report.public_id}/", {"notes": "Looks fine to me."})

    assert response.status_code == 403
    report.refresh_from_db()
    assert not report.is_signed_off


def test_second_sign_off_is_refused_with_a_message(client, lead):
    report = frozen()
    client.force_login(lead)
    client.post(f"{REPORTS}{report.public_id}/", {"notes": "First."})
    client.force_login(make_user_in_group(rbac.GOVERNANCE_LEAD, username="ada"))

    response = client.post(f"{REPORTS}{report.public_id}/", {"notes": "Second."})

    assert response.status_code == 400
    assert "This review was already signed off by" in response.content.decode()
    report.refresh_from_db()
    assert report.signoff_notes == "First."


# --- Constant query counts --------------------------------------------------------------------


def _history_of(decisions: int) -> None:
    """``decisions`` decisions over several action types, owning roles, approvers and models."""
    action_types = [ActionTypeFactory() for _ in range(4)]
    roles = [DecisionRoleFactory() for _ in range(3)]
    people = [UserFactory() for _ in range(5)]
    integration = make_integration(*action_types)
    verdicts = [
        (DecisionStatus.APPROVED, Verdict.APPROVE, ReasonCode.EVIDENCE_SUFFICIENT),
        (DecisionStatus.OVERRIDDEN, Verdict.OVERRIDE, ReasonCode.SCOPE_TOO_BROAD),
        (DecisionStatus.REJECTED, Verdict.REJECT, ReasonCode.FALSE_POSITIVE),
    ]
    for n in range(decisions):
        status, verdict, reason = verdicts[n % 3]
        role = roles[n % 3]
        decision = make_decision(
            integration, action_types[n % 4], status=status, owner_role=role, model_version=f"v{n % 5}", minutes=n + 1
        )
        signoff_row(decision, people[n % 5], role, verdict, reason)
        if n % 2:
            outcome_row(decision, OutcomeKind.FALSE_POSITIVE if n % 4 == 1 else OutcomeKind.TRUE_POSITIVE)


@pytest.mark.parametrize("decisions", [1, 40])
def test_dashboard_runs_a_constant_number_of_queries(client, lead, django_assert_num_queries, decisions):
    """Session, user, permissions x2, the figures (decisions, action type names, role names,
    approvers, their names, reason codes, break-glass use), the governance snapshot token, the
    expiring certifications, the recent reports, the health banner."""
    _history_of(decisions)
    client.force_login(lead)
    client.get(DASHBOARD)  # warms the per-process governance snapshot

    with django_assert_num_queries(15):
        response = client.get(DASHBOARD)

    assert response.context["figures"]["totals"]["total"] == decisions


@pytest.mark.parametrize("reports", [1, 30])
def test_report_list_runs_a_constant_number_of_queries(client, auditor, django_assert_num_queries, reports):
    for week in range(reports):
        start = NOW - timedelta(days=7 * (week + 1))
        ReviewReport.objects.create(
            period_start=start, period_end=start + timedelta(days=7), frozen_at=NOW, figures={}, gaps=[]
        )
    client.force_login(auditor)

    with django_assert_num_queries(7):
        client.get(REPORTS)
