"""The review cycle: celery beat freezes a ReviewReport for every schedule's period that has
ended, the governance leads are told, and a lead signs the review off (audit-logged).

A frozen report holds the figures, the ownership gaps and the decision-log verification as
they were when the period closed; nothing later rewrites them (only the sign-off fields change,
once). One report per schedule and period, enforced by a unique constraint, so beat firing
twice, two beat processes or a retried task never freeze a period twice.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils import timezone

from decisions import queueing
from decisions.ledger.verification import last_full_verification_at, summary, verify_ledger
from decisions.models import ReviewCadence, ReviewReport, ReviewSchedule
from decisions.outbox import messages, store
from decisions.review.figures import Period, review_figures
from governance import rbac
from governance.audit import acting_as
from governance.gaps import GapKind, ownership_gaps

logger = logging.getLogger(__name__)
User = get_user_model()


class ReviewError(Exception):
    """A review action that is not allowed; the message says why."""


def _local_midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=tz)


def _first_of_previous_month(day: date) -> date:
    return (day.replace(day=1) - timedelta(days=1)).replace(day=1)


def last_complete_period(schedule: ReviewSchedule, *, now: datetime) -> Period:
    """The latest period of ``schedule`` that has ended by ``now``; periods start at local
    midnight in the schedule's time zone (so a week across a DST change is 167 or 169 hours)."""
    tz = ZoneInfo(schedule.time_zone)
    today = now.astimezone(tz).date()
    if schedule.cadence == ReviewCadence.DAILY:
        end_day = today
        start_day = end_day - timedelta(days=1)
    elif schedule.cadence == ReviewCadence.MONTHLY:
        end_day = today.replace(day=1)
        start_day = _first_of_previous_month(end_day)
    else:
        end_day = today - timedelta(days=(today.weekday() - schedule.period_starts_on) % 7)
        start_day = end_day - timedelta(days=7)
    return Period(start=_local_midnight(start_day, tz), end=_local_midnight(end_day, tz))


def log_verification() -> dict[str, Any]:
    """The decision log verified now, incrementally from the last verified checkpoint
    (``decisions.ledger.verification``), as data: intact or the first break, what was checked."""
    verified = summary(verify_ledger())
    last_full = last_full_verification_at()
    return {**verified, "last_full_verified_at": last_full.isoformat() if last_full else None}


def freeze_report(
    *,
    schedule: ReviewSchedule | None,
    period: Period,
    now: datetime | None = None,
    verification: dict[str, Any] | None = None,
) -> ReviewReport:
    """Freeze the figures and gaps of ``period`` (idempotent per schedule and period).
    ``verification``: a ``log_verification()`` already taken in this run."""
    now = now or timezone.now()
    existing = ReviewReport.objects.filter(schedule=schedule, period_start=period.start).first()
    if existing is not None and schedule is not None:
        return existing
    report = ReviewReport(
        schedule=schedule,
        period_start=period.start,
        period_end=period.end,
        frozen_at=now,
        figures=review_figures(period),
        gaps=[g.as_dict() for g in ownership_gaps(at=now)],
        log_verification=verification if verification is not None else log_verification(),
    )
    try:
        with transaction.atomic(), acting_as(None):
            report.save()
            # In the outbox, published after the commit to a task that retries: a mail server
            # that is down neither fails the freeze nor stops the other schedules.
            store.record([messages.review_announcement(report.pk)])
    except IntegrityError:
        # Another process froze the same period first: theirs is the report.
        return ReviewReport.objects.get(schedule=schedule, period_start=period.start)
    return report


def _announce(report: ReviewReport) -> None:
    try:
        queueing.task(queueing.NOTIFY_REVIEW_LEADS).delay(report.pk)
    except Exception:  # the broker is down: the next beat check announces it (announce_unnotified)
        logger.exception("review %s frozen; its announcement could not be queued", report.public_id)


NOTIFY_AGAIN_AFTER = timedelta(hours=2)  # longer than the task's own retries (about 63 min)


def announce_unnotified(*, now: datetime) -> int:
    """Queue the announcement again for reports whose leads were never told (retries used up,
    a lost task, a broker outage), once their first announcement had time to go out."""
    pending = list(
        ReviewReport.objects.filter(leads_notified_at__isnull=True, frozen_at__lt=now - NOTIFY_AGAIN_AFTER)
        .order_by("frozen_at")
        .only("pk", "public_id")[:50]  # the public id names the report in the log if queueing fails
    )
    for report in pending:
        _announce(report)
    return len(pending)


def announce(report_id: int) -> bool:
    """Email the leads about a report, once. False when it was announced already.

    Locks the report's row (only while the mail goes out) and sets leads_notified_at in the same
    transaction: a concurrent delivery waits, then finds it announced; a send that fails, or a
    worker that dies mid-send, leaves it unannounced, so a retry (or the next beat check) sends it."""
    with transaction.atomic():
        report = (
            ReviewReport.objects.select_for_update(of=("self",))
            .select_related("schedule")
            .filter(pk=report_id, leads_notified_at__isnull=True)
            .first()
        )
        if report is None:
            return False
        notify_leads(report)
        ReviewReport.objects.filter(pk=report_id).update(leads_notified_at=timezone.now())
    return True


