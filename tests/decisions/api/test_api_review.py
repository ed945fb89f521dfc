"""GET /api/v1/review/...: the review figures, the ownership gaps and the frozen reports for BI
tools. People with the review permission only (leads, auditors), by token or session."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import hypothesis
import pytest
import schemathesis
from django.contrib.auth.models import Permission
from django.core.cache import cache
from django.utils import timezone
from hypothesis import HealthCheck
from rest_framework.test import APIClient
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from decisions import integrations
from decisions.api import throttling
from decisions.models import DecisionRequest, ReviewReport, ReviewSchedule
from decisions.review.cycle import freeze_report, review_sign_off
from decisions.review.figures import MAX_PERIOD_DAYS, Period, review_figures
from governance import rbac
from governance.gaps import GapKind, ownership_gaps
from tests.decisions.factories import make_integration, submit
from tests.decisions.scenarios import approve, without_computed_at
from tests.governance.factories import ActionTypeFactory, make_staffed_action_type, make_user_in_group
from tests.helpers import force_update

pytestmark = pytest.mark.django_db

FIGURES, GAPS, REPORTS = "/api/v1/review/figures/", "/api/v1/review/gaps/", "/api/v1/review/reports/"
ENDPOINTS = [FIGURES, GAPS, REPORTS]
_names = itertools.count(1)


def bearer_for(user) -> APIClient:
    _row, token = integrations.personal_token_create(
        user=user, name="bi", expires_at=timezone.now() + timedelta(days=30)
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


@pytest.fixture(autouse=True)
def _fresh_throttle():
    cache.clear()


@pytest.fixture
def lead():
    return make_user_in_group(rbac.GOVERNANCE_LEAD)


@pytest.fixture
def lead_api(lead) -> APIClient:
    return bearer_for(lead)


@pytest.fixture
def schedule() -> ReviewSchedule:
    return ReviewSchedule.objects.create(name=f"API review {next(_names)}")


def frozen(schedule, *, week: int) -> ReviewReport:
    """The report of the ``week``-th week of 2026 (Mondays, UTC), frozen for real."""
    start = datetime(2025, 12, 29, tzinfo=UTC) + timedelta(weeks=week)
    return freeze_report(schedule=schedule, period=Period(start=start, end=start + timedelta(weeks=1)))


def decided_in(day: datetime, action_type, signer) -> DecisionRequest:
    decision = submit(action_type)
    approve(decision, signer)
    force_update(DecisionRequest.objects.filter(pk=decision.pk), created_at=day)
    return decision


# --- who may read -----------------------------------------------------------------------------


@pytest.mark.parametrize("url", ENDPOINTS)
def test_a_lead_with_a_personal_token_reads_the_review(lead_api, url):
    assert lead_api.get(url).status_code == 200


@pytest.mark.parametrize("url", ENDPOINTS)
def test_an_auditor_with_a_session_reads_the_review(client, url):
    client.force_login(make_user_in_group(rbac.AUDITOR))

    assert client.get(url).status_code == 200


@pytest.mark.parametrize("url", ENDPOINTS)
def test_an_analyst_is_refused_with_403(url):
    response = bearer_for(make_user_in_group(rbac.ANALYST, is_staff=False)).get(url)

    assert response.status_code == 403
    assert "review permission" in response.json()["detail"]


@pytest.mark.parametrize("url", ENDPOINTS)
def test_an_integration_is_refused_with_403_even_if_its_account_holds_the_permission(url):
    integration = make_integration(ActionTypeFactory())
    integration.service_account.user_permissions.add(Permission.objects.get(codename="view_reviewreport"))
    _row, key = integrations.integration_key_create(integration=integration, name="bi")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")

    response = client.get(url)

    assert response.status_code == 403
    assert "personal token" in response.json()["detail"]


@pytest.mark.parametrize("url", ENDPOINTS)
def test_anonymous_callers_get_401(url):
    response = APIClient().get(url)

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_the_review_api_is_rate_limited_like_the_rest(lead_api, monkeypatch):
    monkeypatch.setattr(throttling, "DEFAULT_PERSON_RATE_PER_MINUTE", 2)

    statuses = [lead_api.get(GAPS).status_code for _ in range(3)]

    assert statuses == [200, 200, 429]


# --- figures ----------------------------------------------------------------------------------


def test_figures_of_local_dates_match_review_figures_of_that_period(lead_api):
    action_type, _role, (signer,) = make_staffed_action_type()
    berlin = ZoneInfo("Europe/Berlin")
    decided_in(datetime(2026, 3, 2, 8, tzinfo=berlin), action_type, signer)
    decided_in(datetime(2026, 3, 8, 23, 30, tzinfo=berlin), action_type, signer)
    decided_in(datetime(2026, 3, 8, 23, 30, tzinfo=UTC), action_type, signer)  # 9 March in Berlin: outside

    response = lead_api.get(FIGURES, {"start": "2026-03-02", "end": "2026-03-08", "tz": "Europe/Berlin"})

    assert response.status_code == 200
    body = response.json()
    expected = review_figures(
        Period(start=datetime(2026, 3, 2, tzinfo=berlin), end=datetime(2026, 3, 9, tzinfo=berlin))
    )
    assert without_computed_at(body) == without_computed_at(expected)
    assert body["totals"]["total"] == 2
    assert body["period"] == {"start": "2026-03-02T00:00:00+01:00", "end": "2026-03-09T00:00:00+01:00"}


def test_figures_default_to_the_last_30_days(lead_api):
    body = lead_api.get(FIGURES).json()

    start, end = (datetime.fromisoformat(body["period"][k]) for k in ("start", "end"))
    assert end - start == timedelta(days=30)
    assert abs(end - timezone.now()) < timedelta(minutes=1)


def test_figures_of_the_last_n_days(lead_api):
    action_type, _role, (signer,) = make_staffed_action_type()
    decided_in(timezone.now() - timedelta(days=2), action_type, signer)
    decided_in(timezone.now() - timedelta(days=9), action_type, signer)

    body = lead_api.get(FIGURES, {"days": "7"}).json()

    start, end = (datetime.fromisoformat(body["period"][k]) for k in ("start", "end"))
    assert end - start == timedelta(days=7)
    assert body["totals"]["total"] == 1
    assert body["by_action_type"][0]["label"] == action_type.name


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"days": "0"}, "days", "greater than or equal to 1"),
        ({"days": str(MAX_PERIOD_DAYS + 1)}, "days", "less than or equal to"),
        ({"days": "a week"}, "days", "valid integer"),
        ({"start": "2026-03-01"}, "end", "Give an end date"),
        ({"end": "2026-03-01"}, "start", "Give a start date"),
        ({"start": "2026-03-09", "end": "2026-03-01"}, "end", "must not be before"),
        ({"start": "2000-01-01", "end": "2026-03-01"}, "end", f"at most {MAX_PERIOD_DAYS} days"),
        ({"start": "01/03/2026", "end": "2026-03-08"}, "start", "wrong format"),
        ({"start": "2026-02-30", "end": "2026-03-08"}, "start", "wrong format"),
        ({"start": "0001-01-01", "end": "0001-01-02"}, "start", "Give a date from 1970-01-01"),
        ({"start": "9999-12-30", "end": "9999-12-31"}, "end", "Give a date from 1970-01-01"),
        ({"start": "2026-03-01", "end": "2026-03-08", "days": "7"}, "days", "not both"),
        ({"tz": "Mars/Olympus_Mons"}, "tz", "Unknown time zone"),
        ({"tz": "../../etc/passwd"}, "tz", "Unknown time zone"),
        ({"tz": "Europe/Berlin\x00"}, "tz", "Null characters are not allowed"),
    ],
)
def test_bad_period_parameters_are_a_400_naming_the_field(lead_api, params, field, message):
    response = lead_api.get(FIGURES, params)

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert message in " ".join(body["errors"][field])


# --- gaps -------------------------------------------------------------------------------------


def test_gaps_are_the_ownership_gaps_now_with_their_fix_links(lead_api):
    unowned = ActionTypeFactory(name="Disable account", changes_production_state=True)

    body = lead_api.get(GAPS).json()

    expected = [g.as_dict() for g in ownership_gaps(at=timezone.now())]
    assert [{k: g[k] for k in expected[0]} for g in body["gaps"]] == expected
    gap = next(g for g in body["gaps"] if g["subject"] == unowned.name)
    assert gap["kind"] == GapKind.UNOWNED_ACTION_TYPE
    assert gap["critical"] is True
    assert gap["kind_label"] == GapKind.LABELS[GapKind.UNOWNED_ACTION_TYPE]
    assert gap["fix_url"].startswith("/admin/governance/")
    assert body["count"] == len(expected)
    assert sorted(k["kind"] for k in body["by_kind"]) == sorted(GapKind.LABELS)
    assert sum(k["count"] for k in body["by_kind"]) == body["count"]


# --- reports ----------------------------------------------------------------------------------


def test_reports_are_listed_newest_first(lead_api, schedule):
    older, newer = frozen(schedule, week=1), frozen(schedule, week=2)

    body = lead_api.get(REPORTS).json()

    assert [r["id"] for r in body["results"]] == [str(newer.public_id), str(older.public_id)]
    assert body["results"][0]["schedule"] == schedule.name
    assert body["results"][0]["links"]["self"] == f"{REPORTS}{newer.public_id}/"


def test_reports_are_paginated_with_next_links(lead_api, schedule):
    reports = [frozen(schedule, week=w) for w in range(5)]

    first = lead_api.get(REPORTS, {"page_size": 2}).json()
    second = lead_api.get(first["next"]).json()
    third = lead_api.get(second["next"]).json()

    pages = [[r["id"] for r in page["results"]] for page in (first, second, third)]
    assert pages == [
        [str(r.public_id) for r in reports[4:2:-1]],
        [str(r.public_id) for r in reports[2:0:-1]],
        [str(reports[0].public_id)],
    ]
    assert third["next"] is None


def test_a_bad_cursor_is_a_400(lead_api):
    response = lead_api.get(REPORTS, {"cursor": "not-a-cursor"})

    assert response.status_code == 400
    assert "cursor" in response.json()["errors"]


def test_a_report_reads_as_frozen_with_its_sign_off(lead_api, lead, schedule):
    report = frozen(schedule, week=1)
    review_sign_off(report=report, actor=lead, notes="Reviewed.", follow_up_actions="Renew cert\nFix rota")
    report.refresh_from_db()

    body = lead_api.get(f"{REPORTS}{report.public_id}/").json()

    assert body["figures"] == report.figures
    assert [
        {k: g[k] for k in ("kind", "subject", "detail", "fix_url", "fix_label")} for g in body["gaps"]["gaps"]
    ] == report.gaps
    assert body["log_verification"]["intact"] is True
    assert body["signed_off"] is True
    assert body["signed_off_by"] == lead.username
    assert body["signoff_notes"] == "Reviewed."
    assert body["follow_up_actions"] == ["Renew cert", "Fix rota"]
    assert datetime.fromisoformat(body["period_start"]) == report.period_start


def test_a_report_does_not_change_when_later_decisions_land_in_its_period(lead_api, schedule):
    action_type, _role, (signer,) = make_staffed_action_type()
    report = frozen(schedule, week=1)
    decided_in(report.period_start + timedelta(days=1), action_type, signer)

    body = lead_api.get(f"{REPORTS}{report.public_id}/").json()

    assert body["figures"]["totals"]["total"] == 0
    live = lead_api.get(FIGURES, {"start": f"{report.period_start:%Y-%m-%d}", "end": "2026-01-11"}).json()
    assert live["totals"]["total"] == 1


def test_a_report_frozen_in_another_shape_reads_as_stored_not_a_500(lead_api, schedule):
    report = _report_row(schedule, 0, figures={"format": 0, "decisions": 12}, log_verification={"ok": True})

    detail = lead_api.get(f"{REPORTS}{report.public_id}/")
    listed = lead_api.get(REPORTS)

    assert detail.status_code == 200
    assert detail.json()["figures"] == {"format": 0, "decisions": 12}
    assert detail.json()["log_verification"] == {"ok": True}
    assert listed.status_code == 200
    assert listed.json()["results"][0]["log_intact"] is None


@pytest.mark.parametrize("public_id", ["0b9c7ed8-52f4-4a0a-9d1e-3c1f8f0f4e11", "not-a-uuid"])
def test_an_unknown_report_is_a_404(lead_api, public_id):
    response = lead_api.get(f"{REPORTS}{public_id}/")

    assert response.status_code == 404
    assert response.json()["detail"] == "No such review report."


def _report_row(schedule, week: int, **fields) -> ReviewReport:
    start = datetime(2025, 12, 29, tzinfo=UTC) + timedelta(weeks=week)
    return ReviewReport.objects.create(
        schedule=schedule,
        period_start=start,
        period_end=start + timedelta(weeks=1),
        frozen_at=start + timedelta(weeks=1),
        **{
            "figures": {},
            "gaps": [],
            "log_verification": {"intact": True, "decisions": 0, "events": 0, "verified_at": start.isoformat()},
            **fields,
        },
    )


def test_report_list_queries_do_not_grow_with_reports(lead, schedule, settings, django_assert_num_queries):
    # The rate limit counts in the shared cache (the database by default); count the API's own queries.
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    client = APIClient()
    client.force_authenticate(lead)
    _report_row(schedule, 0)
    client.get(REPORTS)  # warms the permission cache of this user object
    with django_assert_num_queries(1):
        one = client.get(REPORTS)
    signer = make_user_in_group(rbac.GOVERNANCE_LEAD)
    for week in range(1, 30):
        report = _report_row(schedule, week)
        if week % 2:
            ReviewReport.objects.filter(pk=report.pk).update(
                signed_off_by=signer, signed_off_at=timezone.now(), signoff_notes="ok"
            )
    with django_assert_num_queries(1):
        many = client.get(REPORTS)

    assert len(one.json()["results"]) == 1
    assert len(many.json()["results"]) == 20


# --- schema -----------------------------------------------------------------------------------


def test_the_review_endpoints_are_in_the_openapi_schema(client):
    paths = client.get("/api/schema/?format=json").json()["paths"]

    assert {"/api/v1/review/figures/", "/api/v1/review/gaps/", "/api/v1/review/reports/"} <= set(paths)
    assert "/api/v1/review/reports/{public_id}/" in paths
    figures = paths["/api/v1/review/figures/"]["get"]
    assert {p["name"] for p in figures["parameters"]} == {"days", "start", "end", "tz"}
    assert figures["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/ReviewFigures")


@pytest.fixture
def lead_token(db):
    """A lead's personal token, with a frozen, signed-off report and some decisions to read."""
    cache.clear()
    lead = make_user_in_group(rbac.GOVERNANCE_LEAD)
    action_type, _role, (signer,) = make_staffed_action_type()
    decided_in(timezone.now() - timedelta(days=1), action_type, signer)
    report = freeze_report(
        schedule=ReviewSchedule.objects.create(name="Schema review"),
        period=Period.last_days(7),
    )
    review_sign_off(report=report, actor=lead, notes="Reviewed.")
    _row, token = integrations.personal_token_create(
        user=lead, name="schemathesis", expires_at=timezone.now() + timedelta(days=1)
    )
    return token


review_schema = schemathesis.pytest.from_fixture("api_schema").include(path_regex="^/api/v1/review/")


@review_schema.parametrize()
@hypothesis.settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_review_api_as_a_lead_never_errors_and_matches_its_schema(case, lead_token, monkeypatch):
    monkeypatch.setattr(throttling, "DEFAULT_PERSON_RATE_PER_MINUTE", 100_000)
    case.call_and_validate(
        headers={"Authorization": f"Bearer {lead_token}"},
        checks=[not_a_server_error, response_schema_conformance, status_code_conformance, content_type_conformance],
    )


def test_dates_in_range_are_accepted_at_both_ends(lead_api):
    for start, end in ((date(1970, 1, 1), date(1970, 1, 2)), (date(9998, 12, 30), date(9998, 12, 31))):
        response = lead_api.get(FIGURES, {"start": start.isoformat(), "end": end.isoformat(), "tz": "Etc/GMT+12"})
        assert response.status_code == 200, response.json()
