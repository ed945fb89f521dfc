"""The periodic review's figures: what the AI-assisted decisions of a period cost and how they went.

Everything is aggregated in SQL, in a constant number of queries whatever the number of
decisions: one for the decision figures of every dimension (all decisions, per action type, per
owning role, per AI model), one per approver, one for the reason codes, two for names, and one
for break-glass use per person and role.
Percentiles use the nearest-rank method: the k-th smallest value, k = ceil(p * n / 100). On
PostgreSQL with GROUPING SETS and ``percentile_disc`` (which takes the ceil(p * n)-th value: the
same one), about four times faster on 100,000 decisions than the portable form used elsewhere
(SQLite), UNION ALL and window functions. Both give identical figures.

Definitions (also shown on the dashboard):
- *human*: every decision that was not auto-approved.
- *closed by a human*: approved, overridden or rejected; with the expiries they are the
  denominator of the approve / override / reject / expire rates.
- *time to decision*: from submission to the human verdict (approved, overridden, rejected).
- *false-positive rate*: outcomes reported false positive / outcomes reported.
- *over-blocking*: an executed containment (approved, overridden or auto-approved, of an action
  type that changes production state) later reported false positive or reverted, over all
  executed containments.
- *escalations per decision*: escalation rows / decisions.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone

from decisions.breakglass.selectors import break_glass_use
from decisions.models import (
    DecisionRequest,
    DecisionStatus,
    Escalation,
    Outcome,
    OutcomeKind,
    ReasonCode,
    SignOff,
    Verdict,
)
from governance.models import ActionType, DecisionRole

User = get_user_model()

PERCENTILES = (50, 90, 99)
DIMENSIONS = ("action_type", "owner_role", "model")


@dataclass(frozen=True)
class Period:
    """[start, end) over the decisions' submission time."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ValueError("A review period must end after it starts.")

    @classmethod
    def last_days(cls, days: int, *, now: datetime | None = None) -> Period:
        now = now or timezone.now()
        return cls(start=now - timedelta(days=days), end=now)

    def as_dict(self) -> dict[str, str]:
        return {"start": self.start.isoformat(), "end": self.end.isoformat()}


PRESET_DAYS = (7, 30, 90, 365)
DEFAULT_DAYS = 30
MAX_PERIOD_DAYS = 3660
# Local dates whose period arithmetic (a day added, any UTC offset applied) cannot overflow.
EARLIEST_DAY, LATEST_DAY = date(1970, 1, 1), date(9998, 12, 31)


class PeriodError(ValueError):
    """The period asked for is not valid; the message says why (shown to the user)."""


def period_from_params(params: Mapping[str, str], *, tz: tzinfo, now: datetime | None = None) -> Period:
    """The period a dashboard, export or API request asks for.

    ``start`` and ``end`` are local dates (YYYY-MM-DD, both included) in ``tz``; otherwise
    ``days`` (default 30) ending now. Raises PeriodError with a message for the user."""
    now = now or timezone.now()
    start_s, end_s = (params.get("start") or "").strip(), (params.get("end") or "").strip()
    if start_s or end_s:
        if not (start_s and end_s):
            raise PeriodError("Give both a start and an end date, or neither.")
        try:
            start_day, end_day = date.fromisoformat(start_s), date.fromisoformat(end_s)
        except ValueError as exc:
            raise PeriodError("Dates must be written YYYY-MM-DD.") from exc
        if end_day < start_day:
            raise PeriodError("The end date must not be before the start date.")
        if start_day < EARLIEST_DAY or end_day > LATEST_DAY:
            raise PeriodError(f"Dates must fall between {EARLIEST_DAY} and {LATEST_DAY}.")
        if (end_day - start_day).days > MAX_PERIOD_DAYS:
            raise PeriodError(f"A period may span at most {MAX_PERIOD_DAYS} days.")
        start = datetime.combine(start_day, time.min, tzinfo=tz)
        end = datetime.combine(end_day + timedelta(days=1), time.min, tzinfo=tz)
        return Period(start=start, end=end)
    days_s = (params.get("days") or str(DEFAULT_DAYS)).strip()
    try:
        days = int(days_s)
    except ValueError as exc:
        raise PeriodError("days must be a whole number.") from exc
    if not 1 <= days <= MAX_PERIOD_DAYS:
        raise PeriodError(f"days must be between 1 and {MAX_PERIOD_DAYS}.")
    return Period.last_days(days, now=now)


