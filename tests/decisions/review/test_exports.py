"""Streamed exports of a review period (decisions, sign-offs, events; CSV and JSON): who may
download them, how a period and bad input are answered, that the JSON export round-trips to the
database rows (every column, with its type), that the events export alone verifies the decision
log, that CSV cells cannot run as spreadsheet formulas, and that memory and queries stay flat
however many rows are exported."""

from __future__ import annotations

import csv
import io
import json
import time
import tracemalloc
from datetime import datetime, timedelta
from decimal import Decimal
from uuid import UUID

import pytest
from django.db import connection
from django.http import StreamingHttpResponse
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from decisions.lifecycle import corrections, outcomes, signing
from decisions.lifecycle.eventlog import GENESIS, event_hash
from decisions.models import DecisionEvent, DecisionRequest, EventKind, OutcomeKind, SignOff
from decisions.review import exports
from decisions.review.figures import Period
from decisions.seeding.history import seed_history
from governance import rbac
from governance.models import Certification, Level
from tests.decisions.factories import decision_data, make_integration, submit
from tests.decisions.scenarios import certification_valid, tamper
from tests.governance.factories import (
    ActionTypeFactory,
    ApprovalPolicyFactory,
    make_staffed_action_type,
    make_user_in_group,
)
from tests.helpers import force_update

pytestmark = pytest.mark.django_db

APPROVE = {"verdict": "approve", "reason_code": "evidence_sufficient", "rationale": "Beaconing confirmed in EDR."}
OVERRIDE = {
    "verdict": "override",
    "reason_code": "scope_too_broad",
    "rationale": "Only the laptop, not the subnet.",
    "override_action": {"target": {"host": "fin-042"}},
}
REJECT = {"verdict": "reject", "reason_code": "false_positive", "rationale": "-1 day old scanner: known, benign."}
FORMULA_TITLE = '=HYPERLINK("http://evil.example","click")'

# How the JSON export writes the values JSON has no type for (everything else is as stored).
UUIDS = {"decision_id", "integration_id", "policy_id", "signoff_id", "certification_id"}
DATETIMES = {
    "submitted_at",
    "deadline",
    "decided_at",
    "outcome_reported_at",
    "signed_at",
    "voided_at",
    "at",
}
LEVELS = {"severity", "blast_radius"}


def url(dataset: str, fmt: str, **params) -> str:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return f"/decisions/review/export/{dataset}.{fmt}" + (f"?{query}" if query else "")


def body(response) -> str:
    return b"".join(response.streaming_content).decode()


def exported(client, dataset: str, fmt: str = "json", **params):
    response = client.get(url(dataset, fmt, **params))
    assert response.status_code == 200, response.content
    text = body(response)
    return json.loads(text) if fmt == "json" else list(csv.DictReader(io.StringIO(text)))


@pytest.fixture
def auditor(client):
    user = make_user_in_group(rbac.AUDITOR)
    client.force_login(user)
    return user


@pytest.fixture
def history():
    """Decisions approved (with an outcome), overridden, rejected, pending with a voided
    approval, auto-approved, and one signed by its submitter on someone else's certification."""
    action_type, _role, (alice, bob) = make_staffed_action_type(signers=2)
    ApprovalPolicyFactory(action_types=[action_type])
    dual_type, _dual_role, (carol, _dave) = make_staffed_action_type(signers=2)
    ApprovalPolicyFactory(action_types=[dual_type], required_approvals=2)
    auto_type = ActionTypeFactory(automation=True)
    ApprovalPolicyFactory(action_types=[auto_type], allow_auto_approval=True)
    integration = make_integration(action_type, dual_type, auto_type)
    account = integration.service_account

    approved = submit(action_type, integration=integration, title=FORMULA_TITLE, target={"host": "a", "ports": [22]})
    signing.decision_sign_off(decision=approved, actor=alice, **APPROVE)
    outcomes.decision_report_outcome(decision=approved, actor=account, kind=OutcomeKind.FALSE_POSITIVE, reverted=True)
    overridden = submit(action_type, integration=integration, incident_ref="+INC-7")
    signing.decision_sign_off(decision=overridden, actor=bob, **OVERRIDE)
    rejected = submit(action_type, integration=integration, ai_confidence=Decimal("0.125"))
    signing.decision_sign_off(decision=rejected, actor=alice, **REJECT)
    voided = submit(dual_type, integration=integration)
    signing.decision_sign_off(decision=voided, actor=carol, **APPROVE)
    corrections.decision_update_payload(
        decision=voided, integration=integration, actor=account, changes={"evidence": {"score": 2.5e16, "x": -0.0}}
    )
    submit(auto_type, integration=integration)
    # Written behind the services' back: alice signs what she submitted, on bob's certification.
    own = submit(action_type, integration=integration, actor=alice)
    SignOff.objects.create(
        decision=own,
        signer=alice,
        signed_as=own.owner_role,
        step=0,
        payload_version=1,
        certification_id_at_signing=Certification.objects.get(user=bob).pk,
        **APPROVE,
    )
    return DecisionRequest.objects.order_by("id")


