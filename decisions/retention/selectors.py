"""Which closed decisions the retention service may remove now, and which legal holds keep them."""

from __future__ import annotations

import calendar
from datetime import datetime
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet

from decisions.models import DecisionRequest, DecisionStatus, LegalHold
from governance.models import ActionType


def months_before(moment: datetime, months: int) -> datetime:
    """``moment`` moved back ``months`` calendar months (the 31st becomes the month's last day)."""
    index = moment.year * 12 + moment.month - 1 - months
    year, month = divmod(index, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


def months_after(moment: datetime, months: int) -> datetime:
    return months_before(moment, -months)


def holds_in_force() -> QuerySet[LegalHold]:
    return LegalHold.objects.filter(released_at__isnull=True)


def held() -> Exists:
    """A decision covered by a legal hold in force (on it, or on its incident)."""
    return Exists(
        holds_in_force().filter(
            Q(decision_public_id=OuterRef("public_id"))
            | (~Q(incident_ref="") & Q(incident_ref=OuterRef("incident_ref")))
        )
    )


def past_retention(*, now: datetime) -> QuerySet[Any]:
    """Closed decisions decided longer ago than their action type's retention period (annotated
    ``on_hold``). Pending decisions are never removed. Each retention length in use gives one
    condition (its cut-off), so this stays one query however many action types there are."""
    lengths = set(ActionType.objects.values_list("retention_months", flat=True))
    old_enough = Q(pk__in=[])
    for months in lengths:
        old_enough |= Q(action_type__retention_months=months, decided_at__lt=months_before(now, months))
    return (
        DecisionRequest.objects.exclude(status=DecisionStatus.PENDING)
        .filter(decided_at__isnull=False)
        .filter(old_enough)
        .annotate(on_hold=held())
    )
