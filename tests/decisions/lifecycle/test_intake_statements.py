"""Intake's hot path in round trips: routing runs in memory, then one transaction writes the plan."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from decisions.api.serializers import DecisionSubmitSerializer
from decisions.lifecycle import intake
from decisions.models import DecisionRequest, DecisionRequestUserObjectPermission, OutboxMessage
from decisions.outbox.relay import Dispatch
from governance.snapshot import pinned_snapshot
from tests.decisions.conftest import payload

pytestmark = pytest.mark.django_db

# The governance snapshot's token; the savepoint; one of the integration's cap slots with "may
# it submit this action type", its pending count and the new id; the decision, its events, its
# grants and its outbox rows; the release. (Publishing after the commit is the dispatcher
# thread's.)
WARM_SUBMISSION_ROUND_TRIPS = 5


def submit_as_the_api_does(caller, action_type, key: str):
    data = payload(action_type)
    with pinned_snapshot():
        serializer = DecisionSubmitSerializer(data=data)
        serializer.is_valid(raise_exception=True)
        return intake.decision_submit(
            integration=caller.integration,
            actor=caller.integration.service_account,
            data=serializer.to_service_data(),
            request_fingerprint=intake.fingerprint(data),
            idempotency_key=key,
        )


def test_a_warm_submission_takes_five_round_trips(caller, staffed):
    submit_as_the_api_does(caller, staffed.action_type, "warm-up")  # fills the governance snapshot cache

    with CaptureQueriesContext(connection) as statements:
        submission = submit_as_the_api_does(caller, staffed.action_type, "measured")

    assert submission.created
    assert len(statements) == WARM_SUBMISSION_ROUND_TRIPS, [q["sql"][:80] for q in statements]


def test_the_plan_inserts_decision_events_grants_and_side_effects_in_one_round_trip(caller, staffed):
    submit_as_the_api_does(caller, staffed.action_type, "warm-up")

    with CaptureQueriesContext(connection) as statements:
        submit_as_the_api_does(caller, staffed.action_type, "measured")

    writes = [q["sql"] for q in statements if "INSERT" in q["sql"]]
    assert len(writes) == 1
    assert re.findall(r'INSERT INTO "(\w+)"', writes[0]) == [
        "decisions_decisionrequest",
        "decisions_decisionevent",
        "decisions_decisionrequestuserobjectpermission",
        "decisions_outboxmessage",
    ]


def test_the_slot_and_the_limits_share_one_round_trip(caller, staffed):
    submit_as_the_api_does(caller, staffed.action_type, "warm-up")

    with CaptureQueriesContext(connection) as statements:
        submit_as_the_api_does(caller, staffed.action_type, "measured")

    limits = [q["sql"] for q in statements if "pg_try_advisory_xact_lock" in q["sql"]]
    assert len(limits) == 1
    assert "decisions_pendingcount" in limits[0]
    assert "nextval" in limits[0]


def test_the_reserved_id_is_the_decisions_id_and_its_rows_point_at_it(caller, staffed):
    submission = submit_as_the_api_does(caller, staffed.action_type, "one")

    decision = DecisionRequest.objects.get(public_id=submission.decision.public_id)
    assert decision.pk == submission.decision.pk
    assert decision.events.count() == decision.event_count > 0
    assert OutboxMessage.objects.filter(args__1=decision.pk).exists()
    assert DecisionRequestUserObjectPermission.objects.filter(content_object=decision).count() == len(staffed.signers)


def test_outbox_rows_written_in_the_round_trip_carry_their_ids_to_the_dispatcher(
    caller, staffed, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        submit_as_the_api_does(caller, staffed.action_type, "one")

    dispatched = [row for callback in callbacks if isinstance(callback, Dispatch) for row in callback.rows]
    assert dispatched
    assert {row.pk for row in dispatched} == set(OutboxMessage.objects.values_list("pk", flat=True))
