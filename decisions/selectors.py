"""Reads of decisions, eager-loaded so list endpoints and pages run a constant number of queries."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connections
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from decisions.models import (
    CERTIFY,
    DecisionEvent,
    DecisionRequest,
    DecisionRequestUserObjectPermission,
    DecisionStatus,
    Integration,
    IntegrationAPIKey,
    SignOff,
    Verdict,
)
from governance.models import ActionType
from governance.selectors import OnCall
from governance.snapshot import current_snapshot

User = get_user_model()
VIEW_ALL = "decisions.view_decisionrequest"


def decisions_with_details() -> QuerySet[DecisionRequest]:
    return DecisionRequest.objects.select_related(
        "integration", "action_type", "owner_role", "outcome", "break_glass__user"
    ).annotate(
        live_approvals=Count(
            "signoffs",
            filter=Q(signoffs__voided_at__isnull=True, signoffs__verdict__in=[Verdict.APPROVE, Verdict.OVERRIDE]),
        )
    )


def decisions_visible_to(*, user, integration: Integration | None) -> QuerySet[DecisionRequest]:
    """An integration sees its own; a reviewer (view permission) sees all; anyone else the
    decisions they may certify or have signed."""
    qs = decisions_with_details()
    if integration is not None:
        return qs.filter(integration=integration)
    if user.has_perm(VIEW_ALL):
        return qs
    granted = DecisionRequestUserObjectPermission.objects.filter(content_object=OuterRef("pk"), user=user)
    signed = SignOff.objects.filter(decision=OuterRef("pk"), signer=user)
    return qs.filter(Q(Exists(granted)) | Q(Exists(signed)))


def decision_for_response(pk: int) -> DecisionRequest:
    return decisions_with_details().get(pk=pk)


def decision_is_pending(*, pk: int) -> bool:
    """One indexed read (the long-poll's re-check)."""
    return DecisionRequest.objects.filter(pk=pk, status=DecisionStatus.PENDING).exists()


def new_decision_for_response(decision: DecisionRequest) -> DecisionRequest:
    """A decision just created in this request, ready to serialise without reading it back:
    it has no sign-offs, no outcome and no break-glass yet."""
    decision.live_approvals = 0  # type: ignore[attr-defined]  # what decisions_with_details annotates
    decision._state.fields_cache["outcome"] = None
    decision._state.fields_cache["break_glass"] = None
    return decision


def decision_events(*, decision: DecisionRequest) -> QuerySet[DecisionEvent]:
    return DecisionEvent.objects.filter(decision=decision).select_related("actor").order_by("seq")


def decision_signoffs(*, decision: DecisionRequest) -> QuerySet[SignOff]:
    return SignOff.objects.filter(decision=decision).select_related("signer", "signed_as").order_by("created_at", "id")


def _from_row(model, values: dict[str, Any], using: str):
    """A model instance from some of its columns (the rest deferred), as the ORM would build it."""
    names = [f.attname for f in model._meta.concrete_fields if f.attname in values]
    return model.from_db(using, names, [values[n] for n in names])


def _aware(value):
    """A raw cursor skips the ORM's converters: SQLite gives text or naive values (in UTC)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = parse_datetime(value)
    return value if timezone.is_aware(value) else value.replace(tzinfo=UTC)


_USABLE_KEY_SQL = """
    SELECT k.id, k.prefix, k.hashed_key, k.revoked, k.expiry_date, k.last_used_at, k.integration_id,
           i.name, i.is_active, i.rate_limit_per_minute, i.max_pending, i.service_account_id,
           u.username, u.is_active
    FROM decisions_integrationapikey k
    JOIN decisions_integration i ON i.id = k.integration_id
    JOIN {users} u ON u.id = i.service_account_id
    WHERE k.prefix = %s AND NOT k.revoked
"""


def usable_integration_key(*, prefix: str, using: str = "default") -> IntegrationAPIKey | None:
    """The unrevoked API key with ``prefix``, its integration and service account, in one query.

    Plain SQL: every integration request starts here, and building this three-table query
    through the ORM cost several times what the database spends answering it.
    """
    with connections[using].cursor() as cursor:
        cursor.execute(_USABLE_KEY_SQL.format(users=User._meta.db_table), [prefix])
        row = cursor.fetchone()
    if row is None:
        return None
    (key_id, key_prefix, hashed, revoked, expiry, last_used, integration_id, name, active, rate, cap, account_id,
     username, user_active) = row  # fmt: skip
    key = _from_row(
        IntegrationAPIKey,
        {
            "id": key_id,
            "prefix": key_prefix,
            "hashed_key": hashed,
            "revoked": bool(revoked),
            "expiry_date": _aware(expiry),
            "last_used_at": _aware(last_used),
            "integration_id": integration_id,
        },
        using,
    )
    integration = _from_row(
        Integration,
        {
            "id": integration_id,
            "name": name,
            "is_active": bool(active),
            "rate_limit_per_minute": rate,
            "max_pending": cap,
            "service_account_id": account_id,
        },
        using,
    )
    integration.service_account = _from_row(
        User, {"id": account_id, "username": username, "is_active": bool(user_active)}, using
    )
    key.integration = integration
    return key


# --- Analyst pages -------------------------------------------------------------------------


def decisions_to_sign(*, user) -> QuerySet[DecisionRequest]:
    """The queue: pending decisions ``user`` holds the certify grant on, soonest deadline first.

    Left out: decisions the person submitted (segregation of duties) and those they have
    already signed with a sign-off that still counts (one person counts once). Whether their
    certification is still valid is checked on the decision page, where it is explained.
    """
    granted = DecisionRequestUserObjectPermission.objects.filter(
        content_object=OuterRef("pk"), user=user, permission__codename=CERTIFY
    )
    signed = SignOff.objects.filter(decision=OuterRef("pk"), signer=user, voided_at__isnull=True)
    return (
        decisions_with_details()
        .filter(Exists(granted), status=DecisionStatus.PENDING)
        .exclude(submitted_by=user)
        .exclude(Exists(signed))
        .order_by("deadline", "pk")
    )


def decision_visible_to(*, user, public_id) -> DecisionRequest:
    """One decision ``user`` may read (see ``decisions_visible_to``); raises DoesNotExist."""
    return decisions_visible_to(user=user, integration=None).get(public_id=public_id)


def was_routed_to(decision: DecisionRequest, user) -> bool:
    """True when the routing snapshot named ``user`` as eligible at some stage or as a co-signer."""
    return any(entry["user_id"] == user.pk for entry in decision.eligible_entries)


def closed_decision_routed_to(*, user, public_id) -> DecisionRequest | None:
    """A decision that closed (and so revoked the grants) after it was routed to ``user``, or
    None. Lets the pages tell someone who had it open that it ended, instead of a bare 404."""
    decision = DecisionRequest.objects.filter(public_id=public_id).exclude(status=DecisionStatus.PENDING).first()
    if decision is None or not was_routed_to(decision, user):
        return None
    return decision


def decisions_for_review(
    *,
    user,
    status: str = "",
    action_type=None,
    created_from: datetime | None = None,
    created_before: datetime | None = None,
    search: str = "",
) -> QuerySet[DecisionRequest]:
    """Every decision ``user`` may read, filtered, newest first (the reviewers' list)."""
    qs = decisions_visible_to(user=user, integration=None)
    if status:
        qs = qs.filter(status=status)
    if action_type is not None:
        qs = qs.filter(action_type=action_type)
    if created_from is not None:
        qs = qs.filter(created_at__gte=created_from)
    if created_before is not None:
        qs = qs.filter(created_at__lt=created_before)
    if search:
        qs = qs.filter(Q(title__icontains=search) | Q(incident_ref__icontains=search))
    return qs.order_by("-created_at", "-id")


def action_types_for_filter() -> QuerySet[ActionType]:
    return ActionType.objects.order_by("name")


def on_call_roles_of(*, user, at: datetime) -> list[OnCall]:
    """Where ``user`` is on call at ``at`` (role and roster), from the cached governance snapshot."""
    found = []
    for plans in current_snapshot().plans.values():
        for plan in plans:
            on_call = plan.on_call(at)
            if on_call is not None and on_call[0].pk == user.pk:
                found.append(OnCall(user=on_call[0], role=plan.roster.role, roster=plan.roster, source=on_call[1]))
    return sorted(found, key=lambda o: (o.role.name, o.roster.name))