def _seconds_between(later: str, earlier: str) -> str:
    if connection.vendor == "postgresql":
        return f"EXTRACT(EPOCH FROM ({later} - {earlier}))"
    return f"((julianday({later}) - julianday({earlier})) * 86400.0)"


def _percentile_columns(value: str = "secs") -> str:
    # Nearest rank: the k-th smallest with k = ceil(p * n / 100) = (p * n + 99) / 100 in integers.
    return ", ".join(f"MAX(CASE WHEN rn = ({p} * n + 99) / 100 THEN {value} END) AS p{p}" for p in PERCENTILES)


def _tables() -> dict[str, str]:
    return {
        "decision": DecisionRequest._meta.db_table,
        "action_type": ActionType._meta.db_table,
        "outcome": Outcome._meta.db_table,
        "escalation": Escalation._meta.db_table,
        "signoff": SignOff._meta.db_table,
    }


def _decision_rows() -> str:
    """CTEs ``esc`` and ``f``: one row per decision of the period, with what the figures need.

    ``esc`` counts every decision's escalations without joining the decisions: the join to
    ``f`` keeps the period's, and scanning the narrow escalation table beats a second scan of
    the wide decision table."""
    t = _tables()
    secs = _seconds_between("dr.decided_at", "dr.created_at")
    human_verdicts = "('approved', 'overridden', 'rejected')"
    executed = "('approved', 'overridden', 'auto_approved')"
    return f"""esc AS (
    SELECT decision_id, COUNT(*) AS n FROM {t["escalation"]} GROUP BY decision_id
), f AS (
    SELECT dr.action_type_id, dr.owner_role_id,
           TRIM(dr.model_name || ' ' || dr.model_version) AS model_label,
           dr.status,
           CASE WHEN dr.status IN {human_verdicts} THEN {secs} END AS secs,
           COALESCE(esc.n, 0) AS escalations,
           o.kind AS outcome_kind,
           CASE WHEN o.reverted THEN 1 ELSE 0 END AS reverted,
           CASE WHEN dr.status IN {executed} AND at.changes_production_state THEN 1 ELSE 0 END AS containment
    FROM {t["decision"]} dr
    JOIN {t["action_type"]} at ON at.id = dr.action_type_id
    LEFT JOIN {t["outcome"]} o ON o.decision_id = dr.id
    LEFT JOIN esc ON esc.decision_id = dr.id
    WHERE dr.created_at >= %(start)s AND dr.created_at < %(end)s
)"""  # noqa: S608 - table names come from model metadata, values are parameters


_COUNTS = f"""COUNT(*) AS total,
        SUM(CASE WHEN status = 'auto_approved' THEN 1 ELSE 0 END) AS auto,
        SUM(CASE WHEN status = 'pending' THEN 1 ELSE 0 END) AS pending,
        SUM(CASE WHEN status = 'approved' THEN 1 ELSE 0 END) AS approved,
        SUM(CASE WHEN status = 'overridden' THEN 1 ELSE 0 END) AS overridden,
        SUM(CASE WHEN status = 'rejected' THEN 1 ELSE 0 END) AS rejected,
        SUM(CASE WHEN status = 'expired' THEN 1 ELSE 0 END) AS expired,
        SUM(CASE WHEN status = 'cancelled' THEN 1 ELSE 0 END) AS cancelled,
        SUM(escalations) AS escalations,
        SUM(CASE WHEN outcome_kind IS NOT NULL THEN 1 ELSE 0 END) AS outcomes,
        SUM(CASE WHEN outcome_kind = '{OutcomeKind.FALSE_POSITIVE}' THEN 1 ELSE 0 END) AS false_positives,
        SUM(containment) AS containments,
        SUM(CASE WHEN containment = 1 AND (outcome_kind = '{OutcomeKind.FALSE_POSITIVE}' OR reverted = 1)
                 THEN 1 ELSE 0 END) AS over_blocked"""

# GROUPING(action_type_id, owner_role_id, model_label) per grouping set: a bit is set for each
# column the set does not group by.
_GROUPING_SETS = "GROUPING SETS ((), (action_type_id), (owner_role_id), (model_label))"
_GROUPING = "GROUPING(action_type_id, owner_role_id, model_label)"


