"""The hash-chained decision log: every service leaves an intact chain, any later edit or
deletion is found (by ``verify_decision``, ``verify_all`` and the ``verify_decision_log``
command), and on PostgreSQL the database itself refuses UPDATE and DELETE."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from decisions.lifecycle import cancellation, corrections, outcomes, signing
from decisions.lifecycle.eventlog import GENESIS, event_hash, next_event, verify_all, verify_decision
from decisions.lifecycle.writes import DecisionWrites
from decisions.models import DecisionEvent, DecisionRequest, EventKind, OutcomeKind
from tests.decisions.factories import submit
from tests.decisions.scenarios import approved_decision, tamper
from tests.governance.factories import ActionTypeFactory, ApprovalPolicyFactory, make_staffed_action_type

pytestmark = pytest.mark.django_db


def append(decision, **event) -> None:
    """Log one event and save the head, as every service does."""
    plan = DecisionWrites(decision)
    plan.log(event.pop("kind"), **event)
    plan.write()


def check(decision):
    decision.refresh_from_db()
    return verify_decision(decision, list(decision.events.order_by("seq")))


# --- every service leaves a verifiable chain ------------------------------------------------


def test_submitted_decision_has_an_intact_log():
    action_type, _role, _people = make_staffed_action_type()
    ApprovalPolicyFactory(action_types=[action_type])

    decision = submit(action_type)

    assert check(decision) is None


def test_log_links_each_event_to_the_previous_one():
    decision = approved_decision()

    events = list(decision.events.order_by("seq"))

    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert events[0].prev_hash == GENESIS
    assert all(later.prev_hash == earlier.hash for earlier, later in zip(events, events[1:], strict=False))
    assert (decision.event_count, decision.last_event_hash) == (len(events), events[-1].hash)


def test_every_service_call_leaves_a_verifiable_log():
    action_type, _role, (alice, bob, carol) = make_staffed_action_type(signers=3)
    ApprovalPolicyFactory(action_types=[action_type], required_approvals=2)
    signed = submit(action_type)
    integration = signed.integration
    account = integration.service_account

    def sign(decision, user, verdict, reason_code, **kwargs):
        signing.decision_sign_off(
            decision=decision, actor=user, verdict=verdict, reason_code=reason_code, rationale="Why.", **kwargs
        )

    sign(signed, alice, "approve", "evidence_sufficient")
    corrections.decision_update_payload(
        decision=signed, integration=integration, actor=account, changes={"title": "Corrected"}
    )
    sign(signed, bob, "override", "scope_too_broad", override_action={"target": {"host": "only-this"}})
    sign(signed, carol, "approve", "policy_requires")
    outcomes.decision_report_outcome(decision=signed, actor=account, kind=OutcomeKind.TRUE_POSITIVE)
    rejected = submit(action_type, integration=integration)
    sign(rejected, alice, "reject", "false_positive")
    cancelled = submit(action_type, integration=integration)
    cancellation.decision_cancel(decision=cancelled, integration=integration, actor=account, reason="duplicate")
    auto_type = ActionTypeFactory(automation=True)
    ApprovalPolicyFactory(action_types=[auto_type], allow_auto_approval=True)
    integration.allowed_action_types.add(auto_type)
    submit(auto_type, integration=integration)
    expiring_type, _r, _p = make_staffed_action_type(certified=False)
    integration.allowed_action_types.add(expiring_type)
    submit(expiring_type, integration=integration)

    assert DecisionRequest.objects.count() == 5
    assert list(verify_all()) == []


def test_payload_change_with_large_and_signed_zero_floats_still_verifies():
    action_type, _role, _people = make_staffed_action_type()
    ApprovalPolicyFactory(action_types=[action_type])
    decision = submit(action_type)

    corrections.decision_update_payload(
        decision=decision,
        integration=decision.integration,
        actor=decision.integration.service_account,
        changes={"evidence": {"bytes_out": 2.5e16, "drift": -0.0, "score": 0.97}},
    )

    assert check(decision) is None


def test_verify_all_checks_decisions_across_batches():
    decisions = [approved_decision() for _ in range(3)]
    tamper(decision=decisions[2], seq=2).update(data={"forged": True})

    (found,) = list(verify_all(batch_size=1))

    assert (found.decision_public_id, found.seq) == (str(decisions[2].public_id), 2)


# What PostgreSQL's jsonb can hold: no NUL character, no lone surrogate, no NaN or infinity.
json_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | json_text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(json_text, children, max_size=4),
    max_leaves=12,
)


def test_any_json_event_data_still_verifies_after_a_database_round_trip(now):
    base = approved_decision()

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(value=json_values)
    def append_and_verify(value):
        decision = DecisionRequest.objects.create(
            integration=base.integration,
            submitted_by=base.submitted_by,
            request_fingerprint="property",
            action_type=base.action_type,
            title="Property",
            recommendation="Property",
            ai_confidence=base.ai_confidence,
            blast_radius=base.blast_radius,
            severity=base.severity,
            model_name="property",
            deadline=now,
        )
        append(decision, kind=EventKind.PAYLOAD_CHANGED, at=now, data={"after": {"evidence": value}})

        assert check(decision) is None

    append_and_verify()


# --- tampering is detected -----------------------------------------------------------------


def test_edited_event_data_is_detected_at_that_event():
    decision = approved_decision()
    signed = decision.events.get(kind=EventKind.SIGNED)

    tamper(pk=signed.pk).update(data={**signed.data, "rationale": "Rubber stamp."})

    found = check(decision)
    assert found.seq == signed.seq
    assert "edited" in found.problem


def test_edited_event_kind_is_detected_at_that_event():
    decision = approved_decision()
    signed = decision.events.get(kind=EventKind.SIGNED)

    tamper(pk=signed.pk).update(kind=EventKind.NOTIFIED)

    assert check(decision).seq == signed.seq


def test_edited_event_actor_is_detected_at_that_event():
    decision = approved_decision()
    signed = decision.events.get(kind=EventKind.SIGNED)

    tamper(pk=signed.pk).update(actor=decision.submitted_by)

    assert check(decision).seq == signed.seq


def test_edited_event_time_is_detected_at_that_event():
    decision = approved_decision()
    signed = decision.events.get(kind=EventKind.SIGNED)

    tamper(pk=signed.pk).update(at=signed.at.replace(year=signed.at.year - 1))

    assert check(decision).seq == signed.seq


def test_deleted_middle_event_is_detected_at_its_place():
    decision = approved_decision()

    tamper(decision=decision, seq=3).delete()

    found = check(decision)
    assert found.seq == 3
    assert "deleted" in found.problem


def test_deleted_first_event_is_detected():
    decision = approved_decision()

    tamper(decision=decision, seq=1).delete()

    assert check(decision).seq == 1


def test_deleted_newest_event_is_detected_at_the_head():
    decision = approved_decision()

    tamper(decision=decision, seq=decision.event_count).delete()

    found = check(decision)
    assert found.seq is None
    assert f"records {decision.event_count} events, the log has {decision.event_count - 1}" in found.problem


def test_edited_prev_hash_is_detected_at_that_event():
    decision = approved_decision()

    tamper(decision=decision, seq=4).update(prev_hash="f" * 64)

    found = check(decision)
    assert found.seq == 4
    assert "does not link" in found.problem


def test_edited_and_rehashed_event_is_detected_at_the_next_event():
    decision = approved_decision()
    event = decision.events.get(seq=2)
    forged = {**event.data, "required_approvals": 0}
    rehashed = event_hash(
        decision_public_id=str(decision.public_id),
        seq=event.seq,
        kind=event.kind,
        at=event.at,
        actor_id=event.actor_id,
        data=forged,
        prev_hash=event.prev_hash,
    )

    tamper(pk=event.pk).update(data=forged, hash=rehashed)

    assert check(decision).seq == 3


def test_rewritten_head_of_the_log_is_detected():
    decision = approved_decision()

    DecisionRequest.objects.filter(pk=decision.pk).update(last_event_hash="0" * 64)

    assert check(decision).seq is None


def test_appended_event_keeps_the_chain_verifiable(now):
    decision = approved_decision()

    append(decision, kind=EventKind.WEBHOOK_DELIVERED, at=now, data={"status": 200})

    assert check(decision) is None


def test_appended_event_without_saving_the_head_is_detected(now):
    decision = approved_decision()

    next_event(decision, kind=EventKind.WEBHOOK_DELIVERED, at=now, data={"status": 200}).save()

    assert check(decision).seq is None


# --- the verify_decision_log command -------------------------------------------------------


def test_verify_command_reports_an_intact_log(capsys):
    approved_decision()

    call_command("verify_decision_log")

    assert "Decision log intact: 1 decisions" in capsys.readouterr().out


def test_verify_command_fails_with_exit_code_1_on_a_tampered_log():
    decision = approved_decision()
    tamper(decision=decision, seq=2).update(data={})

    with pytest.raises(CommandError) as raised:
        call_command("verify_decision_log")

    assert raised.value.returncode == 1


def test_verify_command_names_the_first_broken_event():
    decision = approved_decision()
    tamper(decision=decision, seq=2).update(data={})
    tamper(decision=decision, seq=4).update(data={})

    with pytest.raises(CommandError, match=rf"decision {decision.public_id}, event #2: "):
        call_command("verify_decision_log")


def test_verify_command_with_all_lists_every_break(capsys):
    first, second = approved_decision(), approved_decision()
    tamper(decision=first, seq=2).update(data={})
    tamper(decision=second, seq=3).update(data={})

    with pytest.raises(CommandError):
        call_command("verify_decision_log", "--all")

    err = capsys.readouterr().err
    assert f"BROKEN: decision {first.public_id}, event #2" in err
    assert f"BROKEN: decision {second.public_id}, event #3" in err


# --- PostgreSQL: the database refuses to rewrite the log -----------------------------------


def run_sql(sql, params) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)


@pytest.mark.postgres
def test_database_refuses_update_of_a_decision_event():
    decision = approved_decision()

    with pytest.raises(DatabaseError, match="append-only: UPDATE refused"):
        run_sql("UPDATE decisions_decisionevent SET data = '{}' WHERE decision_id = %s", [decision.pk])

    assert check(decision) is None


@pytest.mark.postgres
def test_database_refuses_delete_of_a_decision_event():
    decision = approved_decision()

    with pytest.raises(DatabaseError, match="append-only: DELETE refused"):
        run_sql("DELETE FROM decisions_decisionevent WHERE decision_id = %s AND seq = %s", [decision.pk, 1])

    assert decision.events.count() == decision.event_count


@pytest.mark.postgres
def test_database_refuses_an_orm_update_of_the_log():
    decision = approved_decision()

    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        DecisionEvent.objects.filter(decision=decision).update(kind=EventKind.NOTIFIED)


@pytest.mark.postgres
def test_database_still_accepts_new_events(now):
    decision = approved_decision()

    append(decision, kind=EventKind.WEBHOOK_DELIVERED, at=now, data={"status": 200})

    assert check(decision) is None
