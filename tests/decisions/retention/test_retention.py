"""Retention and legal hold on seeded history (400 days of closed decisions, PostgreSQL): a run
removes exactly the closed decisions past their action type's retention that no hold covers,
archives each first as an offline-verifiable receipt, signs a checkpoint and its manifest, and
the log still verifies in full afterwards. The database refuses every other removal; a removal
behind the service's back, or a forged archive record, is found by verification."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from auditlog.models import LogEntry
from dateutil.relativedelta import relativedelta
from django.core.management import call_command
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.utils import timezone

from decisions.ledger import keys
from decisions.ledger.checkpoints import checkpoint_now
from decisions.ledger.verification import newest_checkpoint, verify_ledger
from decisions.models import (
    ArchivedDecision,
    ArchivedEvent,
    DecisionEvent,
    DecisionRequest,
    DecisionStatus,
    LedgerLeaf,
    LegalHold,
    RetentionRun,
    RetentionStatus,
    SignOff,
)
from decisions.retention import services
from decisions.retention.services import RetentionError, legal_hold_place, legal_hold_release, retention_run
from decisions.review import evidence
from decisions.review.figures import Period
from decisions.seeding.history import seed_history
from decisions.verifier import signature_valid, verify_receipt
from governance import rbac
from governance.models import ActionType
from tests.decisions.scenarios import tamper
from tests.governance.factories import make_user_in_group
from tests.helpers import triggers_off

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

NOW = timezone.now()


@pytest.fixture(autouse=True)
def _archive_dir(settings, tmp_path):
    settings.RETENTION_ARCHIVE_DIR = str(tmp_path / "archive")


@pytest.fixture
def history():
    """400 days of closed decisions, in the signed log."""
    seed_history(decisions=60, days=400, seed=4, now=NOW - timedelta(minutes=1))
    checkpoint_now()
    return DecisionRequest.objects.count()


@pytest.fixture
def lead():
    return make_user_in_group(rbac.GOVERNANCE_LEAD)


def due_now(now) -> set:
    """Computed here, independently: closed, decided before now minus the action type's months."""
    return {
        d.public_id
        for d in DecisionRequest.objects.select_related("action_type")
        if d.status != DecisionStatus.PENDING
        and d.decided_at is not None
        and d.decided_at < now - relativedelta(months=d.action_type.retention_months)
    }


def test_a_run_removes_exactly_the_decisions_past_their_retention(history, lead):
    longer = ActionType.objects.order_by("pk").first()
    ActionType.objects.filter(pk=longer.pk).update(retention_months=9)
    due = due_now(NOW)
    assert 0 < len(due) < history

    run = retention_run(actor=lead, now=NOW, limit=1000)

    assert run.status == RetentionStatus.DONE, run.error
    assert set(ArchivedDecision.objects.values_list("decision_public_id", flat=True)) == due
    assert not DecisionRequest.objects.filter(public_id__in=due).exists()
    assert DecisionRequest.objects.count() == history - len(due)
    assert run.decisions_removed == len(due)
    assert (
        run.events_removed
        == ArchivedEvent.objects.count()
        == LedgerLeaf.objects.count() - DecisionEvent.objects.count()
    )
    assert all(a.kept_until <= run.started_at for a in ArchivedDecision.objects.all())


def test_the_log_verifies_in_full_after_a_run(history, lead):
    retention_run(actor=lead, now=NOW, limit=1000)

    full = verify_ledger(full=True)
    call_command("verify_decision_log", "--full")  # exits 1 (raises) when broken

    assert full.intact, full.problems
    assert verify_ledger().intact


def test_legal_holds_on_an_incident_or_a_decision_keep_them(history, lead):
    due = due_now(NOW)
    candidates = list(DecisionRequest.objects.filter(public_id__in=due).exclude(incident_ref="").order_by("pk"))
    by_incident, by_id = candidates[0], candidates[-1]
    legal_hold_place(actor=lead, reason="Litigation LIT-7", incident_ref=by_incident.incident_ref)
    legal_hold_place(actor=lead, reason="Regulator request", decision_public_id=by_id.public_id)
    kept = {
        d.public_id
        for d in DecisionRequest.objects.filter(public_id__in=due)
        if d.incident_ref == by_incident.incident_ref or d.public_id == by_id.public_id
    }

    run = retention_run(actor=lead, now=NOW, limit=1000)

    assert set(DecisionRequest.objects.filter(public_id__in=due).values_list("public_id", flat=True)) == kept
    assert run.held == len(kept)
    assert run.decisions_removed == len(due) - len(kept)


