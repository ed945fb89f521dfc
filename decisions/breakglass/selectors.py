"""Reads of break-glass uses: for the review pages, the decision page and the periodic review."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Count, F, Q, QuerySet

from decisions.models import BreakGlass, BreakGlassReview
from governance.selectors import valid_certifications

VIEW_ALL = "decisions.view_decisionrequest"
LIST_LIMIT = 200


def _with_details() -> QuerySet[BreakGlass]:
    return BreakGlass.objects.select_related("decision__action_type", "user", "role", "reviewed_by")


def certified_role_ids(user: Any, *, at: datetime) -> list[int]:
    return list(valid_certifications(at=at).filter(user=user, role__isnull=False).values_list("role_id", flat=True))


def break_glass_visible_to(*, user: Any, at: datetime) -> QuerySet[BreakGlass]:
    """The uses ``user`` may read: every one for leads and auditors; else their own and those
    whose review their certified roles may give. Unreviewed first (then the latest reviewed)."""
    found = _with_details()
    if not user.has_perm(VIEW_ALL):
        roles = certified_role_ids(user, at=at)
        mine = Q(user=user)
        for role_id in roles:
            mine |= Q(review_role_ids__contains=[role_id])
        found = found.filter(mine)
    return found.order_by(F("reviewed_at").desc(nulls_first=True), "-at", "-pk")


def break_glass_of(decision: Any) -> BreakGlass | None:
    return _with_details().filter(decision=decision).first()


def break_glass_use(*, start: datetime, end: datetime, now: datetime) -> list[dict[str, Any]]:
    """Break-glass use per person and role on the decisions submitted in [start, end) (the
    review's period), in one query: how many,
    confirmed, condemned, still unreviewed, and of those overdue. Most uses first."""
    rows = (
        BreakGlass.objects.filter(decision__created_at__gte=start, decision__created_at__lt=end)
        .values("user_id", "user__username", "user__first_name", "user__last_name", "role_id", "role__name")
        .annotate(
            uses=Count("pk"),
            confirmed=Count("pk", filter=Q(review=BreakGlassReview.CONFIRMED)),
            condemned=Count("pk", filter=Q(review=BreakGlassReview.CONDEMNED)),
            unreviewed=Count("pk", filter=Q(reviewed_at__isnull=True)),
            overdue=Count("pk", filter=Q(reviewed_at__isnull=True, review_due_at__lt=now)),
        )
        .order_by()
    )
    found = [
        {
            "person": " ".join(filter(None, (r["user__first_name"], r["user__last_name"]))) or r["user__username"],
            "role": r["role__name"],
            **{k: int(r[k]) for k in ("uses", "confirmed", "condemned", "unreviewed", "overdue")},
        }
        for r in rows
    ]
    return sorted(found, key=lambda r: (-r["uses"], r["person"], r["role"]))
