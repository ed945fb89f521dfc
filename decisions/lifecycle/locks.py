"""Row locks under every decision service (Saleor's ``lock_objects`` habit: tiny helpers, one
place for ``select_for_update``). Callers hold a transaction; the lock lasts until it ends."""

from __future__ import annotations

import os
from typing import NamedTuple

from django.db import connection
from django.db.models import QuerySet
from django.utils import timezone

from decisions.lifecycle import roundtrip
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


# The pending cap without one lock per integration. A submission far from the cap takes one of
# CAP_SLOTS advisory "slots" of its integration (never waiting), so up to CAP_SLOTS submissions
# of one key run side by side; near the cap, or when every slot is busy, it takes all of them in
# order (waiting for the submissions in flight to end) and counts alone.
CAP_SLOTS = 32
_SLOT_SPACE = 0x1CAB << 48  # advisory lock keys: this offset + integration id * CAP_SLOTS + slot

_TRY_SLOT_SQL = """
    SELECT s FROM generate_series(0, %(slots)s - 1) AS s
    WHERE pg_try_advisory_xact_lock(%(base)s + (s + %(start)s) %% %(slots)s)
    LIMIT 1
"""
_ALL_SLOTS_SQL = """
    SELECT count(pg_advisory_xact_lock(%(base)s + s)) FROM generate_series(0, %(slots)s - 1) AS s
"""
_LIMITS_SQL = """
    SELECT
        EXISTS (
            SELECT 1 FROM decisions_integration_allowed_action_types
            WHERE integration_id = %(integration)s AND actiontype_id = %(action_type)s
        ),
        (SELECT count(*) FROM decisions_decisionrequest WHERE integration_id = %(integration)s AND status = %(pending)s)
"""
# PostgreSQL: the pending count from the triggers' per-slot counts (``PendingCount``: a sum
# over at most 32 rows, whatever the backlog), and the new decision's id from the table's
# sequence (its rows then go in one round trip, ``lifecycle.roundtrip``; a refused submission
# leaves a gap in the ids).
_PG_LIMITS_SQL = """
    SELECT
        EXISTS (
            SELECT 1 FROM decisions_integration_allowed_action_types
            WHERE integration_id = %(integration)s AND actiontype_id = %(action_type)s
        ),
        (SELECT coalesce(sum(pending), 0) FROM decisions_pendingcount WHERE integration_id = %(integration)s),
        nextval(pg_get_serial_sequence('decisions_decisionrequest', 'id'))
"""


class IntakeLimits(NamedTuple):
    allowed: bool  # the integration may submit this action type
    pending: int  # its pending decisions now
    decision_id: int | None  # PostgreSQL: the id reserved for the new decision


class NearTheCap(Exception):
    """A submission that took one slot found its integration near the cap: its transaction is
    to be rolled back and run again with ``alone=True``."""


def intake_limits(integration: Integration, action_type: ActionType, *, alone: bool = False) -> IntakeLimits:
    """What the integration may do now, counted so that concurrent submissions cannot pass the
    pending cap together (PostgreSQL; SQLite has one writer at a time anyway).

    Far from the cap, one slot: at most CAP_SLOTS submissions hold one, and each counted (after
    taking it) at most ``max_pending - CAP_SLOTS`` pending decisions, so together they never pass
    the cap. Near it (``NearTheCap``, then ``alone``), or with every slot busy, all slots: a
    submission that holds them waits for every one in flight and counts after them, alone.
    The count is a statement of its own after the locks: under READ COMMITTED it sees every
    decision the previous holders inserted. On PostgreSQL it sums the triggers' per-slot counts
    (``PendingCount``), which cost the same at ten pending decisions as at a hundred thousand.
    Taking a slot and counting are two statements sent in one round trip (each statement of a
    multi-statement query has its own snapshot); the count is used only when the slot was
    taken. Plain SQL: this runs on every submission.
    """
    params: dict[str, int | str] = {
        "integration": integration.pk,
        "action_type": action_type.pk,
        "pending": DecisionStatus.PENDING.value,
        "slots": CAP_SLOTS,
        "base": _SLOT_SPACE + integration.pk * CAP_SLOTS,
        "start": os.getpid() % CAP_SLOTS,
    }
    with connection.cursor() as cursor:
        if connection.vendor != "postgresql":
            cursor.execute(_LIMITS_SQL, params)
            allowed, pending = cursor.fetchone()
            return IntakeLimits(allowed=bool(allowed), pending=pending, decision_id=None)
        row = None
        if not alone and integration.max_pending > CAP_SLOTS:
            slot, row = roundtrip.first_rows(cursor, [_TRY_SLOT_SQL, _PG_LIMITS_SQL], params)
            if slot is None:  # every slot busy: that count was not made under a slot
                row = None
            elif row is not None and row[1] > integration.max_pending - CAP_SLOTS:
                raise NearTheCap
        if row is None:
            row = roundtrip.first_rows(cursor, [_ALL_SLOTS_SQL, _PG_LIMITS_SQL], params)[1]
        assert row is not None  # noqa: S101 - a SELECT without FROM returns one row
    allowed, pending, decision_id = row
    return IntakeLimits(allowed=bool(allowed), pending=pending, decision_id=decision_id)
