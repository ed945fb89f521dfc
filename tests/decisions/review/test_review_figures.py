"""The review figures (decisions.review.figures.review_figures) against figures computed here, in
Python, from the rows themselves. Runs on SQLite locally and on PostgreSQL in CI (the SQL
differs only in how a duration is computed)."""

from __future__ import annotations

import math
import random
from datetime import UTC, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from decisions.models import (
    DecisionRequest,
    DecisionStatus,
    Escalation,
    OutcomeKind,
    ReasonCode,
    SignOff,
    Verdict,
)
from decisions.review.figures import Period, PeriodError, period_from_params, review_figures
from tests.decisions.factories import make_integration, make_past_decision
from tests.decisions.scenarios import outcome_row, signoff_row
from tests.governance.factories import ActionTypeFactory, DecisionRoleFactory, UserFactory

pytestmark = pytest.mark.django_db

T0 = timezone.now().replace(microsecond=0) - timedelta(days=10)
PERIOD = Period(start=T0, end=T0 + timedelta(days=5))


def make_decision(integration, action_type, *, created=T0 + timedelta(hours=1), **fields):
    return make_past_decision(integration, action_type, created=created, **fields)


@pytest.fixture
def world():
    prod = ActionTypeFactory(name="Isolate host", changes_production_state=True)
    enrich = ActionTypeFactory(name="Enrich", automation=True)
    role = DecisionRoleFactory(name="Incident commander")
    integration = make_integration(prod, enrich)
    return {"prod": prod, "enrich": enrich, "role": role, "integration": integration}


def test_statuses_are_counted_and_rates_use_closed_human_decisions(world):
    i, prod, enrich = world["integration"], world["prod"], world["enrich"]
    for status in ["approved"] * 3 + ["overridden", "rejected", "rejected", "expired", "cancelled", "pending"]:
        make_decision(i, prod, status=status)
    make_decision(i, enrich, status=DecisionStatus.AUTO_APPROVED, minutes=0)

    totals = review_figures(PERIOD)["totals"]

    assert (totals["total"], totals["auto"], totals["human"]) == (10, 1, 9)
    assert (totals["approved"], totals["overridden"], totals["rejected"], totals["expired"]) == (3, 1, 2, 1)
    assert (totals["cancelled"], totals["pending"]) == (1, 1)
    assert totals["approve_rate"] == pytest.approx(3 / 7, abs=1e-4)
    assert totals["expire_rate"] == pytest.approx(1 / 7, abs=1e-4)


def test_time_to_decision_percentiles_use_the_nearest_rank(world):
    for minutes in range(1, 11):  # 1..10 minutes
        make_decision(world["integration"], world["prod"], minutes=minutes)
    make_decision(world["integration"], world["prod"], status=DecisionStatus.EXPIRED, minutes=500)

    ttd = review_figures(PERIOD)["totals"]["time_to_decision"]

    # Nearest rank over 10 verdicts: p50 the 5th, p90 the 9th, p99 the 10th; expiries are not verdicts.
    assert ttd == {"p50": pytest.approx(300, abs=0.01), "p90": pytest.approx(540, abs=0.01), "p99": 600}


def test_the_period_includes_its_start_and_excludes_its_end(world):
    i, prod = world["integration"], world["prod"]
    make_decision(i, prod, created=PERIOD.start)
    make_decision(i, prod, created=PERIOD.end)
    make_decision(i, prod, created=PERIOD.start - timedelta(seconds=1))

    assert review_figures(PERIOD)["totals"]["total"] == 1


def test_false_positive_rate_counts_reported_outcomes_only(world):
    i, prod = world["integration"], world["prod"]
    reporter = i.service_account
    for kind in [OutcomeKind.FALSE_POSITIVE, OutcomeKind.TRUE_POSITIVE, OutcomeKind.BENIGN]:
        outcome_row(make_decision(i, prod), kind, by=reporter)
    make_decision(i, prod)  # no outcome yet

    totals = review_figures(PERIOD)["totals"]

    assert (totals["outcomes"], totals["false_positives"]) == (3, 1)
    assert totals["false_positive_rate"] == pytest.approx(1 / 3, abs=1e-4)