def test_a_released_hold_no_longer_keeps_them(history, lead):
    decision = DecisionRequest.objects.filter(public_id__in=due_now(NOW)).first()
    hold = legal_hold_place(actor=lead, reason="Litigation LIT-7", decision_public_id=decision.public_id)
    retention_run(actor=lead, now=NOW, limit=1000)
    assert DecisionRequest.objects.filter(pk=decision.pk).exists()

    legal_hold_release(hold=hold, actor=lead, reason="Case closed")
    retention_run(actor=lead, now=NOW + timedelta(seconds=1), limit=1000)

    assert not DecisionRequest.objects.filter(pk=decision.pk).exists()


def test_the_archive_proves_every_removed_decision_offline(history, lead):
    run = retention_run(actor=lead, now=NOW, limit=1000)
    body = Path(run.archive_path).read_bytes()
    header, *entries = [json.loads(line) for line in body.splitlines()]

    assert hashlib.sha256(body).hexdigest() == run.archive_sha256
    assert header["checkpoint"]["tree_size"] == run.checkpoint.tree_size
    assert {e["decision"] for e in entries} == {
        str(p) for p in ArchivedDecision.objects.values_list("decision_public_id", flat=True)
    }
    for entry in entries:
        assert entry["receipt"]["checkpoint"] == header["checkpoint"]  # the checkpoint signed before removal
        report = verify_receipt(entry["receipt"])
        assert report.ok, report.problems
        assert {row["model"] for row in entry["rows"]} >= {"decisions.decisionrequest"}


def test_the_manifest_of_what_was_removed_is_signed_by_the_ledger_key(history, lead):
    run = retention_run(actor=lead, now=NOW, limit=1000)
    stored = json.loads(Path(f"{run.archive_path}.manifest.json").read_text())
    signature = stored.pop("signature")
    stored.pop("key_id")
    body = json.dumps(stored, sort_keys=True, separators=(",", ":")).encode()

    assert signature_valid(public_key=keys.public_bytes(keys.signing_key()), body=body, signature_b64=signature)
    assert sorted(p for p, _h in stored["removed"]) == sorted(ArchivedEvent.objects.values_list("position", flat=True))


def test_nothing_due_is_a_recorded_run_that_removes_nothing(lead):
    run = retention_run(actor=lead, now=NOW)

    assert run.status == RetentionStatus.NOTHING
    assert LogEntry.objects.get_for_object(run).filter(actor=lead).exists()


def test_a_broken_log_stops_the_run_and_removes_nothing(history, lead):
    tamper(decision=DecisionRequest.objects.order_by("pk").last(), seq=2).update(data={"edited": True})

    run = retention_run(actor=lead, now=NOW, limit=1000)

    assert run.status == RetentionStatus.FAILED
    assert run.error.startswith("the log does not verify")
    assert DecisionRequest.objects.count() == history
    assert not ArchivedDecision.objects.exists()


def test_a_run_that_fails_midway_removes_nothing_and_says_why(history, lead, monkeypatch):
    def no_receipt(decision, **proven_against):
        raise services.ReceiptNotReady("the test says no")

    monkeypatch.setattr(services, "receipt_for", no_receipt)

    run = retention_run(actor=lead, now=NOW, limit=1000)

    assert run.status == RetentionStatus.FAILED
    assert "cannot be proven" in run.error
    assert DecisionRequest.objects.count() == history
    assert not ArchivedEvent.objects.exists()
    assert verify_ledger(full=True).intact


def test_the_evidence_pack_counts_runs_and_early_removals(history, lead):
    retention_run(actor=lead, now=NOW, limit=1000)

    pack = evidence.evidence_pack(Period.last_days(30))

    art = {f["key"]: f["value"] for c in pack["controls"] if c["id"] == "eu-ai-act-art-26-6" for f in c["figures"]}
    assert art["retention_runs"] == 1
    assert art["archived_decisions"] == ArchivedDecision.objects.count() > 0
    assert art["removed_early"] == 0


# --- what the database refuses ---------------------------------------------------------------------


def test_the_database_refuses_to_delete_a_decision_outside_a_retention_run(history):
    (decision,) = old_decisions(1)

    for rows in (
        DecisionEvent.objects.filter(decision=decision),
        SignOff.objects.filter(decision=decision),
        DecisionRequest.objects.filter(pk=decision.pk),
    ):
        with pytest.raises(DatabaseError), transaction.atomic():
            rows._raw_delete(rows.db)