MAX_CATCH_UP_PERIODS = 12


def periods_owed(schedule: ReviewSchedule, *, now: datetime) -> list[Period]:
    """The periods of ``schedule`` that ended without a report, oldest first: the last complete
    one, and back from it to the newest frozen one (at most MAX_CATCH_UP_PERIODS, none that
    ended before the schedule existed), so a beat or worker outage longer than a period loses
    no review."""
    owed: list[Period] = []
    period = last_complete_period(schedule, now=now)
    while len(owed) < MAX_CATCH_UP_PERIODS:
        if ReviewReport.objects.filter(schedule=schedule, period_start=period.start).exists():
            break
        owed.append(period)
        if period.start <= schedule.created_at:
            break  # the earlier periods ended before the schedule existed
        period = last_complete_period(schedule, now=period.start)
    return owed[::-1]


def freeze_due_reports(*, now: datetime | None = None) -> list[ReviewReport]:
    """For every enabled schedule, freeze each period it is owed (see ``periods_owed``). The
    decision log is verified once per run, for every report frozen in it. A schedule that fails
    is logged and the others still freeze (the next beat check retries it)."""
    now = now or timezone.now()
    frozen = []
    verification: dict[str, Any] | None = None
    for schedule in ReviewSchedule.objects.filter(enabled=True):
        try:
            for period in periods_owed(schedule, now=now):
                if verification is None:
                    verification = log_verification()
                frozen.append(freeze_report(schedule=schedule, period=period, now=now, verification=verification))
        except SoftTimeLimitExceeded:
            raise  # the task's time is up: stop here, the next beat check carries on
        except Exception:
            logger.exception("review schedule %r could not be frozen; the other schedules go on", schedule.name)
    announce_unnotified(now=now)
    return frozen


def governance_leads() -> QuerySet[Any]:
    return (
        User.objects.filter(is_active=True)
        .filter(Q(groups__name=rbac.GOVERNANCE_LEAD) | Q(is_superuser=True))
        .exclude(email="")
        .distinct()
    )


def notify_leads(report: ReviewReport) -> int:
    """Email the governance leads that a review waits for sign-off. Returns how many were told."""
    recipients = list(governance_leads().values_list("email", flat=True))
    if not recipients:
        logger.warning("review %s frozen, but no governance lead has an email address", report.public_id)
        return 0
    totals = report.figures.get("totals", {})
    url = settings.PUBLIC_BASE_URL.rstrip("/") + reverse("decisions:review-report", args=[report.public_id])
    critical = sum(1 for g in report.gaps if g.get("kind") in GapKind.CRITICAL)
    body = (
        f"{report.title} (the periodic review) is frozen.\n\n"
        f"Decisions: {totals.get('total', 0)} ({totals.get('auto', 0)} auto-approved), "
        f"expired: {totals.get('expired', 0)}, false positives reported: {totals.get('false_positives', 0)}.\n"
        f"Ownership gaps: {len(report.gaps)} ({critical} critical).\n"
        f"Decision log intact: {'yes' if report.log_verification.get('intact') else 'NO'}.\n\n"
        f"Review and sign it off: {url}\n"
    )
    send_mail(
        subject=f"[Countersign] {report.title} ready for sign-off",
        message=body,
        from_email=None,
        recipient_list=recipients,
        fail_silently=False,
    )
    return len(recipients)


def can_sign_off(user: Any) -> bool:
    return bool(user.is_active and user.has_perm("decisions.signoff_reviewreport"))


def review_sign_off(*, report: ReviewReport, actor: Any, notes: str, follow_up_actions: str = "") -> ReviewReport:
    """A governance lead signs the review off, once, with notes (required) and follow-ups.
    The change is audit-logged with the actor; the frozen figures are not touched."""
    if not can_sign_off(actor):
        raise ReviewError("Only a governance lead may sign a review off.")
    notes = notes.strip()
    if not notes:
        raise ReviewError("Give notes: what the review found and decided.")
    with transaction.atomic():
        locked = ReviewReport.objects.select_for_update().get(pk=report.pk)
        if locked.is_signed_off:
            raise ReviewError(
                f"This review was already signed off by {locked.signed_off_by} on {locked.signed_off_at:%Y-%m-%d}."
            )
        locked.signed_off_by = actor
        locked.signed_off_at = timezone.now()
        locked.signoff_notes = notes
        locked.follow_up_actions = "\n".join(line.strip() for line in follow_up_actions.splitlines() if line.strip())
        with acting_as(actor):
            locked.save(update_fields=["signed_off_by", "signed_off_at", "signoff_notes", "follow_up_actions"])
    return locked