def test_over_blocking_is_executed_containment_later_false_or_reverted(world):
    i, prod, enrich = world["integration"], world["prod"], world["enrich"]
    by = i.service_account
    outcome_row(make_decision(i, prod), OutcomeKind.FALSE_POSITIVE, by=by)  # over-blocked
    outcome_row(
        make_decision(i, prod, status=DecisionStatus.OVERRIDDEN), OutcomeKind.TRUE_POSITIVE, reverted=True, by=by
    )
    outcome_row(make_decision(i, prod), OutcomeKind.TRUE_POSITIVE, by=by)  # executed, right
    rejected = make_decision(i, prod, status=DecisionStatus.REJECTED)
    outcome_row(rejected, OutcomeKind.FALSE_POSITIVE, by=by)  # not executed
    # Not containment: changes no production state.
    outcome_row(make_decision(i, enrich, status=DecisionStatus.AUTO_APPROVED), OutcomeKind.FALSE_POSITIVE, by=by)

    totals = review_figures(PERIOD)["totals"]

    assert (totals["containments"], totals["over_blocked"]) == (3, 2)
    assert totals["over_blocking_rate"] == pytest.approx(2 / 3, abs=1e-4)


def test_escalations_per_decision(world):
    i, prod = world["integration"], world["prod"]
    escalated = make_decision(i, prod, status=DecisionStatus.EXPIRED)
    for step in (0, 1, 2):
        Escalation.objects.create(decision=escalated, from_step=step, reason=Escalation.Reason.TIMEOUT, at=T0)
    make_decision(i, prod)

    totals = review_figures(PERIOD)["totals"]

    assert totals["escalations"] == 3
    assert totals["escalations_per_decision"] == 1.5


def test_figures_are_split_by_action_type_owning_role_and_model(world):
    i, prod, enrich, role = world["integration"], world["prod"], world["enrich"], world["role"]
    make_decision(i, prod, owner_role=role, model=("triage-agent", "2.0"))
    make_decision(i, prod, owner_role=role, status=DecisionStatus.REJECTED, model=("triage-agent", "1.0"))
    make_decision(i, enrich, status=DecisionStatus.AUTO_APPROVED, model=("enricher", ""))

    figures = review_figures(PERIOD)

    by_type = {row["label"]: row["total"] for row in figures["by_action_type"]}
    by_role = {row["label"]: row["total"] for row in figures["by_owner_role"]}
    by_model = {row["label"]: row["total"] for row in figures["by_model"]}
    assert by_type == {"Isolate host": 2, "Enrich": 1}
    assert by_role == {"Incident commander": 2, "No owning role": 1}
    assert by_model == {"triage-agent 2.0": 1, "triage-agent 1.0": 1, "enricher": 1}


def test_approver_figures_ignore_voided_sign_offs(world):
    i, prod, role = world["integration"], world["prod"], world["role"]
    alice = UserFactory(username="alice", first_name="Alice", last_name="Ng")
    first = make_decision(i, prod)
    signoff_row(first, alice, role, after=4)
    voided = signoff_row(make_decision(i, prod, status=DecisionStatus.REJECTED), alice, role, after=1)
    SignOff.objects.filter(pk=voided.pk).update(voided_at=timezone.now())
    signoff_row(
        make_decision(i, prod, status=DecisionStatus.REJECTED),
        alice,
        role,
        Verdict.REJECT,
        ReasonCode.DUPLICATE,
        after=8,
    )

    (row,) = review_figures(PERIOD)["by_approver"]

    assert (row["label"], row["signoffs"], row["approvals"], row["rejections"]) == ("Alice Ng", 2, 1, 1)
    assert row["time_to_sign"]["p50"] == pytest.approx(240, abs=0.01)


def test_reason_codes_of_overrides_and_rejections_are_counted(world):
    i, prod, role = world["integration"], world["prod"], world["role"]
    people = [UserFactory() for _ in range(4)]
    signoff_row(make_decision(i, prod), people[0], role, Verdict.APPROVE, ReasonCode.EVIDENCE_SUFFICIENT, after=5.0)
    signoff_row(make_decision(i, prod), people[1], role, Verdict.OVERRIDE, ReasonCode.SCOPE_TOO_BROAD, after=5.0)
    for person in people[2:]:
        signoff_row(make_decision(i, prod), person, role, Verdict.REJECT, ReasonCode.FALSE_POSITIVE, after=5.0)

    reasons = review_figures(PERIOD)["reason_codes"]

    assert reasons["override"] == [{"code": "scope_too_broad", "label": "Scope too broad: narrowed", "count": 1}]
    assert reasons["reject"] == [{"code": "false_positive", "label": "False positive", "count": 2}]