# --- who may export -------------------------------------------------------------------------


@pytest.mark.parametrize("group", [rbac.GOVERNANCE_LEAD, rbac.AUDITOR])
def test_governance_leads_and_auditors_may_export(client, group):
    client.force_login(make_user_in_group(group))

    response = client.get(url("decisions", "csv"))

    assert response.status_code == 200
    assert response["Content-Disposition"].startswith('attachment; filename="countersign-decisions-')


def test_analyst_may_not_export(client):
    client.force_login(make_user_in_group(rbac.ANALYST))

    assert client.get(url("decisions", "csv")).status_code == 403


def test_integration_service_account_may_not_export(client):
    client.force_login(make_integration().service_account)

    assert client.get(url("events", "json")).status_code == 403


def test_anonymous_visitor_is_sent_to_log_in(client):
    response = client.get(url("signoffs", "json"))

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize(("dataset", "fmt"), [("outcomes", "csv"), ("decisions", "xlsx"), ("events", "")])
def test_unknown_dataset_or_format_is_not_found(client, auditor, dataset, fmt):
    assert client.get(url(dataset, fmt)).status_code == 404


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"start": "2026-02-01"}, "Give both a start and an end date"),
        ({"start": "2026-02-30", "end": "2026-03-01"}, "Dates must be written YYYY-MM-DD"),
        ({"days": "many"}, "days must be a whole number"),
        ({"start": "9999-12-31", "end": "9999-12-31"}, "Dates must fall between 1970-01-01 and 9998-12-31."),
        ({"start": "0001-01-01", "end": "0001-01-01"}, "Dates must fall between 1970-01-01 and 9998-12-31."),
    ],
)
def test_bad_period_is_refused_with_the_reason(client, auditor, params, message):
    response = client.get(url("decisions", "json", **params))

    assert response.status_code == 400
    assert message in response.content.decode()


def test_attachment_is_named_for_dataset_and_period(client, auditor):
    response = client.get(url("signoffs", "json", start="2026-01-01", end="2026-01-31"))

    assert response["Content-Disposition"] == 'attachment; filename="countersign-signoffs-2026-01-01_2026-01-31.json"'
    assert response["Content-Type"] == "application/json"


def test_export_is_streamed(client, auditor, history):
    response = client.get(url("events", "csv"))

    assert isinstance(response, StreamingHttpResponse)


# --- what is exported -------------------------------------------------------------------------


def test_period_selects_decisions_by_submission_time(client, auditor, history):
    old = history.first()
    force_update(DecisionRequest.objects.filter(pk=old.pk), created_at=timezone.now() - timedelta(days=40))

    decisions = exported(client, "decisions", days=30)["rows"]
    signoffs = exported(client, "signoffs", days=30)["rows"]
    events = exported(client, "events", days=30)["rows"]

    outside = str(old.public_id)
    assert len(decisions) == history.count() - 1
    assert outside not in {r["decision_id"] for r in decisions + signoffs + events}
    assert {r["decision_id"] for r in events} == {r["decision_id"] for r in decisions}


def test_json_export_is_one_document_with_its_period_and_row_count(client, auditor, history):
    document = exported(client, "decisions", start="2026-01-01", end="2026-12-31")

    assert document["dataset"] == "decisions"
    assert document["period"]["start"].startswith("2026-01-01T00:00:00")
    assert document["columns"] == exports.DATASETS["decisions"].column_names
    assert document["row_count"] == len(document["rows"])


