"""Row locks under every decision service (Saleor's ``lock_objects`` habit: tiny helpers, one
place for ``select_for_update``). Callers hold a transaction; the lock lasts until it ends."""

from __future__ import annotations

from typing import NamedTuple

from django.db import connection
from django.db.models import QuerySet
from django.utils import timezone

from decisions.models import DecisionRequest, DecisionStatus, Integration
from governance.models import ActionType


def _locking() -> QuerySet[DecisionRequest]:
    return DecisionRequest.objects.select_for_update(of=("self",)).select_related(
        "action_type", "integration", "submitted_by", "owner_role"
    )


def lock_decision(decision_id: int) -> DecisionRequest:
    """Row-lock a decision (and load what the services read); waits for another holder."""
    return _locking().get(pk=decision_id)


def try_lock_decision(decision_id: int) -> DecisionRequest | None:
    """Row-lock a decision unless another transaction holds it (then None, without waiting)."""
    return (
        DecisionRequest.objects.select_for_update(of=("self",), skip_locked=True)
        .select_related("action_type", "integration", "submitted_by", "owner_role")
        .filter(pk=decision_id)
        .first()
    )


def claim_overdue(batch_size: int) -> list[DecisionRequest]:
    """Row-lock up to ``batch_size`` pending decisions whose deadline has passed, soonest first,
    skipping rows another transaction holds (a deadline task, a signer, another sweep)."""
    return list(
        DecisionRequest.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("action_type", "integration", "owner_role")
        .filter(status=DecisionStatus.PENDING, deadline__lte=timezone.now())
        .order_by("deadline")[:batch_size]
    )


_LOCK_INTEGRATION_SQL = """
    SELECT EXISTS (
        SELECT 1 FROM decisions_integration_allowed_action_types
        WHERE integration_id = i.id AND actiontype_id = %s
    )
    FROM decisions_integration i WHERE i.id = %s FOR UPDATE OF i
"""
_COUNT_PENDING_SQL = "SELECT count(*) FROM decisions_decisionrequest WHERE integration_id = %s AND status = %s"


class IntakeLimits(NamedTuple):
    allowed: bool  # the integration may submit this action type
    pending: int  # its pending decisions now


def lock_intake_limits(integration: Integration, action_type: ActionType) -> IntakeLimits:
    """What the integration may do now, under the integration's row lock so
    that concurrent submissions cannot all pass the pending cap.

    Two statements on purpose: under READ COMMITTED a count inside the locking statement would
    use the snapshot from before the wait and miss the decision the previous holder inserted.
    Plain SQL because this runs on every submission and the ORM would spend longer building
    the statements than the database spends running them.
    """
    lock_sql = _LOCK_INTEGRATION_SQL
    if connection.vendor != "postgresql":
        lock_sql = lock_sql.replace("FOR UPDATE OF i", "")  # SQLite: one writer at a time anyway
    with connection.cursor() as cursor:
        cursor.execute(lock_sql, [action_type.pk, integration.pk])
        allowed = bool(cursor.fetchone()[0])
        cursor.execute(_COUNT_PENDING_SQL, [integration.pk, DecisionStatus.PENDING.value])
        pending = cursor.fetchone()[0]
    return IntakeLimits(allowed=allowed, pending=pending)