def test_an_empty_period_has_zero_counts_and_no_rates(world):
    totals = review_figures(PERIOD)["totals"]

    assert totals["total"] == 0
    assert totals["approve_rate"] is None
    assert totals["time_to_decision"] == {"p50": None, "p90": None, "p99": None}


def _populate(world, count: int, rng: random.Random) -> None:
    i, role = world["integration"], world["role"]
    types = [world["prod"], ActionTypeFactory(changes_production_state=False), world["enrich"]]
    roles = [role, DecisionRoleFactory(), None]
    people = [UserFactory() for _ in range(3)]
    statuses = ["approved", "approved", "overridden", "rejected", "expired", "cancelled", "pending", "auto_approved"]
    for n in range(count):
        status = rng.choice(statuses)
        d = make_decision(
            i,
            rng.choice(types),
            status=status,
            created=T0 + timedelta(minutes=rng.randrange(0, 7000)),
            minutes=rng.uniform(0.5, 600),
            owner_role=rng.choice(roles),
            model=rng.choice([("a", "1"), ("a", "2"), ("b", "")]),
        )
        if status in ("approved", "overridden", "rejected"):
            verdict = {"approved": Verdict.APPROVE, "overridden": Verdict.OVERRIDE, "rejected": Verdict.REJECT}[status]
            reason = {"approve": "other", "override": "wrong_target", "reject": "impact_too_high"}[verdict]
            signoff_row(d, people[n % 3], role, verdict, reason, after=rng.uniform(0.1, 300))
        if rng.random() < 0.3:
            for step in range(rng.randrange(1, 3)):
                Escalation.objects.create(decision=d, from_step=step, reason="timeout", at=T0)
        if status != "pending" and rng.random() < 0.6:
            kind = rng.choice(list(OutcomeKind.values))
            outcome_row(d, kind, reverted=rng.random() < 0.2, by=i.service_account)


def _nearest_rank(values: list[float], p: int) -> float | None:
    if not values:
        return None
    values = sorted(values)
    return values[math.ceil(p * len(values) / 100) - 1]


def _expected(decisions: list[DecisionRequest]) -> dict:
    """The figures of ``decisions``, computed row by row in Python (the reference)."""
    counts = {s: sum(d.status == s for d in decisions) for s in DecisionStatus.values}
    closed = sum(counts[s] for s in ("approved", "overridden", "rejected", "expired"))
    outcomes = [d for d in decisions if hasattr(d, "outcome")]
    executed = [
        d
        for d in decisions
        if d.status in ("approved", "overridden", "auto_approved") and d.action_type.changes_production_state
    ]
    over = [d for d in executed if hasattr(d, "outcome") and (d.outcome.kind == "false_positive" or d.outcome.reverted)]
    secs = [
        (d.decided_at - d.created_at).total_seconds()
        for d in decisions
        if d.status in ("approved", "overridden", "rejected")
    ]
    escalations = sum(d.escalations.count() for d in decisions)
    return {
        "total": len(decisions),
        "auto": counts["auto_approved"],
        "expired": counts["expired"],
        "approve_rate": round(counts["approved"] / closed, 4) if closed else None,
        "reject_rate": round(counts["rejected"] / closed, 4) if closed else None,
        "false_positives": sum(d.outcome.kind == "false_positive" for d in outcomes),
        "outcomes": len(outcomes),
        "over_blocked": len(over),
        "containments": len(executed),
        "escalations": escalations,
        "time_to_decision": {f"p{p}": _nearest_rank(secs, p) for p in (50, 90, 99)},
    }


def _comparable(metrics: dict) -> dict:
    picked = {k: metrics[k] for k in _expected([])}
    picked["time_to_decision"] = {k: None if v is None else round(v, 1) for k, v in metrics["time_to_decision"].items()}
    return picked