def _pg_percentiles(value: str = "secs") -> str:
    fractions = ", ".join(str(p / 100) for p in PERCENTILES)
    return f"percentile_disc(ARRAY[{fractions}]) WITHIN GROUP (ORDER BY {value}) AS pct"


def _pg_percentile_columns(table: str) -> str:
    return ", ".join(f"{table}.pct[{i}] AS p{p}" for i, p in enumerate(PERCENTILES, start=1))


def _decision_sql() -> str:
    return _decision_sql_postgresql() if connection.vendor == "postgresql" else _decision_sql_portable()


def _decision_sql_portable() -> str:
    dims = " UNION ALL ".join(
        [
            "SELECT 'total' AS dim, '' AS k, f.* FROM f",
            "SELECT 'action_type', CAST(action_type_id AS TEXT), f.* FROM f",
            "SELECT 'owner_role', COALESCE(CAST(owner_role_id AS TEXT), ''), f.* FROM f",
            "SELECT 'model', model_label, f.* FROM f",
        ]
    )
    return f"""
WITH {_decision_rows()}, u AS ({dims}
), ranked AS (
    SELECT dim, k, secs,
           ROW_NUMBER() OVER (PARTITION BY dim, k ORDER BY secs) AS rn,
           COUNT(*) OVER (PARTITION BY dim, k) AS n
    FROM u WHERE secs IS NOT NULL
), pct AS (
    SELECT dim, k, {_percentile_columns()} FROM ranked GROUP BY dim, k
), agg AS (
    SELECT dim, k,
        {_COUNTS}
    FROM u GROUP BY dim, k
)
SELECT agg.*, pct.p50, pct.p90, pct.p99
FROM agg LEFT JOIN pct ON pct.dim = agg.dim AND pct.k = agg.k
"""  # noqa: S608


_COUNT_NAMES = (
    "total",
    "auto",
    "pending",
    "approved",
    "overridden",
    "rejected",
    "expired",
    "cancelled",
    "escalations",
    "outcomes",
    "false_positives",
    "containments",
    "over_blocked",
)


def _decision_sql_postgresql() -> str:
    """The same rows as the portable form. The counts are taken once per (action type, owning
    role, model) and rolled up by the grouping sets (sums of whole numbers: exact); the
    percentiles sort only the decisions with a human verdict."""
    sums = ", ".join(f"SUM({name}) AS {name}" for name in _COUNT_NAMES)
    return f"""
WITH {_decision_rows()}, c AS (
    SELECT action_type_id, owner_role_id, model_label,
        {_COUNTS}
    FROM f GROUP BY action_type_id, owner_role_id, model_label
), agg AS (
    SELECT {_GROUPING} AS g, action_type_id, owner_role_id, model_label, {sums}
    FROM c GROUP BY {_GROUPING_SETS}
), pct AS (
    SELECT {_GROUPING} AS g, action_type_id, owner_role_id, model_label, {_pg_percentiles()}
    FROM f WHERE secs IS NOT NULL GROUP BY {_GROUPING_SETS}
)
SELECT CASE agg.g WHEN 3 THEN 'action_type' WHEN 5 THEN 'owner_role' WHEN 6 THEN 'model' ELSE 'total' END AS dim,
       CASE agg.g WHEN 3 THEN CAST(agg.action_type_id AS TEXT)
                  WHEN 5 THEN COALESCE(CAST(agg.owner_role_id AS TEXT), '')
                  WHEN 6 THEN agg.model_label ELSE '' END AS k,
       {", ".join(f"agg.{name}" for name in _COUNT_NAMES)},
       {_pg_percentile_columns("pct")}
FROM agg LEFT JOIN pct ON pct.g = agg.g
    AND pct.action_type_id IS NOT DISTINCT FROM agg.action_type_id
    AND pct.owner_role_id IS NOT DISTINCT FROM agg.owner_role_id
    AND pct.model_label IS NOT DISTINCT FROM agg.model_label
"""  # noqa: S608


