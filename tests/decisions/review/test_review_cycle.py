"""The review cycle: periods of a schedule, freezing a report once (also when freezes race),
telling the leads, the sign-off and its audit trail, and the admin where leads set it up.

The end-to-end run (celery beat freezing on its own) is tests/e2e/test_review_with_celery.py.
"""

from __future__ import annotations

import itertools
import socket
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import kombu.exceptions
import pytest
from auditlog.models import LogEntry
from django.conf import settings
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import DatabaseError, transaction
from django.urls import reverse
from django.utils import timezone

from decisions.admin import next_period_end
from decisions.models import DecisionRequest, ReviewCadence, ReviewReport, ReviewSchedule
from decisions.review import cycle as review_cycle
from decisions.review.cycle import (
    MAX_CATCH_UP_PERIODS,
    NOTIFY_AGAIN_AFTER,
    ReviewError,
    announce,
    announce_unnotified,
    freeze_due_reports,
    freeze_report,
    last_complete_period,
    periods_owed,
    review_sign_off,
)
from decisions.review.figures import Period, review_figures
from decisions.tasks import freeze_due_reviews, notify_review_leads
from governance import rbac
from governance.gaps import GapKind
from portal.celery import app as celery_app
from tests.decisions.factories import submit
from tests.decisions.scenarios import approve, without_computed_at
from tests.governance.factories import make_staffed_action_type, make_user_in_group
from tests.helpers import admin_form_data, force_update, run_concurrently

BERLIN = ZoneInfo("Europe/Berlin")
_names = itertools.count(1)


def make_schedule(**fields) -> ReviewSchedule:
    return ReviewSchedule.objects.create(name=f"Review {next(_names)}", **fields)


def schedule_of(cadence=ReviewCadence.WEEKLY, *, tz="UTC", starts_on=ReviewSchedule.Weekday.MONDAY) -> ReviewSchedule:
    """An unsaved schedule: enough for the period arithmetic."""
    return ReviewSchedule(cadence=cadence, time_zone=tz, period_starts_on=starts_on)


def hours(period: Period) -> float:
    # In UTC: between two datetimes of the same zone Python subtracts wall-clock times.
    return (period.end.astimezone(UTC) - period.start.astimezone(UTC)).total_seconds() / 3600


def frozen_fields(report: ReviewReport) -> dict:
    report = ReviewReport.objects.get(pk=report.pk)
    names = ("period_start", "period_end", "frozen_at", "figures", "gaps", "log_verification", "schedule_id")
    return {name: getattr(report, name) for name in names}


def decision_in(period: Period, action_type, **fields) -> DecisionRequest:
    """A pending decision submitted (backdated) a day into ``period``."""
    decision = submit(action_type, **fields)
    force_update(DecisionRequest.objects.filter(pk=decision.pk), created_at=period.start + timedelta(days=1))
    return decision


# --- periods ----------------------------------------------------------------------------------


def test_daily_period_is_yesterday_from_local_midnight_to_local_midnight():
    now = datetime(2026, 3, 11, 15, 0, tzinfo=UTC)

    period = last_complete_period(schedule_of(ReviewCadence.DAILY), now=now)

    assert period == Period(start=datetime(2026, 3, 10, tzinfo=UTC), end=datetime(2026, 3, 11, tzinfo=UTC))


def test_daily_period_follows_the_local_date_of_the_schedule_time_zone():
    now = datetime(2026, 3, 10, 23, 30, tzinfo=UTC)  # already 11 March, 00:30, in Berlin

    period = last_complete_period(schedule_of(ReviewCadence.DAILY, tz="Europe/Berlin"), now=now)

    assert period.start == datetime(2026, 3, 10, tzinfo=BERLIN)
    assert period.end == datetime(2026, 3, 11, tzinfo=BERLIN)


def test_weekly_period_is_the_last_full_week_from_monday():
    now = datetime(2026, 3, 11, 9, 0, tzinfo=UTC)  # a Wednesday

    period = last_complete_period(schedule_of(), now=now)

    assert period == Period(start=datetime(2026, 3, 2, tzinfo=UTC), end=datetime(2026, 3, 9, tzinfo=UTC))


def test_weekly_period_that_ends_right_now_is_complete():
    now = datetime(2026, 3, 9, tzinfo=BERLIN)  # Monday, local midnight

    period = last_complete_period(schedule_of(tz="Europe/Berlin"), now=now)

    assert period.end == now
    assert period.start == datetime(2026, 3, 2, tzinfo=BERLIN)


