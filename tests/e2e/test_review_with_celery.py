"""The review cycle end to end: celery beat (checking every second) has a real worker freeze the
week's report on Redis + PostgreSQL, a governance lead signs it off, the audit log shows who,
and what happens afterwards never changes the frozen figures."""

import time

import pytest
from auditlog.models import LogEntry

from decisions.models import DecisionRequest, ReviewReport, ReviewSchedule
from decisions.review.cycle import last_complete_period, review_sign_off
from decisions.review.figures import review_figures
from governance import rbac
from tests.decisions.factories import submit
from tests.decisions.scenarios import approve
from tests.e2e.harness import wait_until
from tests.governance.factories import make_staffed_action_type, make_user_in_group
from tests.helpers import force_update

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

FREEZE_TASK = "decisions.tasks.freeze_due_reviews"
BEAT_SENDS = "Sending due task freeze-due-reviews"


def _in_period(decision, period) -> None:
    middle = period.start + (period.end - period.start) / 2
    force_update(DecisionRequest.objects.filter(pk=decision.pk), created_at=middle)


def test_beat_freezes_the_report_a_lead_signs_it_off_and_later_decisions_leave_it_as_frozen(
    send_tasks, celery_processes, now
):
    ReviewSchedule.objects.all().delete()
    schedule = ReviewSchedule.objects.create()  # the defaults: weekly, from Monday, UTC
    period = last_complete_period(schedule, now=now)
    action_type, _role, (signer,) = make_staffed_action_type()
    decided, waiting = submit(action_type), submit(action_type)
    approve(decided, signer)
    _in_period(decided, period)
    _in_period(waiting, period)
    lead = make_user_in_group(rbac.GOVERNANCE_LEAD)

    celery_processes.env["REVIEW_FREEZE_CHECK_SECONDS"] = "1"
    worker, beat = celery_processes.start_together("worker", "beat")
    report = wait_until(
        lambda: ReviewReport.objects.filter(schedule=schedule).first(), timeout=30, what="beat to freeze the report"
    )

    assert (report.period_start, report.period_end) == (period.start, period.end)
    assert report.frozen_at >= now
    totals = report.figures["totals"]
    assert (totals["total"], totals["approved"], totals["pending"]) == (2, 1, 1)
    assert report.log_verification["intact"] is True
    assert BEAT_SENDS in beat.output()
    assert FREEZE_TASK in worker.output()
    frozen = {name: getattr(report, name) for name in ("figures", "gaps", "log_verification", "frozen_at")}

    review_sign_off(report=report, actor=lead, notes="Two decisions; one still open.", follow_up_actions="Chase it")

    entry = LogEntry.objects.get_for_object(report).get(action=LogEntry.Action.UPDATE)
    assert entry.actor == lead
    assert entry.changes_dict["signed_off_by"][1] == str(lead.pk)
    assert entry.changes_dict["signoff_notes"][1] == "Two decisions; one still open."

    approve(waiting, signer)  # the open decision of the period is decided after the freeze
    _in_period(submit(action_type), period)  # a late decision lands in the period
    submit(action_type)  # and one in the current period
    checks_before = beat.output().count(BEAT_SENDS)
    wait_until(lambda: beat.output().count(BEAT_SENDS) >= checks_before + 2, what="two more beat checks")
    time.sleep(0.5)  # the last check's task finishes

    report = ReviewReport.objects.get(schedule=schedule)
    assert {name: getattr(report, name) for name in frozen} == frozen
    assert report.signed_off_by == lead
    live = review_figures(period)["totals"]
    assert (live["total"], live["approved"], live["pending"]) == (3, 2, 1)