def sanctioned_delete(run: RetentionRun, rows) -> int:
    """Delete ``rows`` in a transaction that names ``run``, as the retention service does."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('countersign.retention_run', %s, true)", [str(run.public_id)])
        return rows._raw_delete(connection.alias)


def removing_run() -> RetentionRun:
    return RetentionRun.objects.create(started_at=NOW, status=RetentionStatus.REMOVING, checkpoint=newest_checkpoint())


def archived_by(run: RetentionRun, decision: DecisionRequest) -> None:
    ArchivedDecision.objects.create(
        run=run, decision_pk=decision.pk, decision_public_id=decision.public_id, action_type="x", status="approved",
        created_at=decision.created_at, decided_at=decision.decided_at, retention_months=6, kept_until=NOW,
        event_count=0, last_event_hash="0" * 64,
    )  # fmt: skip


def old_decisions(count: int) -> list[DecisionRequest]:
    return list(
        DecisionRequest.objects.filter(public_id__in=due_now(NOW), signoffs__isnull=False).distinct().order_by("pk")
    )[:count]


def test_the_database_lets_a_run_delete_only_the_decisions_it_archived(history):
    run = removing_run()
    archived, other = old_decisions(2)
    archived_by(run, archived)

    assert sanctioned_delete(run, SignOff.objects.filter(decision=archived)) > 0
    with pytest.raises(DatabaseError):
        sanctioned_delete(run, SignOff.objects.filter(decision=other))


def test_the_database_refuses_a_held_decision_even_to_a_run_that_archived_it(history, lead):
    run = removing_run()
    free, held = old_decisions(2)
    archived_by(run, free)
    archived_by(run, held)
    legal_hold_place(actor=lead, reason="Litigation", decision_public_id=held.public_id)

    assert sanctioned_delete(run, SignOff.objects.filter(decision=free)) > 0
    with pytest.raises(DatabaseError):
        sanctioned_delete(run, SignOff.objects.filter(decision=held))


def test_the_database_refuses_a_run_without_a_checkpoint_or_not_yet_removing(history):
    first, second = old_decisions(2)
    unsigned = RetentionRun.objects.create(started_at=NOW, status=RetentionStatus.REMOVING)
    started = RetentionRun.objects.create(started_at=NOW, checkpoint=newest_checkpoint())
    archived_by(unsigned, first)
    archived_by(started, second)

    with pytest.raises(DatabaseError):
        sanctioned_delete(unsigned, SignOff.objects.filter(decision=first))
    with pytest.raises(DatabaseError):
        sanctioned_delete(started, SignOff.objects.filter(decision=second))


def test_archive_records_and_finished_runs_cannot_be_changed(history, lead):
    retention_run(actor=lead, now=NOW, limit=1000)
    legal_hold_place(actor=lead, reason="Litigation", incident_ref="INC-1")

    for statement in (
        "UPDATE decisions_archivedevent SET event_hash = repeat('0', 64)",
        "DELETE FROM decisions_archiveddecision",
        "UPDATE decisions_retentionrun SET status = 'started'",
        "DELETE FROM decisions_retentionrun",
        "DELETE FROM decisions_legalhold",
    ):
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement)


# --- behind the service's back -------------------------------------------------------------------


def superuser_delete(decision) -> None:
    """What a superuser can do: triggers off, rows gone."""
    with triggers_off(), connection.cursor() as cursor:
        for table, column in (
            ("decisions_decisionevent", "decision_id"),
            ("decisions_signoff", "decision_id"),
            ("decisions_outcome", "decision_id"),
            ("decisions_escalation", "decision_id"),
            ("decisions_decisionrequest", "id"),
        ):
            cursor.execute(f"DELETE FROM {table} WHERE {column} = %s", [decision.pk])  # noqa: S608


def test_a_decision_deleted_behind_the_services_back_is_found(history):
    decision = old_decisions(1)[0]
    superuser_delete(decision)

    found = verify_ledger(full=True)

    assert not found.intact
    assert any(str(decision.public_id) in p and "deleted" in p for p in found.problems), found.problems


def test_a_forged_archive_record_is_found(history, lead):
    """A superuser who deletes a decision and writes a retention run for it, without the ledger
    key, is caught by the run's signature."""
    decision = old_decisions(1)[0]
    events = list(DecisionEvent.objects.filter(decision=decision).select_related("leaf"))
    run = RetentionRun.objects.create(
        started_at=NOW, checkpoint=newest_checkpoint(), status=RetentionStatus.REMOVING, key_id="forged",
        signature="AAAA", manifest_sha256="0" * 64,
    )  # fmt: skip
    ArchivedEvent.objects.bulk_create(
        ArchivedEvent(position=e.leaf.position, run=run, decision_public_id=decision.public_id, seq=e.seq,
                      event_hash=e.hash) for e in events
    )  # fmt: skip
    superuser_delete(decision)
    with triggers_off():
        RetentionRun.objects.filter(pk=run.pk).update(status=RetentionStatus.DONE)

    found = verify_ledger(full=True)

    assert not found.intact
    assert any(f"retention run {run.public_id}" in p for p in found.problems), found.problems


