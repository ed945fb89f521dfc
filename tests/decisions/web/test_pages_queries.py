"""The analyst pages run a constant number of queries, whatever the number of rows.

Queue (7): session, user, the queue itself, the governance snapshot token (who is on call),
the user's and the groups' permissions (the nav's "All decisions" link), the health banner.
All decisions (8): session, user, permissions x2, the page count, the action types of the
filter, the page, the health banner. Decision page (as a reviewer, 10): session, user,
permissions x2, the decision, its sign-offs, the two segregation-of-duties checks, its events,
the health banner (every page: the sweep's heartbeat and the newest log verification, one query).
"""

import pytest

from decisions.lifecycle import signing
from governance import rbac
from tests.governance.factories import make_user_in_group

pytestmark = pytest.mark.django_db

APPROVE = {"verdict": "approve", "reason_code": "evidence_sufficient", "rationale": "Confirmed on the EDR console."}


@pytest.fixture
def decisions_of(caller, staffed, make_decision):
    def make(count):
        return [make_decision(caller.integration, staffed.action_type) for _ in range(count)]

    return make


@pytest.mark.parametrize("rows", [1, 50])
def test_queue_runs_seven_queries(client, signer, decisions_of, django_assert_num_queries, rows):
    decisions_of(rows)
    client.force_login(signer)
    client.get("/decisions/")  # warms the per-process governance snapshot

    with django_assert_num_queries(7):
        response = client.get("/decisions/")

    assert len(response.context["decisions"]) == rows


@pytest.mark.parametrize("rows", [1, 50, 51])
def test_all_decisions_runs_eight_queries(client, decisions_of, django_assert_num_queries, rows):
    decisions_of(rows)
    client.force_login(make_user_in_group(rbac.AUDITOR))

    with django_assert_num_queries(8):
        response = client.get("/decisions/all/?status=pending")

    assert response.context["page"].paginator.count == rows


@pytest.mark.parametrize("signers", [1, 4])
def test_decision_page_runs_ten_queries_for_a_reviewer(
    client, make_staffed, make_caller, make_decision, django_assert_num_queries, signers
):
    staffed = make_staffed(people=5, required_approvals=5)  # a quorum the five can fill: it waits
    decision = make_decision(make_caller(action_types=[staffed.action_type]).integration, staffed.action_type)
    for person in staffed.signers[:signers]:
        signing.decision_sign_off(decision=decision, actor=person, **APPROVE)
    client.force_login(make_user_in_group(rbac.AUDITOR))

    with django_assert_num_queries(10):
        response = client.get(f"/decisions/{decision.public_id}/")

    assert len(response.context["signoffs"]) == signers