def _signoff_rows() -> str:
    t = _tables()
    secs = _seconds_between("s.created_at", "dr.created_at")
    return f"""
    SELECT s.signer_id, s.verdict, {secs} AS secs, o.kind AS outcome_kind,
           CASE WHEN o.reverted THEN 1 ELSE 0 END AS reverted
    FROM {t["signoff"]} s
    JOIN {t["decision"]} dr ON dr.id = s.decision_id
    LEFT JOIN {t["outcome"]} o ON o.decision_id = dr.id
    WHERE dr.created_at >= %(start)s AND dr.created_at < %(end)s AND s.voided_at IS NULL
"""  # noqa: S608


_APPROVER_COUNTS = f"""COUNT(*) AS signoffs,
        SUM(CASE WHEN verdict = '{Verdict.APPROVE}' THEN 1 ELSE 0 END) AS approvals,
        SUM(CASE WHEN verdict = '{Verdict.OVERRIDE}' THEN 1 ELSE 0 END) AS overrides,
        SUM(CASE WHEN verdict = '{Verdict.REJECT}' THEN 1 ELSE 0 END) AS rejections,
        SUM(CASE WHEN verdict IN ('{Verdict.APPROVE}', '{Verdict.OVERRIDE}') AND outcome_kind IS NOT NULL
                 THEN 1 ELSE 0 END) AS approved_with_outcome,
        SUM(CASE WHEN verdict IN ('{Verdict.APPROVE}', '{Verdict.OVERRIDE}')
                      AND (outcome_kind = '{OutcomeKind.FALSE_POSITIVE}' OR reverted = 1)
                 THEN 1 ELSE 0 END) AS approved_then_false_or_reverted"""


_APPROVER_COUNT_NAMES = (
    "signer_id",
    "signoffs",
    "approvals",
    "overrides",
    "rejections",
    "approved_with_outcome",
    "approved_then_false_or_reverted",
)


def _approver_sql() -> str:
    return _approver_sql_postgresql() if connection.vendor == "postgresql" else _approver_sql_portable()


def _approver_sql_postgresql() -> str:
    """One pass; the time to sign is never NULL, so percentile_disc ranks every row, as the
    portable form does."""
    return f"""
SELECT {", ".join(f"x.{name}" for name in _APPROVER_COUNT_NAMES)}, {_pg_percentile_columns("x")} FROM (
    SELECT signer_id,
        {_APPROVER_COUNTS},
        {_pg_percentiles()}
    FROM ({_signoff_rows()}) s GROUP BY signer_id
) x
"""  # noqa: S608


def _approver_sql_portable() -> str:
    return f"""
WITH s AS ({_signoff_rows()}
), ranked AS (
    SELECT signer_id, secs,
           ROW_NUMBER() OVER (PARTITION BY signer_id ORDER BY secs) AS rn,
           COUNT(*) OVER (PARTITION BY signer_id) AS n
    FROM s
), pct AS (
    SELECT signer_id, {_percentile_columns()} FROM ranked GROUP BY signer_id
), agg AS (
    SELECT signer_id,
        {_APPROVER_COUNTS}
    FROM s GROUP BY signer_id
)
SELECT agg.*, pct.p50, pct.p90, pct.p99 FROM agg JOIN pct ON pct.signer_id = agg.signer_id
"""  # noqa: S608


def _reason_sql() -> str:
    t = _tables()
    return f"""
SELECT s.verdict, s.reason_code, COUNT(*) AS n
FROM {t["signoff"]} s JOIN {t["decision"]} dr ON dr.id = s.decision_id
WHERE dr.created_at >= %(start)s AND dr.created_at < %(end)s AND s.voided_at IS NULL
  AND s.verdict IN ('{Verdict.OVERRIDE}', '{Verdict.REJECT}')
GROUP BY s.verdict, s.reason_code
"""  # noqa: S608