def expected_decision(d: DecisionRequest) -> dict:
    outcome = d.outcome if hasattr(d, "outcome") else None
    return {
        "decision_id": d.public_id,
        "submitted_at": d.created_at,
        "integration": d.integration.name,
        "integration_id": d.integration.public_id,
        "submitted_by": d.submitted_by.username,
        "action_type": d.action_type.slug,
        "changes_production_state": d.action_type.changes_production_state,
        "touches_regulated_data": d.action_type.touches_regulated_data,
        "system_owned": d.action_type.system_owned,
        "title": d.title,
        "recommendation": d.recommendation,
        "incident_ref": d.incident_ref,
        "target": d.target,
        "ai_confidence": d.ai_confidence,
        "model_name": d.model_name,
        "model_version": d.model_version,
        "severity": Level(d.severity),
        "blast_radius": Level(d.blast_radius),
        "affects_regulated_data": d.affects_regulated_data,
        "customer_impact": d.customer_impact,
        "status": d.status,
        "owner_role": d.owner_role.slug if d.owner_role else None,
        "policy": d.policy.name if d.policy else None,
        "policy_id": d.policy.public_id if d.policy else None,
        "policy_version": d.policy_version,
        "required_approvals": d.required_approvals,
        "current_step": d.current_step,
        "deadline": d.deadline,
        "decided_at": d.decided_at,
        "final_action": d.final_action,
        "outcome": outcome.kind if outcome else None,
        "outcome_reverted": outcome.reverted if outcome else None,
        "outcome_reported_at": outcome.reported_at if outcome else None,
        "event_count": d.event_count,
        "last_event_hash": d.last_event_hash,
    }


def expected_signoff(s: SignOff) -> dict:
    return {
        "signoff_id": s.public_id,
        "decision_id": s.decision.public_id,
        "action_type": s.decision.action_type.slug,
        "signer": s.signer.username,
        "signed_as": s.signed_as.slug,
        "verdict": s.verdict,
        "reason_code": s.reason_code,
        "rationale": s.rationale,
        "override_action": s.override_action,
        "step": s.step,
        "payload_version": s.payload_version,
        "signed_at": s.created_at,
        "certification_id": Certification.objects.get(pk=s.certification_id_at_signing).public_id,
        "certification_valid_at_signing": certification_valid(s),
        "signer_is_submitter": s.signer_id == s.decision.submitted_by_id,
        "voided_at": s.voided_at,
        "void_reason": s.void_reason,
    }


def expected_event(e: DecisionEvent) -> dict:
    return {
        "decision_id": e.decision.public_id,
        "seq": e.seq,
        "kind": e.kind,
        "at": e.at,
        "actor_id": e.actor_id,
        "actor": e.actor.username if e.actor else None,
        "data": e.data,
        "prev_hash": e.prev_hash,
        "hash": e.hash,
    }


def rebuild(row: dict) -> dict:
    """A JSON export row back to Python values: UUIDs, aware datetimes, Decimals, levels."""
    rebuilt = {}
    for name, value in row.items():
        if value is not None and name in UUIDS:
            value = UUID(value)
        elif value is not None and name in DATETIMES:
            value = datetime.fromisoformat(value)
            assert value.utcoffset() == timedelta(0), f"{name} is not in UTC"
        elif name == "ai_confidence":
            value = Decimal(value)
        elif name in LEVELS:
            value = Level[value.upper()]
        rebuilt[name] = value
    return rebuilt


def typed(row: dict) -> dict:
    return {name: (type(value), value) for name, value in row.items()}


@pytest.mark.parametrize(
    ("dataset", "rows", "expected"),
    [
        ("decisions", lambda: DecisionRequest.objects.order_by("id"), expected_decision),
        ("signoffs", lambda: SignOff.objects.order_by("id"), expected_signoff),
        ("events", lambda: DecisionEvent.objects.order_by("id"), expected_event),
    ],
)
def test_json_export_round_trips_to_the_database_rows(client, auditor, history, dataset, rows, expected):
    document = exported(client, dataset)

    rebuilt = [typed(rebuild(row)) for row in document["rows"]]

    assert rebuilt == [typed(expected(obj)) for obj in rows()]
    assert len(rebuilt) > 0


def test_exported_signoffs_flag_the_submitter_and_an_invalid_certification(client, auditor, history):
    rows = exported(client, "signoffs")["rows"]

    flagged = [r for r in rows if r["signer_is_submitter"] or not r["certification_valid_at_signing"]]
    assert [(r["signer_is_submitter"], r["certification_valid_at_signing"]) for r in flagged] == [(True, False)]


def test_exported_signoffs_include_the_voided_one(client, auditor, history):
    rows = exported(client, "signoffs")["rows"]

    voided = [r for r in rows if r["voided_at"]]
    assert [r["void_reason"] for r in voided] == ["the payload changed after this sign-off"]