# --- legal holds ---------------------------------------------------------------------------------


def test_a_hold_needs_a_reason_and_exactly_one_subject(history, lead):
    decision = old_decisions(1)[0]

    with pytest.raises(RetentionError, match="Say why"):
        legal_hold_place(actor=lead, reason=" ", incident_ref="INC-1")
    with pytest.raises(RetentionError, match="exactly one"):
        legal_hold_place(actor=lead, reason="x", incident_ref="INC-1", decision_public_id=decision.public_id)
    with pytest.raises(RetentionError, match="exactly one"):
        legal_hold_place(actor=lead, reason="x")


def test_the_database_refuses_a_hold_with_two_subjects():
    lead = make_user_in_group(rbac.GOVERNANCE_LEAD)

    with pytest.raises(IntegrityError), transaction.atomic():
        LegalHold.objects.create(incident_ref="INC-1", decision_public_id=uuid.uuid4(),
                                 reason="x", placed_by=lead)  # fmt: skip


def test_a_hold_is_released_once_and_audited(lead):
    hold = legal_hold_place(actor=lead, reason="Litigation", incident_ref="INC-9")

    released = legal_hold_release(hold=hold, actor=lead, reason="Settled")

    assert released.released_by == lead
    assert released.release_reason == "Settled"
    with pytest.raises(RetentionError, match="released already"):
        legal_hold_release(hold=hold, actor=lead, reason="again")
    assert LogEntry.objects.get_for_object(hold).filter(actor=lead).count() == 2


def test_an_analyst_may_not_place_a_hold():
    analyst = make_user_in_group(rbac.ANALYST)

    with pytest.raises(RetentionError, match="governance lead"):
        legal_hold_place(actor=analyst, reason="x", incident_ref="INC-1")


# --- the admin -------------------------------------------------------------------------------------


def test_a_lead_places_and_releases_a_hold_in_the_admin(client, lead):
    client.force_login(lead)

    response = client.post(
        "/admin/decisions/legalhold/add/", {"incident_ref": "INC-4711", "decision_public_id": "", "reason": "LIT-7"}
    )
    hold = LegalHold.objects.get()
    released = client.post(f"/admin/decisions/legalhold/{hold.pk}/change/", {"release_reason": "Settled"})
    hold.refresh_from_db()

    assert response.status_code == 302
    assert (hold.placed_by, hold.incident_ref) == (lead, "INC-4711")
    assert released.status_code == 302
    assert (hold.released_by, hold.release_reason) == (lead, "Settled")


def test_the_admin_refuses_a_hold_on_no_subject_with_the_reason(client, lead):
    client.force_login(lead)

    response = client.post("/admin/decisions/legalhold/add/", {"incident_ref": "", "reason": "LIT-7"})

    assert response.status_code == 200
    assert "exactly one" in response.content.decode()
    assert not LegalHold.objects.exists()


def test_the_admin_refuses_a_hold_on_an_unknown_decision_with_the_services_reason(client, lead):
    client.force_login(lead)
    unknown = uuid.uuid4()

    response = client.post(
        "/admin/decisions/legalhold/add/", {"incident_ref": "", "decision_public_id": str(unknown), "reason": "LIT-7"}
    )

    assert response.status_code == 200
    assert f"No decision {unknown} is held in the database" in response.content.decode()
    assert not LegalHold.objects.exists()


def test_an_auditor_reads_holds_and_runs_but_places_none(client, lead):
    retention_run(actor=lead, now=NOW)
    client.force_login(make_user_in_group(rbac.AUDITOR))

    assert client.get("/admin/decisions/retentionrun/").status_code == 200
    assert client.get("/admin/decisions/legalhold/").status_code == 200
    assert client.get("/admin/decisions/legalhold/add/").status_code == 403