def test_weekly_period_over_the_spring_dst_change_in_berlin_is_167_hours():
    now = datetime(2026, 4, 1, 12, 0, tzinfo=UTC)  # clocks went forward on Sunday 29 March

    period = last_complete_period(schedule_of(tz="Europe/Berlin"), now=now)

    assert period.start == datetime(2026, 3, 23, tzinfo=BERLIN)
    assert period.end == datetime(2026, 3, 30, tzinfo=BERLIN)
    assert period.start.astimezone(UTC) == datetime(2026, 3, 22, 23, 0, tzinfo=UTC)
    assert period.end.astimezone(UTC) == datetime(2026, 3, 29, 22, 0, tzinfo=UTC)
    assert hours(period) == 167


def test_weekly_period_over_the_autumn_dst_change_in_berlin_is_169_hours():
    now = datetime(2026, 10, 28, 12, 0, tzinfo=UTC)  # clocks went back on Sunday 25 October

    period = last_complete_period(schedule_of(tz="Europe/Berlin"), now=now)

    assert period.start == datetime(2026, 10, 19, tzinfo=BERLIN)
    assert period.end == datetime(2026, 10, 26, tzinfo=BERLIN)
    assert hours(period) == 169


def test_weekly_period_can_start_on_a_sunday():
    now = datetime(2026, 3, 11, 9, 0, tzinfo=UTC)  # a Wednesday

    period = last_complete_period(schedule_of(starts_on=ReviewSchedule.Weekday.SUNDAY), now=now)

    assert period == Period(start=datetime(2026, 3, 1, tzinfo=UTC), end=datetime(2026, 3, 8, tzinfo=UTC))
    assert period.start.weekday() == period.end.weekday() == 6


def test_weekly_period_starting_on_today_s_weekday_ends_this_morning():
    now = datetime(2026, 3, 11, 9, 0, tzinfo=UTC)  # a Wednesday

    period = last_complete_period(schedule_of(starts_on=ReviewSchedule.Weekday.WEDNESDAY), now=now)

    assert period == Period(start=datetime(2026, 3, 4, tzinfo=UTC), end=datetime(2026, 3, 11, tzinfo=UTC))


def test_monthly_period_is_the_previous_calendar_month():
    now = datetime(2026, 3, 11, 9, 0, tzinfo=UTC)

    period = last_complete_period(schedule_of(ReviewCadence.MONTHLY, tz="Europe/Berlin"), now=now)

    assert period.start == datetime(2026, 2, 1, tzinfo=BERLIN)
    assert period.end == datetime(2026, 3, 1, tzinfo=BERLIN)
    assert hours(period) == 28 * 24


def test_monthly_period_in_january_is_last_december():
    now = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

    period = last_complete_period(schedule_of(ReviewCadence.MONTHLY), now=now)

    assert period == Period(start=datetime(2025, 12, 1, tzinfo=UTC), end=datetime(2026, 1, 1, tzinfo=UTC))


def test_the_admin_previews_the_end_of_the_running_week_in_local_time():
    now = datetime(2026, 3, 11, 9, 0, tzinfo=UTC)

    end = next_period_end(schedule_of(tz="Europe/Berlin"), now=now)

    assert end == datetime(2026, 3, 16, tzinfo=BERLIN)


def test_the_admin_previews_the_end_of_the_running_month():
    now = datetime(2026, 1, 31, 22, 0, tzinfo=UTC)

    assert next_period_end(schedule_of(ReviewCadence.MONTHLY), now=now) == datetime(2026, 2, 1, tzinfo=UTC)


def test_the_admin_previews_the_end_of_the_running_day():
    now = datetime(2026, 3, 28, 23, 30, tzinfo=UTC)  # 29 March in Berlin, the day clocks go forward

    end = next_period_end(schedule_of(ReviewCadence.DAILY, tz="Europe/Berlin"), now=now)

    assert end == datetime(2026, 3, 30, tzinfo=BERLIN)


# --- freezing ---------------------------------------------------------------------------------


@pytest.fixture
def no_other_schedules(db):
    """Without the weekly schedule migration 0010 creates: each test sets up its own."""
    ReviewSchedule.objects.all().delete()


@pytest.fixture
def schedule(no_other_schedules) -> ReviewSchedule:
    return make_schedule()


@pytest.fixture
def period(schedule, now) -> Period:
    return last_complete_period(schedule, now=now)


@pytest.fixture
def staffed_type(db):
    action_type, _role, (signer,) = make_staffed_action_type()
    return action_type, signer