def verify_from_export(decisions: list[dict], events: list[dict]) -> list[str]:
    """An auditor's check with nothing but the two exports: every hash recomputed, every link
    followed, every chain's end matched against the decision's recorded head."""
    chains: dict[str, list[dict]] = {}
    for event in events:
        chains.setdefault(event["decision_id"], []).append(event)
    problems = []
    for decision in decisions:
        prev = GENESIS
        chain = sorted(chains.get(decision["decision_id"], []), key=lambda e: e["seq"])
        for expected_seq, event in enumerate(chain, start=1):
            recomputed = event_hash(
                decision_public_id=event["decision_id"],
                seq=event["seq"],
                kind=event["kind"],
                at=datetime.fromisoformat(event["at"]),
                actor_id=event["actor_id"],
                data=event["data"],
                prev_hash=event["prev_hash"],
            )
            if event["seq"] != expected_seq or event["prev_hash"] != prev or recomputed != event["hash"]:
                problems.append(f"{decision['decision_id']}#{event['seq']}")
            prev = event["hash"]
        if (decision["event_count"], decision["last_event_hash"]) != (len(chain), prev):
            problems.append(f"{decision['decision_id']} head")
    return problems


def test_events_export_alone_verifies_the_decision_log(client, auditor, history):
    decisions = exported(client, "decisions")["rows"]
    events = exported(client, "events")["rows"]

    assert len(events) == DecisionEvent.objects.count()
    assert verify_from_export(decisions, events) == []


def test_edited_event_fails_verification_from_the_export(client, auditor, history):
    victim = history.first()
    tamper(decision=victim, seq=2).update(data={"edited": True})

    problems = verify_from_export(exported(client, "decisions")["rows"], exported(client, "events")["rows"])

    assert problems == [f"{victim.public_id}#2"]


def test_deleted_newest_event_fails_verification_from_the_export(client, auditor, history):
    victim = history.first()
    tamper(decision=victim, seq=victim.event_count).delete()

    problems = verify_from_export(exported(client, "decisions")["rows"], exported(client, "events")["rows"])

    assert problems == [f"{victim.public_id} head"]


def test_seeded_history_round_trips_and_verifies_from_the_export(client, auditor):
    seed_history(decisions=120, days=20)

    decisions = exported(client, "decisions", days=30)["rows"]
    events = exported(client, "events", days=30)["rows"]
    signoffs = exported(client, "signoffs", days=30)["rows"]

    assert len(decisions) == DecisionRequest.objects.count() == 120
    assert [typed(rebuild(r)) for r in signoffs] == [typed(expected_signoff(s)) for s in SignOff.objects.order_by("id")]
    assert verify_from_export(decisions, events) == []


@pytest.mark.parametrize("dataset", ["decisions", "signoffs", "events"])
def test_csv_export_has_a_header_and_one_record_per_row(client, auditor, history, dataset):
    spec = exports.DATASETS[dataset]

    records = list(csv.reader(io.StringIO(body(client.get(url(dataset, "csv"))))))

    assert records[0] == spec.column_names
    assert len(records) - 1 == spec.queryset(Period.last_days(30)).count()


def test_csv_writes_json_fields_as_compact_json_and_booleans_as_words(client, auditor, history):
    rows = {r["title"]: r for r in exported(client, "decisions", "csv")}

    approved = rows[f"'{FORMULA_TITLE}"]
    assert approved["target"] == '{"host":"a","ports":[22]}'
    assert approved["changes_production_state"] == "true"
    assert approved["outcome_reverted"] == "true"
    assert approved["policy_version"] == "1"
    assert rows["Isolate laptop FIN-042"]["outcome"] == ""


@pytest.mark.parametrize(
    ("dataset", "column", "stored", "cell"),
    [
        ("decisions", "title", FORMULA_TITLE, f"'{FORMULA_TITLE}"),
        ("decisions", "incident_ref", "+INC-7", "'+INC-7"),
        ("signoffs", "rationale", REJECT["rationale"], f"'{REJECT['rationale']}"),
    ],
)
def test_csv_cells_that_a_spreadsheet_would_run_get_a_leading_apostrophe(
    client, auditor, history, dataset, column, stored, cell
):
    cells = {r[column] for r in exported(client, dataset, "csv")}
    values = {r[column] for r in exported(client, dataset)["rows"]}

    assert cell in cells
    assert stored in values  # the JSON export is never altered


@pytest.mark.parametrize(
    "text",
    ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx", "＝1+1", "＋1", "－1", "＠SUM(A1)", "|calc", ";=1"],
)
def test_formula_prefixes_are_neutralised(text):
    assert exports.neutralise_formula(text) == f"'{text}"


def test_plain_text_is_left_alone():
    assert exports.neutralise_formula("Isolate host 1-2") == "Isolate host 1-2"


