"""Attacks by someone with database access, each with its refusal or its detection.

With the triggers on, the database refuses them. With the triggers off (what a superuser or the
tables' owner can do: ``session_replication_role = replica`` here), the change goes through and
verification against the checkpoints signed outside the database names what was altered."""

import base64
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.db import DatabaseError, connection, transaction

from decisions.ledger import checkpoints, sequencer
from decisions.ledger.checkpoints import LedgerInconsistent, checkpoint_now, witness_path
from decisions.ledger.verification import verify_ledger
from decisions.lifecycle.eventlog import to_json_data
from decisions.models import DecisionEvent, DecisionRequest, DecisionStatus, LedgerCheckpoint, SignOff
from decisions.verifier import checkpoint_body, event_hash, key_id
from tests.decisions.scenarios import approve, pending, reject, triggers_off

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

PROTECTED = [
    "decisions_decisionevent",
    "decisions_decisionrequest",
    "decisions_signoff",
    "decisions_outcome",
    "decisions_escalation",
    "decisions_reviewreport",
    "decisions_ledgerpending",
    "decisions_ledgerleaf",
    "decisions_ledgernode",
    "decisions_ledgerhead",
    "decisions_ledgercheckpoint",
    "decisions_ledgerverification",
]


@pytest.fixture
def signed_log():
    """An approved, a rejected and a pending decision, all in a signed checkpoint, verified."""
    approved, (alice,) = pending()
    approve(approved, alice)
    rejected, (bob,) = pending()
    reject(rejected, bob)
    waiting, _people = pending()
    checkpoint_now()
    assert verify_ledger().intact
    sql("SET CONSTRAINTS ALL IMMEDIATE")  # as if committed: the checks deferred to commit run now
    sql("SET CONSTRAINTS ALL DEFERRED")
    for decision in (approved, rejected, waiting):
        decision.refresh_from_db()
    return approved, rejected, waiting


def sql(statement: str, params=None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params or [])


def refused(statement: str, params=None) -> bool:
    try:
        with transaction.atomic():
            sql(statement, params)
    except DatabaseError:
        return True
    return False


def rebuild_the_log() -> None:
    """What an attacker who also rewrites the tree does: drop it and sequence every event anew."""
    with triggers_off():
        sql("DELETE FROM decisions_ledgernode")
        sql("DELETE FROM decisions_ledgerleaf")
        sql("DELETE FROM decisions_ledgerpending")
        sql("UPDATE decisions_ledgerhead SET size = 0")
        sql("INSERT INTO decisions_ledgerpending (event_id) SELECT id FROM decisions_decisionevent ORDER BY id")
    sequencer.sequence_pending()


def problems() -> str:
    verification = verify_ledger()
    assert not verification.intact
    return "\n".join(verification.problems)


# --- a verdict flipped on a closed decision -------------------------------------------------


def test_flipping_a_closed_decisions_verdict_is_refused_by_the_database(signed_log):
    _approved, rejected, _waiting = signed_log

    assert refused(
        "UPDATE decisions_decisionrequest SET status = 'approved', final_action = %s WHERE id = %s",
        [json.dumps({"forged": True}), rejected.pk],
    )
    assert refused("UPDATE decisions_signoff SET verdict = 'approve' WHERE decision_id = %s", [rejected.pk])
    rejected.refresh_from_db()
    assert rejected.status == DecisionStatus.REJECTED


def test_a_verdict_flipped_with_the_triggers_off_is_named_row_and_sign_off(signed_log):
    _approved, rejected, _waiting = signed_log
    signoff = SignOff.objects.get(decision=rejected)
    with triggers_off():
        sql(
            "UPDATE decisions_decisionrequest SET status = 'approved', final_action = %s WHERE id = %s",
            [json.dumps({"forged": True}), rejected.pk],
        )
        sql("UPDATE decisions_signoff SET verdict = 'approve' WHERE id = %s", [signoff.pk])

    found = problems()

    assert f"decision {rejected.public_id}: row says approved, log says rejected" in found
    assert f"sign-off {signoff.public_id} of decision {rejected.public_id}" in found


def test_deleting_a_sign_off_with_the_triggers_off_is_named(signed_log):
    approved, _rejected, _waiting = signed_log
    signoff = SignOff.objects.get(decision=approved)
    with triggers_off():
        sql("DELETE FROM decisions_signoff WHERE id = %s", [signoff.pk])

    assert f"sign-off {signoff.public_id} of decision {approved.public_id}: in the log, not in the database" in (
        problems()
    )


# --- truncation -----------------------------------------------------------------------------


@pytest.mark.parametrize("table", PROTECTED)
def test_truncating_a_protected_table_is_refused(signed_log, table):
    assert refused(f"TRUNCATE {table} CASCADE")


