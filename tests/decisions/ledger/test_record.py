"""The log's life: every event is queued for the tree by the database itself, sequenced once,
checkpointed when it grew, verified incrementally from the last proven checkpoint, and the state
every service leaves is the state its events replay to."""

import json

import pytest
from django.db import connection

from decisions.ledger import sequencer
from decisions.ledger.checkpoints import checkpoint_now, witnessed
from decisions.ledger.state import check_decisions, sql_mismatches
from decisions.ledger.verification import verify_ledger
from decisions.lifecycle import cancellation, outcomes
from decisions.models import (
    DecisionEvent,
    LedgerCheckpoint,
    LedgerHead,
    LedgerLeaf,
    LedgerPending,
    LedgerVerification,
    OutcomeKind,
    VerificationMode,
)
from decisions.verifier import checkpoint_signature_valid
from tests.decisions.scenarios import approve, override, pending, reject
from tests.helpers import run_concurrently

pytestmark = pytest.mark.django_db


def test_the_database_queues_every_new_event_for_the_tree():
    decision, _people = pending()

    assert set(LedgerPending.objects.values_list("event_id", flat=True)) == set(
        DecisionEvent.objects.filter(decision=decision).values_list("pk", flat=True)
    )


def test_sequencing_gives_every_event_one_position_in_order_and_empties_the_queue():
    pending()
    pending()

    moved = sequencer.sequence_pending()

    positions = list(LedgerLeaf.objects.order_by("position").values_list("position", "event_id"))
    assert moved == DecisionEvent.objects.count() == LedgerHead.objects.get(id=1).size
    assert [p for p, _ in positions] == list(range(moved))
    assert [e for _, e in positions] == sorted(e for _, e in positions)
    assert not LedgerPending.objects.exists()


def test_a_checkpoint_is_signed_by_the_configured_key_and_appended_to_the_witness():
    pending()

    checkpoint = checkpoint_now()

    (witness,) = witnessed()
    assert witness.checkpoint == checkpoint.as_signed()
    assert checkpoint.tree_size == DecisionEvent.objects.count()
    from decisions.ledger import keys

    assert checkpoint_signature_valid(witness.checkpoint, keys.public_bytes(keys.signing_key()))


def test_no_checkpoint_is_signed_when_the_log_has_not_grown():
    pending()
    checkpoint_now()

    assert checkpoint_now() is None
    assert len(witnessed()) == LedgerCheckpoint.objects.count() == 1


def test_an_incremental_verification_starts_from_the_last_proven_checkpoint():
    pending()
    checkpoint_now()
    first = verify_ledger(sample=0)
    pending()
    checkpoint_now()

    second = verify_ledger(sample=0)

    assert first.intact
    assert second.intact
    assert second.from_size == first.checkpoint_size
    assert second.events_checked == second.checkpoint_size - first.checkpoint_size


def test_a_full_verification_reads_every_event():
    pending()
    checkpoint_now()

    verification = verify_ledger(full=True)

    assert verification.intact
    assert verification.mode == VerificationMode.FULL
    assert verification.events_checked == DecisionEvent.objects.count()


def test_every_verification_is_recorded():
    pending()
    verify_ledger()
    verify_ledger(full=True)

    assert list(LedgerVerification.objects.order_by("started_at").values_list("mode", flat=True)) == [
        VerificationMode.INCREMENTAL,
        VerificationMode.FULL,
    ]


def test_events_not_yet_checkpointed_are_verified_by_their_chains():
    decision, _people = pending()

    verification = verify_ledger()

    assert verification.intact
    assert verification.unsequenced == decision.event_count


@pytest.mark.parametrize("ending", ["approve", "reject", "override", "cancel", "outcome"])
def test_the_state_each_service_leaves_is_the_state_its_events_replay_to(ending):
    decision, (alice,) = pending()
    if ending == "approve":
        approve(decision, alice)
    elif ending == "reject":
        reject(decision, alice)
    elif ending == "override":
        override(decision, alice)
    elif ending == "cancel":
        cancellation.decision_cancel(
            decision=decision, integration=decision.integration, actor=decision.integration.service_account
        )
    else:
        approve(decision, alice)
        outcomes.decision_report_outcome(
            decision=decision, actor=decision.integration.service_account, kind=OutcomeKind.FALSE_POSITIVE
        )

    assert list(check_decisions([decision.pk])) == []
    assert sql_mismatches() == []