@pytest.fixture
def lead(db):
    return make_user_in_group(rbac.GOVERNANCE_LEAD, email="lead@example.test")


@pytest.fixture
def auditor(db):
    return make_user_in_group(rbac.AUDITOR)


def test_freeze_due_reports_freezes_the_last_complete_period_with_its_figures_and_gaps(
    schedule, period, now, staffed_type
):
    action_type, _signer = staffed_type
    decision_in(period, action_type)
    decision_in(period, action_type)

    (report,) = freeze_due_reports(now=now)

    assert (report.schedule, report.period_start, report.period_end) == (schedule, period.start, period.end)
    assert report.frozen_at == now
    assert report.figures["totals"]["total"] == 2
    assert without_computed_at(report.figures) == without_computed_at(review_figures(period))
    assert isinstance(report.gaps, list)
    assert report.log_verification["intact"] is True
    assert not report.is_signed_off


def test_periods_missed_during_an_outage_are_frozen_oldest_first(schedule, now):
    (first,) = freeze_due_reports(now=now - timedelta(weeks=3))
    ReviewSchedule.objects.filter(pk=schedule.pk).update(created_at=now - timedelta(weeks=10))

    caught_up = freeze_due_reports(now=now)

    starts = [r.period_start for r in caught_up]
    assert len(caught_up) == 3
    assert starts == sorted(starts)
    assert starts[0] == first.period_end
    assert caught_up[-1].period_start == last_complete_period(schedule, now=now).start


def test_periods_that_ended_before_the_schedule_existed_are_not_owed(schedule, now):
    ReviewSchedule.objects.filter(pk=schedule.pk).update(created_at=now - timedelta(weeks=2, days=1))
    schedule.refresh_from_db()

    owed = periods_owed(schedule, now=now)

    assert 2 <= len(owed) <= 3
    assert owed[0].start <= schedule.created_at < owed[0].end


def test_catching_up_stops_at_the_cap(schedule, now):
    ReviewSchedule.objects.filter(pk=schedule.pk).update(created_at=now - timedelta(weeks=100))
    schedule.refresh_from_db()

    assert len(periods_owed(schedule, now=now)) == MAX_CATCH_UP_PERIODS


def test_a_second_freeze_of_the_same_period_is_a_no_op(schedule, now):
    (first,) = freeze_due_reports(now=now)

    again = freeze_due_reports(now=now + timedelta(minutes=15))

    assert again == []
    assert list(ReviewReport.objects.values_list("pk", flat=True)) == [first.pk]


def test_freeze_report_for_a_frozen_period_returns_the_existing_report(schedule, period, now):
    first = freeze_report(schedule=schedule, period=period, now=now)

    again = freeze_report(schedule=schedule, period=period, now=now + timedelta(hours=1))

    assert again.pk == first.pk
    assert again.frozen_at == now


def test_the_next_period_is_frozen_once_it_has_ended(schedule, now):
    (first,) = freeze_due_reports(now=now)

    (second,) = freeze_due_reports(now=now + timedelta(days=7))

    assert second.period_start == first.period_end
    assert ReviewReport.objects.count() == 2


def test_a_disabled_schedule_freezes_nothing(no_other_schedules, now):
    make_schedule(enabled=False)

    assert freeze_due_reports(now=now) == []
    assert not ReviewReport.objects.exists()


def test_each_enabled_schedule_freezes_its_own_period(no_other_schedules, now):
    weekly = make_schedule()
    daily = make_schedule(cadence=ReviewCadence.DAILY, time_zone="Europe/Berlin")
    make_schedule(enabled=False, cadence=ReviewCadence.MONTHLY)

    frozen = freeze_due_reports(now=now)

    assert {r.schedule for r in frozen} == {weekly, daily}


def test_freezing_emails_the_governance_leads_naming_the_period_and_linking_the_report(
    schedule, period, now, lead, django_capture_on_commit_callbacks
):
    other_lead = make_user_in_group(rbac.GOVERNANCE_LEAD, email="deputy@example.test")
    make_user_in_group(rbac.AUDITOR, email="auditor@example.test")
    make_user_in_group(rbac.ANALYST, email="analyst@example.test", is_staff=False)

    with django_capture_on_commit_callbacks(execute=True):
        (report,) = freeze_due_reports(now=now)

    (message,) = mail.outbox
    assert sorted(message.to) == sorted([lead.email, other_lead.email])
    last_day = period.end - timedelta(days=1)  # the period's end is exclusive; the mail names local days
    assert f"Review {period.start:%Y-%m-%d} – {last_day:%Y-%m-%d}" in message.subject
    assert f"Review {period.start:%Y-%m-%d} – {last_day:%Y-%m-%d}" in message.body
    url = settings.PUBLIC_BASE_URL.rstrip("/") + reverse("decisions:review-report", args=[report.public_id])
    assert url in message.body