# --- batches, queries, memory -------------------------------------------------------------------


@pytest.mark.parametrize("dataset", ["decisions", "signoffs", "events"])
def test_export_runs_one_query_per_batch(history, dataset, django_assert_num_queries):
    spec = exports.DATASETS[dataset]
    period = Period.last_days(30)
    rows = spec.queryset(period).count()
    size = 2

    with django_assert_num_queries(rows // size + 1):
        produced = sum(len(batch) for batch in exports.batches(spec, period, batch_size=size))

    assert produced == rows


def test_json_export_is_valid_whatever_the_batch_boundaries(history):
    period = Period.last_days(30)
    for size in (1, 2, 3, 1000):
        document = json.loads("".join(exports.stream("events", "json", period, batch_size=size)))

        assert document["row_count"] == DecisionEvent.objects.count() == len(document["rows"])


def test_empty_period_exports_an_empty_document(client, auditor):
    document = exported(client, "decisions", start="2020-01-01", end="2020-01-02")

    assert (document["rows"], document["row_count"]) == ([], 0)


def bare_decisions(count: int) -> list[DecisionRequest]:
    """Decisions written straight to the table, without routing or events."""
    action_type = ActionTypeFactory()
    integration = make_integration(action_type)
    return [
        DecisionRequest.objects.create(
            integration=integration,
            submitted_by=integration.service_account,
            request_fingerprint=f"bulk-{i}",
            deadline=timezone.now() + timedelta(hours=1),
            **decision_data(action_type),
        )
        for i in range(count)
    ]


def add_events(decisions: list[DecisionRequest], per_decision: int) -> None:
    """``per_decision`` more events on each of ``decisions``, generated by the database in one
    statement per decision (these hashes are not valid: the memory test does not verify)."""
    table = DecisionEvent._meta.db_table
    data = "CAST(%s AS jsonb)" if connection.vendor == "postgresql" else "%s"
    sql = f"""
        INSERT INTO {table} (decision_id, seq, kind, at, actor_id, data, prev_hash, hash)
        WITH RECURSIVE n(i) AS (SELECT %s UNION ALL SELECT i + 1 FROM n WHERE i < %s)
        SELECT %s, i, %s, %s, NULL, {data}, %s, %s FROM n
    """  # noqa: S608 - the table name comes from model metadata, values are parameters
    at = connection.ops.adapt_datetimefield_value(timezone.now())
    payload = json.dumps({"channel": "email", "to": ["analyst@example.test"]})
    with connection.cursor() as cursor:
        for d in decisions:
            first = DecisionEvent.objects.filter(decision=d).count() + 1
            last = first + per_decision - 1
            cursor.execute(sql, [first, last, d.pk, EventKind.NOTIFIED, at, payload, "a" * 64, "b" * 64])


def peak_while_streaming(client, path: str) -> tuple[int, int, float]:
    """(peak traced bytes, bytes streamed, CPU seconds) while the response is consumed."""
    response = client.get(path)
    started = time.process_time()
    tracemalloc.start()
    try:
        size = sum(len(chunk) for chunk in response.streaming_content)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, size, time.process_time() - started


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_memory_stays_flat_from_ten_thousand_to_a_hundred_thousand_rows(client, auditor, fmt):
    decisions = bare_decisions(5)
    add_events(decisions, 2_000)

    small_peak, small_size, _ = peak_while_streaming(client, url("events", fmt))
    add_events(decisions, 18_000)
    large_peak, large_size, seconds = peak_while_streaming(client, url("events", fmt))

    assert DecisionEvent.objects.count() == 100_000
    assert large_size > 9 * small_size
    assert large_peak < 1.5 * small_peak + 256 * 1024, (small_peak, large_peak)
    assert large_peak < 16 * 1024 * 1024, large_peak
    print(  # the figures for the record (pytest -s shows them)
        f"\n{fmt} events on {connection.vendor}: 10k rows peak {small_peak / 1e6:.2f} MB, "
        f"100k rows peak {large_peak / 1e6:.2f} MB, {large_size / 1e6:.1f} MB streamed in {seconds:.1f} s of CPU"
    )


def test_streamed_export_queries_grow_with_batches_not_rows(client, auditor):
    add_events(bare_decisions(1), 5000)
    response = client.get(url("events", "json"))

    with CaptureQueriesContext(connection) as queries:
        document = json.loads(b"".join(response.streaming_content))

    assert document["row_count"] == 5000
    assert len(queries) == 5000 // exports.BATCH_SIZE + 1