def test_a_decision_auto_approved_at_intake_logs_the_state_an_auditor_reads():
    from tests.decisions.factories import make_integration, submit
    from tests.governance.factories import ActionTypeFactory, ApprovalPolicyFactory

    action_type = ActionTypeFactory(automation=True)
    ApprovalPolicyFactory(action_types=[action_type], allow_auto_approval=True)
    decision = submit(action_type, integration=make_integration(action_type))

    event = DecisionEvent.objects.get(decision=decision, kind="auto_approved")
    assert event.data["status"] == "auto_approved"
    assert event.data["final_action"] == decision.final_action
    assert list(check_decisions([decision.pk])) == []


def test_the_sql_state_check_and_the_replay_agree_on_a_tampered_row():
    decision, (alice,) = pending()
    approve(decision, alice)
    from tests.decisions.scenarios import triggers_off

    with triggers_off(), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE decisions_decisionrequest SET status = 'rejected', final_action = NULL WHERE id = %s",
            [decision.pk],
        )

    named_by_sql = {p.split(":")[0] for p in sql_mismatches()}
    named_by_replay = {p.split(":")[0] for p in check_decisions([decision.pk])}
    assert named_by_sql == named_by_replay == {f"decision {decision.public_id}"}


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_sequencers_give_each_event_exactly_one_position():
    for _ in range(4):
        pending()

    def sequence(_index):
        return sequencer.sequence_pending(batch=3)

    results = run_concurrently(sequence, threads=4)

    assert [error for _moved, error in results] == [None] * 4
    assert sum(moved for moved, _error in results) == DecisionEvent.objects.count()
    assert LedgerLeaf.objects.count() == LedgerHead.objects.get(id=1).size == DecisionEvent.objects.count()


def test_the_witness_file_holds_one_signed_json_object_per_line(settings):
    pending()
    checkpoint_now()
    pending()
    checkpoint_now()

    lines = [json.loads(line) for line in open(settings.LEDGER_WITNESS_FILE, encoding="utf-8")]  # noqa: SIM115
    assert [line["tree_size"] for line in lines] == sorted(line["tree_size"] for line in lines)
    assert {"origin", "tree_size", "root_hash", "timestamp", "key_id", "signature"} == set(lines[0])


def test_a_rotated_key_keeps_older_checkpoints_verifiable(settings):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from decisions.ledger import keys

    pending()
    checkpoint_now()
    old_public = keys.public_key_b64(keys.signing_key())
    new = Ed25519PrivateKey.generate()
    settings.LEDGER_SIGNING_KEY = __import__("base64").b64encode(new.private_bytes_raw()).decode()
    settings.LEDGER_TRUSTED_KEYS = [old_public]
    pending()
    checkpoint_now()

    verification = verify_ledger(full=True)

    assert verification.intact, verification.problems
    assert len({w.checkpoint["key_id"] for w in witnessed()}) == 2


def test_without_the_old_public_key_the_checkpoints_it_signed_do_not_verify(settings):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    pending()
    checkpoint_now()
    new = Ed25519PrivateKey.generate()
    settings.LEDGER_SIGNING_KEY = __import__("base64").b64encode(new.private_bytes_raw()).decode()
    settings.LEDGER_TRUSTED_KEYS = []

    verification = verify_ledger(full=True)

    assert not verification.intact
    assert "which is not trusted" in verification.problems[0]


def test_a_decision_row_is_named_in_the_log_even_before_it_is_checkpointed():
    decision, _people = pending()
    sequencer.sequence_pending()

    assert set(LedgerLeaf.objects.values_list("decision_public_id", flat=True)) == {decision.public_id}