def test_truncating_the_log_and_its_tree_with_the_triggers_off_is_detected(signed_log):
    with triggers_off():
        sql("TRUNCATE decisions_decisionevent, decisions_ledgerleaf CASCADE")

    found = problems()

    assert "missing from the log" in found  # the tree no longer holds the leaves the witness signed
    assert "the altered or missing events lie at positions 0.." in found


def test_truncating_the_events_alone_with_the_triggers_off_is_detected(signed_log):
    """The leaves do not reference their events by a constraint (retention removes archived
    events and keeps their leaves), so the tree survives: every leaf names its missing event."""
    with triggers_off():
        sql("TRUNCATE decisions_decisionevent CASCADE")

    found = problems()

    assert "leaf 0: its event was deleted from the database" in found
    assert "events were deleted" in found


# --- deleting a whole decision ------------------------------------------------------------


def _delete_decision(decision: DecisionRequest) -> None:
    with triggers_off():
        for table, column in (
            ("decisions_decisionrequestuserobjectpermission", "content_object_id"),
            ("decisions_signoff", "decision_id"),
            ("decisions_escalation", "decision_id"),
            ("decisions_outcome", "decision_id"),
        ):
            sql(f"DELETE FROM {table} WHERE {column} = %s", [decision.pk])  # noqa: S608 - fixed names
        sql(
            "DELETE FROM decisions_ledgerpending WHERE event_id IN "
            "(SELECT id FROM decisions_decisionevent WHERE decision_id = %s)",
            [decision.pk],
        )
        sql(
            "DELETE FROM decisions_ledgerleaf WHERE event_id IN "
            "(SELECT id FROM decisions_decisionevent WHERE decision_id = %s)",
            [decision.pk],
        )
        sql("DELETE FROM decisions_decisionevent WHERE decision_id = %s", [decision.pk])
        sql("DELETE FROM decisions_decisionrequest WHERE id = %s", [decision.pk])


def test_deleting_a_whole_decision_with_its_events_is_detected_against_the_checkpoint(signed_log):
    approved, _rejected, _waiting = signed_log
    _delete_decision(approved)
    rebuild_the_log()  # and the tree, so that the counts add up again

    found = problems()

    assert "differs from the checkpoint" in found or "signed more" in found
    assert "the altered or missing events lie at positions 0.." in found


def test_deleting_a_decisions_rows_but_not_its_leaves_names_the_decision(signed_log):
    approved, _rejected, _waiting = signed_log
    with triggers_off():
        sql("DELETE FROM decisions_decisionevent WHERE decision_id = %s", [approved.pk])

    assert f"decision {approved.public_id}, leaf " in problems()


# --- deleting the newest events and rewinding the head --------------------------------------


def test_deleting_the_newest_events_and_rewinding_the_head_is_detected(signed_log):
    approved, _rejected, _waiting = signed_log
    kept = DecisionEvent.objects.filter(decision=approved, seq__lte=approved.event_count - 2).order_by("seq")
    last_kept = list(kept)[-1]
    with triggers_off():
        sql(
            "DELETE FROM decisions_ledgerleaf WHERE event_id IN "
            "(SELECT id FROM decisions_decisionevent WHERE decision_id = %s AND seq > %s)",
            [approved.pk, last_kept.seq],
        )
        sql("DELETE FROM decisions_decisionevent WHERE decision_id = %s AND seq > %s", [approved.pk, last_kept.seq])
        sql(
            "UPDATE decisions_decisionrequest SET event_count = %s, last_event_hash = %s, status = 'pending' "
            "WHERE id = %s",
            [last_kept.seq, last_kept.hash, approved.pk],
        )

    found = problems()

    assert "leaves missing from the log at positions" in found or "leaves were deleted" in found
    assert f"decision {approved.public_id}: row says pending, log says approved" not in found  # its events are gone
    assert "differs from the checkpoint" in found or "leaves were deleted" in found


# --- editing an event and recomputing every hash ----------------------------------------------


def _rewrite_event(decision: DecisionRequest, seq: int, data: dict) -> None:
    """Edit one event and recompute its hash and every later hash of its decision, and the head."""
    events = list(DecisionEvent.objects.filter(decision=decision).order_by("seq"))
    prev = events[seq - 2].hash if seq > 1 else "0" * 64
    with triggers_off():
        for event in events[seq - 1 :]:
            payload = to_json_data(data) if event.seq == seq else event.data
            digest = event_hash(
                decision_public_id=str(decision.public_id),
                seq=event.seq,
                kind=event.kind,
                at=event.at,
                actor_id=event.actor_id,
                data=payload,
                prev_hash=prev,
            )
            sql(
                "UPDATE decisions_decisionevent SET data = %s, prev_hash = %s, hash = %s WHERE id = %s",
                [json.dumps(payload), prev, digest, event.pk],
            )
            prev = digest
        sql("UPDATE decisions_decisionrequest SET last_event_hash = %s WHERE id = %s", [prev, decision.pk])


