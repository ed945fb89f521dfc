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


def _readable(user: Any, *, at: datetime) -> tuple[QuerySet[BreakGlass], set[int] | None]:
    """The uses ``user`` may read, narrowed in SQL, and the roles to finish the check with in
    memory (None: every use, for leads and auditors). A use is readable by the person who broke
    the glass and by anyone certified for a role that may review it; the roles an escalation
    added are a JSON list, matched here so that every database can run it."""
    found = _with_details()
    if user.has_perm(VIEW_ALL):
        return found, None
    roles = set(certified_role_ids(user, at=at))
    return found.filter(Q(user=user) | Q(role_id__in=roles) | Q(review_step__gt=0)), roles


def _may_read(used: BreakGlass, user: Any, roles: set[int] | None) -> bool:
    return roles is None or used.user_id == user.pk or bool(roles & {used.role_id, *(used.review_role_ids or [])})


def break_glass_visible_to(*, user: Any, at: datetime, limit: int = LIST_LIMIT) -> list[BreakGlass]:
    """The uses ``user`` may read (see ``_readable``): unreviewed first, then the latest reviewed."""
    found, roles = _readable(user, at=at)
    ordered = found.order_by(F("reviewed_at").desc(nulls_first=True), "-at", "-pk")
    readable = (u for u in ordered.iterator(chunk_size=limit) if _may_read(u, user, roles))
    return [u for _, u in zip(range(limit), readable, strict=False)]


def break_glass_visible(*, user: Any, at: datetime, public_id: Any) -> BreakGlass | None:
    """One use ``user`` may read, or None."""
    found, roles = _readable(user, at=at)
    used = found.filter(public_id=public_id).first()
    return used if used is not None and _may_read(used, user, roles) else None


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