def _rows(sql: str, period: Period) -> list[dict[str, Any]]:
    # Bound as the ORM binds: SQLite compares text, so an aware local time must become naive UTC.
    adapt = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        cursor.execute(sql, {"start": adapt(period.start), "end": adapt(period.end)})
        names = [c[0] for c in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _by_signoffs_then_label(row: dict[str, Any]) -> tuple[int, str]:
    return -row["signoffs"], row["label"]


def _seconds(value: Any) -> float | None:
    return None if value is None else round(float(value), 3)


def _decision_metrics(row: dict[str, Any]) -> dict[str, Any]:
    counts = {name: int(row.get(name) or 0) for name in _COUNT_NAMES}
    counts["human"] = counts["total"] - counts["auto"]
    closed = counts["approved"] + counts["overridden"] + counts["rejected"] + counts["expired"]
    return {
        **counts,
        "approve_rate": _rate(counts["approved"], closed),
        "override_rate": _rate(counts["overridden"], closed),
        "reject_rate": _rate(counts["rejected"], closed),
        "expire_rate": _rate(counts["expired"], closed),
        "false_positive_rate": _rate(counts["false_positives"], counts["outcomes"]),
        "over_blocking_rate": _rate(counts["over_blocked"], counts["containments"]),
        "escalations_per_decision": _rate(counts["escalations"], counts["total"]),
        "time_to_decision": {f"p{p}": _seconds(row.get(f"p{p}")) for p in PERCENTILES},
    }


def _empty_row() -> dict[str, Any]:
    return {"p50": None, "p90": None, "p99": None}


def review_figures(period: Period) -> dict[str, Any]:
    """Every figure of the review for ``period``, JSON-able (a report freezes it as is)."""
    by_dim: dict[str, dict[str, dict[str, Any]]] = {dim: {} for dim in ("total", *DIMENSIONS)}
    for row in _rows(_decision_sql(), period):
        by_dim[row["dim"]][row["k"]] = _decision_metrics(row)
    totals = by_dim["total"].get("", _decision_metrics(_empty_row()))

    action_type_names = dict(
        ActionType.objects.filter(pk__in=[int(k) for k in by_dim["action_type"]]).values_list("pk", "name")
    )
    role_names = dict(
        DecisionRole.objects.filter(pk__in=[int(k) for k in by_dim["owner_role"] if k]).values_list("pk", "name")
    )

    def listed(dim: str, label: Callable[[Any], str]) -> list[dict[str, Any]]:
        rows = [{"key": k, "label": label(k), **m} for k, m in by_dim[dim].items()]
        return sorted(rows, key=lambda r: (-r["total"], r["label"]))

    approver_rows = _rows(_approver_sql(), period)
    people = {
        u.pk: u
        for u in User.objects.filter(pk__in=[r["signer_id"] for r in approver_rows]).only(
            "username", "first_name", "last_name"
        )
    }
    approvers = sorted(
        (
            {
                "key": str(r["signer_id"]),
                "label": people[r["signer_id"]].get_full_name() or people[r["signer_id"]].get_username(),
                "signoffs": int(r["signoffs"]),
                "approvals": int(r["approvals"]),
                "overrides": int(r["overrides"]),
                "rejections": int(r["rejections"]),
                "approved_with_outcome": int(r["approved_with_outcome"]),
                "approved_then_false_or_reverted": int(r["approved_then_false_or_reverted"]),
                "over_blocking_rate": _rate(int(r["approved_then_false_or_reverted"]), int(r["approved_with_outcome"])),
                "time_to_sign": {f"p{p}": _seconds(r[f"p{p}"]) for p in PERCENTILES},
            }
            for r in approver_rows
        ),
        key=_by_signoffs_then_label,
    )

    reasons: dict[str, list[dict[str, Any]]] = {Verdict.OVERRIDE.value: [], Verdict.REJECT.value: []}
    for r in _rows(_reason_sql(), period):
        reasons[r["verdict"]].append(
            {"code": r["reason_code"], "label": ReasonCode(r["reason_code"]).label, "count": int(r["n"])}
        )
    for entries in reasons.values():
        entries.sort(key=lambda e: (-e["count"], e["code"]))

    return {
        "period": period.as_dict(),
        "computed_at": timezone.now().isoformat(),
        "totals": totals,
        "by_action_type": listed("action_type", lambda k: action_type_names.get(int(k), f"#{k}")),
        "by_owner_role": listed("owner_role", lambda k: role_names.get(int(k), f"#{k}") if k else "No owning role"),
        "by_model": listed("model", lambda k: k or "Unnamed model"),
        "by_approver": approvers,
        "reason_codes": reasons,
        "break_glass": break_glass_use(start=period.start, end=period.end, now=timezone.now()),
    }


STATUS_ORDER = [
    DecisionStatus.APPROVED,
    DecisionStatus.OVERRIDDEN,
    DecisionStatus.REJECTED,
    DecisionStatus.EXPIRED,
    DecisionStatus.AUTO_APPROVED,
    DecisionStatus.CANCELLED,
    DecisionStatus.PENDING,
]