def test_an_event_edited_with_every_hash_recomputed_is_detected_the_root_differs(signed_log):
    approved, _rejected, _waiting = signed_log
    signed = DecisionEvent.objects.get(decision=approved, kind="signed")
    _rewrite_event(approved, signed.seq, {**signed.data, "rationale": "Rewritten after the fact."})
    rebuild_the_log()

    found = problems()

    assert "differs from the checkpoint" in found
    assert str(approved.public_id) in found  # named among the decisions of the altered span


def test_an_event_edited_with_its_chain_recomputed_but_not_the_tree_is_named(signed_log):
    approved, _rejected, _waiting = signed_log
    signed = DecisionEvent.objects.get(decision=approved, kind="signed")
    _rewrite_event(approved, signed.seq, {**signed.data, "rationale": "Rewritten after the fact."})

    found = "\n".join(verify_ledger(full=True).problems)

    assert f"decision {approved.public_id}, event #{signed.seq}: the log's leaf" in found


def test_checkpointing_refuses_to_sign_over_a_rewritten_log(signed_log):
    approved, _rejected, _waiting = signed_log
    signed = DecisionEvent.objects.get(decision=approved, kind="signed")
    _rewrite_event(approved, signed.seq, {**signed.data, "rationale": "Rewritten after the fact."})
    rebuild_the_log()
    pending()  # something new to sign

    with pytest.raises(LedgerInconsistent):
        checkpoint_now()
    assert LedgerCheckpoint.objects.count() == 1


# --- reordering -----------------------------------------------------------------------------


def test_reordering_two_events_of_a_decision_is_named(signed_log):
    approved, _rejected, _waiting = signed_log
    second, third = DecisionEvent.objects.filter(decision=approved, seq__in=[2, 3]).order_by("seq")
    with triggers_off():
        sql("UPDATE decisions_decisionevent SET seq = 999 WHERE id = %s", [second.pk])
        sql("UPDATE decisions_decisionevent SET seq = 2 WHERE id = %s", [third.pk])
        sql("UPDATE decisions_decisionevent SET seq = 3 WHERE id = %s", [second.pk])

    found = "\n".join(verify_ledger(full=True).problems)

    assert f"decision {approved.public_id}, event #2" in found


def test_reordering_two_leaves_of_the_log_is_detected(signed_log):
    first, second = list(
        DecisionEvent.objects.filter(leaf__isnull=False).order_by("leaf__position")[:2].values_list("pk", flat=True)
    )
    with triggers_off():
        sql("UPDATE decisions_ledgerleaf SET event_id = -1 WHERE event_id = %s", [first])
        sql("UPDATE decisions_ledgerleaf SET event_id = %s WHERE event_id = %s", [first, second])
        sql("UPDATE decisions_ledgerleaf SET event_id = %s WHERE event_id = -1", [second])

    assert "does not match the event's hash" in "\n".join(verify_ledger(full=True).problems)


# --- forged checkpoints -----------------------------------------------------------------------


def _append_line(signed: dict) -> None:
    with witness_path().open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(signed) + "\n")


def test_a_checkpoint_forged_with_another_key_is_refused(signed_log):
    forger = Ed25519PrivateKey.generate()
    public = forger.public_key().public_bytes_raw()
    fields = {"origin": "countersign/decision-log", "tree_size": 99, "root_hash": "ab" * 32,
              "timestamp": "2026-12-03T10:00:00Z"}  # fmt: skip
    _append_line(
        {
            **fields,
            "key_id": key_id(public),
            "signature": base64.b64encode(forger.sign(checkpoint_body(**fields))).decode(),
        }
    )

    assert f"signed by key {key_id(public)}, which is not trusted" in problems()


def test_a_signed_checkpoint_altered_in_the_witness_is_refused(signed_log):
    lines = witness_path().read_text().splitlines()
    altered = json.loads(lines[-1])
    altered["tree_size"] += 1
    witness_path().write_text("\n".join([*lines[:-1], json.dumps(altered)]) + "\n")

    assert "its signature does not verify (forged or altered)" in problems()


def test_a_checkpoint_deleted_from_the_database_copy_is_named(signed_log):
    with triggers_off():
        sql("DELETE FROM decisions_ledgercheckpoint")

    assert "missing from the database's copy of the checkpoints" in problems()


def test_the_witness_is_what_verification_trusts_not_the_database(signed_log):
    checkpoints.witness_path().unlink()
    approved, _rejected, _waiting = signed_log
    with triggers_off():
        sql("UPDATE decisions_decisionevent SET data = '{}' WHERE decision_id = %s AND seq = 2", [approved.pk])

    assert f"decision {approved.public_id}, event #2" in "\n".join(verify_ledger(full=True).problems)