def test_every_dimension_matches_a_row_by_row_computation(world):
    _populate(world, 80, random.Random(7))
    rows = list(
        DecisionRequest.objects.filter(created_at__gte=PERIOD.start, created_at__lt=PERIOD.end)
        .select_related("action_type", "outcome")
        .prefetch_related("escalations")
    )

    figures = review_figures(PERIOD)

    assert _comparable(figures["totals"]) == _comparable(_expected(rows))
    for dim, key in [("by_action_type", "action_type_id"), ("by_owner_role", "owner_role_id")]:
        for row in figures[dim]:
            group = [d for d in rows if str(getattr(d, key) or "") == row["key"]]
            assert _comparable(row) == _comparable(_expected(group)), (dim, row["label"])
        assert sum(row["total"] for row in figures[dim]) == len(rows)
    for row in figures["by_model"]:
        group = [d for d in rows if f"{d.model_name} {d.model_version}".strip() == row["key"]]
        assert _comparable(row) == _comparable(_expected(group)), row["label"]
    assert sum(row["total"] for row in figures["by_model"]) == len(rows)


def test_every_approver_row_matches_a_row_by_row_computation(world):
    _populate(world, 80, random.Random(11))
    signoffs = list(
        SignOff.objects.filter(
            decision__created_at__gte=PERIOD.start, decision__created_at__lt=PERIOD.end, voided_at__isnull=True
        ).select_related("decision", "decision__outcome")
    )

    rows = {row["key"]: row for row in review_figures(PERIOD)["by_approver"]}

    assert set(rows) == {str(s.signer_id) for s in signoffs}
    for key, row in rows.items():
        mine = [s for s in signoffs if str(s.signer_id) == key]
        approved = [s for s in mine if s.verdict in (Verdict.APPROVE, Verdict.OVERRIDE)]
        outcomes = [s.decision.outcome for s in approved if hasattr(s.decision, "outcome")]
        secs = [(s.created_at - s.decision.created_at).total_seconds() for s in mine]
        expected = {
            "signoffs": len(mine),
            "approvals": sum(s.verdict == Verdict.APPROVE for s in mine),
            "overrides": sum(s.verdict == Verdict.OVERRIDE for s in mine),
            "rejections": sum(s.verdict == Verdict.REJECT for s in mine),
            "approved_with_outcome": len(outcomes),
            "approved_then_false_or_reverted": sum(o.kind == "false_positive" or o.reverted for o in outcomes),
            "time_to_sign": {f"p{p}": round(_nearest_rank(secs, p), 1) for p in (50, 90, 99)},
        }
        got = {k: row[k] for k in expected}
        got["time_to_sign"] = {k: round(v, 1) for k, v in row["time_to_sign"].items()}
        assert got == expected, row["label"]


def test_the_figures_take_the_same_number_of_queries_for_10_and_60_decisions(world):
    _populate(world, 10, random.Random(1))
    with CaptureQueriesContext(connection) as few:
        review_figures(PERIOD)
    _populate(world, 50, random.Random(2))
    with CaptureQueriesContext(connection) as many:
        figures = review_figures(PERIOD)

    assert figures["totals"]["total"] > 10
    assert len(many) == len(few) <= 7  # six for the decisions, one for the break-glass use


def test_a_period_from_local_dates_spans_whole_local_days():
    from zoneinfo import ZoneInfo

    berlin = ZoneInfo("Europe/Berlin")
    period = period_from_params({"start": "2026-03-29", "end": "2026-03-29"}, tz=berlin)

    assert period.start.isoformat() == "2026-03-29T00:00:00+01:00"
    assert period.end.astimezone(UTC) - period.start.astimezone(UTC) == timedelta(hours=23)  # spring forward


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"start": "2026-01-01"}, "both"),
        ({"start": "2026-13-01", "end": "2026-12-01"}, "YYYY-MM-DD"),
        ({"start": "2026-02-01", "end": "2026-01-01"}, "before"),
        ({"days": "many"}, "whole number"),
        ({"days": "0"}, "between"),
    ],
)
def test_a_bad_period_is_refused_with_a_reason(params, message):
    with pytest.raises(PeriodError, match=message):
        period_from_params(params, tz=timezone.get_default_timezone())
