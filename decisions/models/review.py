"""The periodic review: schedules and the reports frozen from them."""

from __future__ import annotations

import uuid
from datetime import timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from governance.models import TIME_ZONE_CHOICES


class ReviewCadence(models.TextChoices):
    DAILY = "daily", "Daily"
    WEEKLY = "weekly", "Weekly"
    MONTHLY = "monthly", "Monthly"


class ReviewSchedule(models.Model):
    """When the periodic review is frozen: celery beat checks the schedules and freezes a
    ReviewReport for every period that has ended (once: one report per schedule and period)."""

    class Weekday(models.IntegerChoices):
        MONDAY = 0, "Monday"
        TUESDAY = 1, "Tuesday"
        WEDNESDAY = 2, "Wednesday"
        THURSDAY = 3, "Thursday"
        FRIDAY = 4, "Friday"
        SATURDAY = 5, "Saturday"
        SUNDAY = 6, "Sunday"

    name = models.CharField(max_length=120, unique=True, default="Weekly governance review")
    cadence = models.CharField(max_length=8, choices=ReviewCadence.choices, default=ReviewCadence.WEEKLY)
    period_starts_on = models.PositiveSmallIntegerField(
        choices=Weekday.choices, default=Weekday.MONDAY, help_text="Weekly cadence: the first day of each period."
    )
    time_zone = models.CharField(
        max_length=64,
        choices=TIME_ZONE_CHOICES,
        default="UTC",
        help_text="Periods start at local midnight in this time zone.",
    )
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(name="review_schedule_weekday", condition=Q(period_starts_on__lte=6)),
        ]

    PERIOD_FIELDS = ("cadence", "period_starts_on", "time_zone")

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        """Once a report is frozen the periods are fixed: others would overlap the frozen ones,
        or share a start with one (one report per schedule and start) and never freeze."""
        if self.pk is None or not self.reports.exists():
            return
        stored = type(self).objects.filter(pk=self.pk).values(*self.PERIOD_FIELDS).first() or {}
        changed = [name for name in self.PERIOD_FIELDS if name in stored and stored[name] != getattr(self, name)]
        if changed:
            raise ValidationError(
                {
                    name: "Fixed once a report has been frozen: disable this schedule and add another."
                    for name in changed
                }
            )


class ReviewReport(models.Model):
    """The figures and ownership gaps of one period, frozen when the period ended. The frozen
    parts never change; a governance lead signs the review off with notes and follow-ups."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    schedule = models.ForeignKey(
        ReviewSchedule, on_delete=models.PROTECT, null=True, blank=True, related_name="reports"
    )
    period_start = models.DateTimeField()
    period_end = models.DateTimeField()
    frozen_at = models.DateTimeField()
    figures = models.JSONField(help_text="The review figures of the period, as frozen.")
    gaps = models.JSONField(help_text="The ownership gaps when the report was frozen.")
    log_verification = models.JSONField(default=dict, help_text="verify_decision_log when the report was frozen.")
    signed_off_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    signed_off_at = models.DateTimeField(null=True, blank=True)
    signoff_notes = models.TextField(blank=True)
    follow_up_actions = models.TextField(blank=True, help_text="One follow-up action per line.")
    leads_notified_at = models.DateTimeField(
        null=True, blank=True, help_text="When the governance leads were emailed that the review waits."
    )

    class Meta:
        ordering = ["-period_start", "-id"]
        permissions = [("signoff_reviewreport", "Can sign off a periodic review")]
        constraints = [
            models.UniqueConstraint(fields=["schedule", "period_start"], name="review_report_once_per_period"),
            models.CheckConstraint(name="review_report_period_positive", condition=Q(period_end__gt=F("period_start"))),
            models.CheckConstraint(
                name="review_report_signoff_complete",
                condition=(Q(signed_off_by__isnull=True) & Q(signed_off_at__isnull=True))
                | (Q(signed_off_by__isnull=False) & Q(signed_off_at__isnull=False) & ~Q(signoff_notes="")),
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def title(self) -> str:
        """``Review 2026-01-05 – 2026-01-11``: the first and last local days of the period, in the
        schedule's time zone (where its periods start at midnight), else the display one."""
        tz = ZoneInfo(self.schedule.time_zone) if self.schedule is not None else timezone.get_current_timezone()
        first = self.period_start.astimezone(tz).date()
        last = (self.period_end - timedelta(microseconds=1)).astimezone(tz).date()
        return f"Review {first:%Y-%m-%d} – {last:%Y-%m-%d}"

    @property
    def is_signed_off(self) -> bool:
        return self.signed_off_at is not None
