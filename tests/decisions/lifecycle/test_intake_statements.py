"""Intake's hot path in statements: routing runs in memory, then one transaction writes the plan."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from decisions.api.serializers import DecisionSubmitSerializer
from decisions.lifecycle import intake
from governance.snapshot import pinned_snapshot
from tests.decisions.conftest import payload

pytestmark = pytest.mark.django_db

# The governance snapshot's token; the savepoint; one of the integration's cap slots; "may it
# submit this action type" with its pending count; the decision, its events, its grants, its
# outbox rows; the release. (Publishing after the commit is the dispatcher thread's.)
WARM_SUBMISSION_STATEMENTS = 9


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


def test_a_warm_submission_runs_nine_statements(caller, staffed):
    submit_as_the_api_does(caller, staffed.action_type, "warm-up")  # fills the governance snapshot cache

    with CaptureQueriesContext(connection) as statements:
        submission = submit_as_the_api_does(caller, staffed.action_type, "measured")

    assert submission.created
    assert len(statements) == WARM_SUBMISSION_STATEMENTS, [q["sql"][:80] for q in statements]


def test_the_plan_inserts_events_grants_and_side_effects_in_one_statement_each(caller, staffed):
    submit_as_the_api_does(caller, staffed.action_type, "warm-up")

    with CaptureQueriesContext(connection) as statements:
        submit_as_the_api_does(caller, staffed.action_type, "measured")

    inserts = [q["sql"].split('"')[1] for q in statements if q["sql"].startswith("INSERT")]
    assert inserts == [
        "decisions_decisionrequest",
        "decisions_decisionevent",
        "decisions_decisionrequestuserobjectpermission",
        "decisions_outboxmessage",
    ]