def test_a_second_freeze_sends_no_second_email(schedule, now, lead, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        freeze_due_reports(now=now)
    with django_capture_on_commit_callbacks(execute=True):
        freeze_due_reports(now=now)

    assert len(mail.outbox) == 1


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # nothing listens there once the probe is closed


@pytest.mark.django_db(transaction=True)
def test_an_unreachable_mail_server_neither_unfreezes_a_report_nor_stops_the_other_schedules(
    no_other_schedules, now, lead, settings, caplog
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", _closed_port(), 5
    weekly, daily = make_schedule(), make_schedule(cadence=ReviewCadence.DAILY)

    frozen = freeze_due_reports(now=now)  # outside a transaction, as the task runs: the email goes at once

    assert {r.schedule for r in frozen} == {weekly, daily}
    assert ReviewReport.objects.count() == 2
    assert "the leads could not be emailed" in caplog.text
    assert not ReviewReport.objects.filter(leads_notified_at__isnull=False).exists()  # to be tried again


def test_an_announcement_that_failed_is_queued_again_at_a_later_check(
    schedule, now, lead, settings, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", _closed_port(), 5
    with django_capture_on_commit_callbacks(execute=True) as callbacks:  # the announcement is tried, and fails
        (report,) = freeze_due_reports(now=now)
    assert len(callbacks) == 1
    report.refresh_from_db()
    assert report.leads_notified_at is None
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"  # the mail server is back

    freeze_due_reports(now=now + timedelta(minutes=15))
    assert mail.outbox == []  # too soon: its own retries may still be running
    freeze_due_reports(now=now + NOTIFY_AGAIN_AFTER + timedelta(minutes=15))

    (message,) = mail.outbox
    assert report.title in message.subject
    report.refresh_from_db()
    assert report.leads_notified_at is not None


def test_a_report_is_announced_once_however_often_it_is_asked(schedule, now, lead, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        (report,) = freeze_due_reports(now=now)

    assert announce(report.pk) is False
    notify_review_leads.apply(args=[report.pk])
    freeze_due_reports(now=now + NOTIFY_AGAIN_AFTER * 3)
    assert len(mail.outbox) == 1


def test_a_worker_that_dies_while_emailing_leaves_the_report_to_be_announced(schedule, now, lead, monkeypatch):
    report = _frozen_report(schedule, now)  # not announced: its on-commit callback never runs here

    def killed(_report):
        raise SystemExit  # the worker process stops mid-send (shutdown, hard time limit)

    monkeypatch.setattr(review_cycle, "notify_leads", killed)
    with pytest.raises(SystemExit):
        announce(report.pk)
    monkeypatch.undo()

    assert announce(report.pk) is True
    assert len(mail.outbox) == 1


def test_an_announcement_the_broker_refused_is_logged_with_the_report_id(schedule, now, monkeypatch, caplog):
    report = _frozen_report(schedule, now - NOTIFY_AGAIN_AFTER * 2)

    def broker_down(*_args, **_kwargs):
        raise kombu.exceptions.OperationalError("Error 111 connecting to redis:6379. Connection refused.")

    monkeypatch.setattr(notify_review_leads, "delay", broker_down)

    assert announce_unnotified(now=now) == 1
    assert f"review {report.public_id} frozen; its announcement could not be queued" in caplog.text


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_announcements_of_a_report_email_the_leads_once(no_other_schedules, now, lead, monkeypatch):
    report = _frozen_report(make_schedule(), now)  # announced at once (no test transaction): announce it again
    ReviewReport.objects.filter(pk=report.pk).update(leads_notified_at=None)
    mail.outbox.clear()
    send = review_cycle.notify_leads

    def slow(report):
        time.sleep(0.2)  # the others arrive while the first is still sending
        return send(report)

    monkeypatch.setattr(review_cycle, "notify_leads", slow)

    outcomes = run_concurrently(lambda _i: announce(report.pk), threads=4)

    assert [exc for _result, exc in outcomes] == [None] * 4
    assert sorted(result for result, _exc in outcomes) == [False, False, False, True]
    assert len(mail.outbox) == 1


def test_a_schedule_that_cannot_be_frozen_does_not_stop_the_others(no_other_schedules, now, caplog):
    # Written past the admin form, or a zone a tzdata update removed: this schedule's periods fail.
    ReviewSchedule.objects.create(name="A schedule in a retired zone", time_zone="Mars/Olympus_Mons")
    fine = ReviewSchedule.objects.create(name="B weekly review")

    frozen = freeze_due_reports(now=now)

    assert [r.schedule for r in frozen] == [fine]
    assert "A schedule in a retired zone" in caplog.text


def test_the_task_freezes_the_due_reports(schedule):
    result = freeze_due_reviews.apply()

    assert result.get() == 1
    assert ReviewReport.objects.filter(schedule=schedule).count() == 1
    assert freeze_due_reviews.apply().get() == 0


def test_celery_beat_runs_the_freeze_task_every_check_interval():
    entry = settings.CELERY_BEAT_SCHEDULE["freeze-due-reviews"]

    assert entry["task"] == "decisions.tasks.freeze_due_reviews"
    assert entry["task"] in celery_app.tasks
    assert entry["schedule"] == settings.REVIEW_FREEZE_CHECK_SECONDS


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_freezes_of_a_period_make_one_report_and_one_email(no_other_schedules, now, lead):
    make_schedule()

    outcomes = run_concurrently(lambda _i: freeze_due_reports(now=now), threads=4)

    assert [exc for _result, exc in outcomes] == [None] * 4
    (report,) = ReviewReport.objects.all()
    assert {r.pk for result, _exc in outcomes for r in result} == {report.pk}
    assert len(mail.outbox) == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_freeze_report_calls_all_return_the_one_report(no_other_schedules, now):
    schedule = make_schedule()
    period = last_complete_period(schedule, now=now)

    outcomes = run_concurrently(lambda _i: freeze_report(schedule=schedule, period=period, now=now), threads=4)

    assert [exc for _result, exc in outcomes] == [None] * 4
    (report,) = ReviewReport.objects.all()
    assert {result.pk for result, _exc in outcomes} == {report.pk}


# --- sign-off ---------------------------------------------------------------------------------


@pytest.fixture
def report(schedule, now) -> ReviewReport:
    (frozen,) = freeze_due_reports(now=now)
    return frozen


def test_a_lead_signs_the_review_off_with_notes_and_follow_up_actions(report, lead):
    signed = review_sign_off(
        report=report,
        actor=lead,
        notes="  Two gaps, both owned now.  ",
        follow_up_actions="Fix rota\n\n  Renew cert \n",
    )

    report.refresh_from_db()
    assert report.is_signed_off
    assert report.signed_off_by == lead
    assert report.signed_off_at is not None
    assert report.signoff_notes == "Two gaps, both owned now."
    assert report.follow_up_actions == "Fix rota\nRenew cert"
    assert signed.pk == report.pk


def test_the_sign_off_is_in_the_audit_log_with_the_lead_as_actor(report, lead):
    review_sign_off(report=report, actor=lead, notes="Reviewed.", follow_up_actions="Renew cert")

    entry = LogEntry.objects.get_for_object(report).get(action=LogEntry.Action.UPDATE)
    assert entry.actor == lead
    assert entry.changes_dict["signed_off_by"][1] == str(lead.pk)
    assert entry.changes_dict["signoff_notes"][1] == "Reviewed."
    assert entry.changes_dict["follow_up_actions"][1] == "Renew cert"


def test_an_auditor_cannot_sign_a_review_off(report, auditor):
    with pytest.raises(ReviewError, match="Only a governance lead"):
        review_sign_off(report=report, actor=auditor, notes="Looks fine.")

    report.refresh_from_db()
    assert not report.is_signed_off


def test_notes_are_required_to_sign_a_review_off(report, lead):
    with pytest.raises(ReviewError, match="notes"):
        review_sign_off(report=report, actor=lead, notes="   ")

    report.refresh_from_db()
    assert not report.is_signed_off


def test_a_second_sign_off_is_refused(report, lead):
    review_sign_off(report=report, actor=lead, notes="Reviewed.")
    other_lead = make_user_in_group(rbac.GOVERNANCE_LEAD)

    with pytest.raises(ReviewError, match="already signed off"):
        review_sign_off(report=report, actor=other_lead, notes="Me too.")

    report.refresh_from_db()
    assert report.signed_off_by == lead
    assert report.signoff_notes == "Reviewed."


def test_the_sign_off_leaves_the_frozen_fields_as_they_were(report, lead):
    before = frozen_fields(report)

    review_sign_off(report=report, actor=lead, notes="Reviewed.", follow_up_actions="Renew cert")

    assert frozen_fields(report) == before


def test_later_decisions_and_sign_offs_do_not_change_the_frozen_figures(schedule, period, now, staffed_type, lead):
    action_type, signer = staffed_type
    waiting = decision_in(period, action_type)
    (report,) = freeze_due_reports(now=now)
    before = frozen_fields(report)

    approve(waiting, signer)  # the decision of the period is decided after the freeze
    decision_in(period, action_type)  # and a late one lands in the period
    submit(action_type)  # and one in the current period
    review_sign_off(report=report, actor=lead, notes="Reviewed.")

    live = review_figures(period)
    assert (live["totals"]["total"], live["totals"]["approved"]) == (2, 1)
    assert frozen_fields(report) == before
    assert (before["figures"]["totals"]["total"], before["figures"]["totals"]["pending"]) == (1, 1)


# --- admin ------------------------------------------------------------------------------------


def _report(schedule, weeks_ago: int, *, gaps: int = 0, signed_off_by=None) -> ReviewReport:
    """A report row as freezing writes it, without computing anything (fast, for list pages)."""
    end = datetime(2026, 3, 2, tzinfo=UTC) - timedelta(weeks=weeks_ago)
    gap = {"kind": GapKind.UNOWNED_ACTION_TYPE, "subject": "Isolate", "detail": "", "fix_url": "/", "fix_label": ""}
    return ReviewReport.objects.create(
        schedule=schedule,
        period_start=end - timedelta(weeks=1),
        period_end=end,
        frozen_at=end + timedelta(minutes=5),
        figures={"totals": {"total": 3, "auto": 1}},
        gaps=[gap] * gaps,
        log_verification={"intact": True, "decisions": 3, "events": 9},
        signed_off_by=signed_off_by,
        signed_off_at=end + timedelta(days=1) if signed_off_by else None,
        signoff_notes="Reviewed." if signed_off_by else "",
    )


@pytest.fixture
def lead_client(client, lead):
    client.force_login(lead)
    return client


@pytest.fixture
def auditor_client(client, auditor):
    client.force_login(auditor)
    return client


def test_schedule_changelist_shows_cadence_zone_last_frozen_period_and_next_period_end(lead_client, schedule):
    schedule.time_zone = "Europe/Berlin"
    schedule.save()
    _report(schedule, weeks_ago=1)
    _report(schedule, weeks_ago=0)

    response = lead_client.get(reverse("admin:decisions_reviewschedule_changelist"))

    assert response.status_code == 200
    body = response.content.decode()
    assert "Europe/Berlin" in body
    assert "2026-02-23 – 2026-03-02" in body  # the newest frozen period, in local days
    assert "Current period ends" in body


def test_schedule_change_by_a_lead_is_audit_logged_with_the_actor(lead_client, lead, schedule):
    url = reverse("admin:decisions_reviewschedule_change", args=[schedule.pk])
    data = admin_form_data(lead_client.get(url), cadence=ReviewCadence.MONTHLY, time_zone="Europe/Berlin")

    response = lead_client.post(url, data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    schedule.refresh_from_db()
    assert (schedule.cadence, schedule.time_zone) == (ReviewCadence.MONTHLY, "Europe/Berlin")
    entry = LogEntry.objects.get_for_object(schedule).get(action=LogEntry.Action.UPDATE)
    assert entry.actor == lead
    assert entry.changes_dict["time_zone"] == ["UTC", "Europe/Berlin"]


def test_a_schedule_with_a_frozen_report_refuses_new_periods_whoever_saves_it(schedule):
    _report(schedule, weeks_ago=0)
    schedule.cadence, schedule.time_zone = ReviewCadence.DAILY, "Europe/Berlin"

    with pytest.raises(ValidationError) as refused:
        schedule.full_clean()

    assert set(refused.value.message_dict) == {"cadence", "time_zone"}


def test_a_schedule_with_a_frozen_report_may_still_be_renamed_or_disabled(schedule):
    _report(schedule, weeks_ago=0)
    schedule.name, schedule.enabled = "Renamed review", False

    schedule.full_clean()


def test_a_schedule_with_a_frozen_report_keeps_its_periods_in_the_admin(lead_client, schedule):
    # A new cadence, weekday or zone would start periods that overlap the frozen ones, or share a
    # start with one (one report per schedule and start): that period would never be frozen.
    _report(schedule, weeks_ago=0)
    url = reverse("admin:decisions_reviewschedule_change", args=[schedule.pk])
    page = lead_client.get(url)
    data = admin_form_data(
        page,
        name="Renamed review",
        cadence=ReviewCadence.DAILY,
        period_starts_on=ReviewSchedule.Weekday.WEDNESDAY,
        time_zone="Europe/Berlin",
    )

    response = lead_client.post(url, data)

    assert response.status_code == 302
    schedule.refresh_from_db()
    assert (schedule.cadence, schedule.period_starts_on, schedule.time_zone) == (ReviewCadence.WEEKLY, 0, "UTC")
    assert schedule.name == "Renamed review"
    assert "add another schedule" in page.content.decode()


def test_a_schedule_without_reports_can_change_its_periods(lead_client, schedule):
    url = reverse("admin:decisions_reviewschedule_change", args=[schedule.pk])
    data = admin_form_data(lead_client.get(url), cadence=ReviewCadence.DAILY)

    assert lead_client.post(url, data).status_code == 302
    schedule.refresh_from_db()
    assert schedule.cadence == ReviewCadence.DAILY


def test_schedule_form_refuses_an_unknown_time_zone(lead_client, schedule):
    url = reverse("admin:decisions_reviewschedule_change", args=[schedule.pk])
    data = admin_form_data(lead_client.get(url), time_zone="Mars/Olympus_Mons")

    response = lead_client.post(url, data)

    assert response.status_code == 200
    assert "time_zone" in response.context["adminform"].form.errors
    schedule.refresh_from_db()
    assert schedule.time_zone == "UTC"


def test_a_lead_can_add_a_schedule(lead_client, no_other_schedules):
    url = reverse("admin:decisions_reviewschedule_add")
    data = admin_form_data(lead_client.get(url), name="Monthly board review", cadence=ReviewCadence.MONTHLY)

    response = lead_client.post(url, data)

    assert response.status_code == 302
    assert ReviewSchedule.objects.get(name="Monthly board review").cadence == ReviewCadence.MONTHLY


def test_an_auditor_sees_a_schedule_but_cannot_change_it(auditor_client, schedule):
    url = reverse("admin:decisions_reviewschedule_change", args=[schedule.pk])

    page = auditor_client.get(url)
    refused = auditor_client.post(url, {"name": "Renamed"})

    assert page.status_code == 200
    assert not page.context["has_change_permission"]
    assert refused.status_code == 403
    assert auditor_client.get(reverse("admin:decisions_reviewschedule_add")).status_code == 403


def test_the_freeze_now_action_freezes_the_last_complete_period_once(lead_client, schedule):
    url = reverse("admin:decisions_reviewschedule_changelist")
    action = {"action": "freeze_last_complete_period", "_selected_action": [schedule.pk]}

    first = lead_client.post(url, action, follow=True)
    second = lead_client.post(url, action, follow=True)

    (report,) = ReviewReport.objects.all()
    assert report.period_start == last_complete_period(schedule, now=timezone.now()).start
    assert "froze" in [str(m) for m in first.context["messages"]][0]
    assert "was frozen already" in [str(m) for m in second.context["messages"]][0]


def test_an_auditor_cannot_run_the_freeze_now_action(auditor_client, schedule):
    url = reverse("admin:decisions_reviewschedule_changelist")

    auditor_client.post(url, {"action": "freeze_last_complete_period", "_selected_action": [schedule.pk]})

    assert not ReviewReport.objects.exists()


def test_report_changelist_lists_period_sign_off_log_and_gap_count(lead_client, schedule, lead):
    _report(schedule, weeks_ago=1, gaps=3, signed_off_by=lead)

    response = lead_client.get(reverse("admin:decisions_reviewreport_changelist"))

    assert response.status_code == 200
    (row,) = response.context["cl"].result_list
    admin_class = response.context["cl"].model_admin
    assert admin_class.gap_count(row) == 3
    assert admin_class.critical_gap_count(row) == 3
    assert admin_class.log_intact(row) is True
    assert lead.username in response.content.decode()


def test_report_changelist_filters_by_sign_off(lead_client, schedule, lead):
    _report(schedule, weeks_ago=1, signed_off_by=lead)
    waiting = _report(schedule, weeks_ago=0)

    response = lead_client.get(reverse("admin:decisions_reviewreport_changelist"), {"signed_off": "no"})

    assert [r.pk for r in response.context["cl"].result_list] == [waiting.pk]


def test_report_page_in_the_admin_is_read_only_and_links_the_report_page(lead_client, schedule):
    report = _report(schedule, weeks_ago=0)
    url = reverse("admin:decisions_reviewreport_change", args=[report.pk])

    page = lead_client.get(url)
    refused = lead_client.post(url, {"signoff_notes": "Sneaky."})

    assert page.status_code == 200
    assert not page.context["has_change_permission"]
    assert reverse("decisions:review-report", args=[report.public_id]) in page.content.decode()
    assert refused.status_code == 403
    report.refresh_from_db()
    assert report.signoff_notes == ""


def test_reports_cannot_be_added_or_deleted_in_the_admin_even_by_a_superuser(client, schedule):
    client.force_login(make_user_in_group(rbac.GOVERNANCE_LEAD, is_superuser=True))
    report = _report(schedule, weeks_ago=0)

    add = client.get(reverse("admin:decisions_reviewreport_add"))
    delete = client.post(reverse("admin:decisions_reviewreport_delete", args=[report.pk]), {"post": "yes"})

    assert add.status_code == 403
    assert delete.status_code == 403
    assert ReviewReport.objects.filter(pk=report.pk).exists()


def test_an_auditor_can_read_reports_in_the_admin(auditor_client, schedule):
    report = _report(schedule, weeks_ago=0)

    assert auditor_client.get(reverse("admin:decisions_reviewreport_changelist")).status_code == 200
    assert auditor_client.get(reverse("admin:decisions_reviewreport_change", args=[report.pk])).status_code == 200


def test_an_analyst_is_sent_to_login_from_the_report_changelist(client, db):
    client.force_login(make_user_in_group(rbac.ANALYST, is_staff=False))

    response = client.get(reverse("admin:decisions_reviewreport_changelist"))

    assert response.status_code == 302
    assert response.url.startswith(reverse("admin:login"))


MANY = 40


def _assert_same_queries_at_1_and_many(client, django_assert_num_queries, url, make_row, expected):
    make_row(0)
    client.get(url)  # fills process-wide caches (content types); count the steady state
    with django_assert_num_queries(expected):
        one = client.get(url)
    for i in range(1, MANY):
        make_row(i)
    with django_assert_num_queries(expected):
        many = client.get(url)
    assert one.context["cl"].result_count == 1
    assert len(many.context["cl"].result_list) == MANY


def test_schedule_changelist_queries_do_not_grow_with_rows(lead_client, no_other_schedules, django_assert_num_queries):
    def make_row(i):
        _report(make_schedule(time_zone="Europe/Berlin" if i % 2 else "UTC"), weeks_ago=i % 3)

    url = reverse("admin:decisions_reviewschedule_changelist")
    _assert_same_queries_at_1_and_many(lead_client, django_assert_num_queries, url, make_row, 8)


def test_report_changelist_queries_do_not_grow_with_rows(lead_client, schedule, lead, django_assert_num_queries):
    def make_row(i):
        _report(schedule, weeks_ago=i, gaps=i % 4, signed_off_by=lead if i % 2 else None)

    url = reverse("admin:decisions_reviewreport_changelist")
    _assert_same_queries_at_1_and_many(lead_client, django_assert_num_queries, url, make_row, 9)


# --- the database keeps a frozen report frozen (PostgreSQL trigger) ----------------------------


def _frozen_report(schedule, now) -> ReviewReport:
    return freeze_report(schedule=schedule, period=last_complete_period(schedule, now=now), now=now)


@pytest.mark.postgres
def test_the_database_refuses_to_change_a_frozen_figure(schedule, now):
    report = _frozen_report(schedule, now)

    with pytest.raises(DatabaseError, match="frozen"), transaction.atomic():
        ReviewReport.objects.filter(pk=report.pk).update(figures={"totals": {"total": 999}})


@pytest.mark.postgres
def test_the_database_refuses_to_delete_a_report(schedule, now):
    report = _frozen_report(schedule, now)

    with pytest.raises(DatabaseError, match="never deleted"), transaction.atomic():
        ReviewReport.objects.filter(pk=report.pk).delete()


@pytest.mark.postgres
def test_the_database_lets_the_sign_off_be_written_once(schedule, now, lead):
    report = _frozen_report(schedule, now)
    review_sign_off(report=report, actor=lead, notes="Reviewed in the weekly meeting.")

    with pytest.raises(DatabaseError, match="signed off already"), transaction.atomic():
        ReviewReport.objects.filter(pk=report.pk).update(signoff_notes="Rewritten later.")
    report.refresh_from_db()
    assert report.signoff_notes == "Reviewed in the weekly meeting."
