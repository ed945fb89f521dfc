"""GET /api/v1/decisions/: who sees what, filters, cursor pagination, and a constant number of
queries whatever the number of rows."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from decisions.lifecycle import cancellation, signing
from decisions.models import DecisionRequest
from governance import rbac
from tests.governance.factories import CertificationFactory, make_user_in_group
from tests.helpers import force_update

pytestmark = pytest.mark.django_db

LIST = "/api/v1/decisions/"
APPROVE = {"verdict": "approve", "reason_code": "evidence_sufficient", "rationale": "Confirmed on the EDR console."}


def ids(response) -> set[str]:
    return {d["id"] for d in response.json()["results"]}


def public_ids(*decisions) -> set[str]:
    return {str(d.public_id) for d in decisions}


def created_at(decision, when: datetime) -> None:
    force_update(DecisionRequest.objects.filter(pk=decision.pk), created_at=when)


# --- Who sees what --------------------------------------------------------------------------


def test_integration_sees_its_own_decisions(api_client, decision):
    assert ids(api_client.get(LIST)) == public_ids(decision)


def test_integration_does_not_see_another_integrations_decisions(api_client, make_caller, staffed, make_decision):
    other = make_caller(action_types=[staffed.action_type])
    make_decision(other.integration, staffed.action_type)

    assert ids(api_client.get(LIST)) == set()


def test_integration_cannot_read_another_integrations_decision(api_client, make_caller, staffed, make_decision):
    other = make_caller(action_types=[staffed.action_type])
    theirs = make_decision(other.integration, staffed.action_type)

    assert api_client.get(f"{LIST}{theirs.public_id}/").status_code == 404


def test_person_sees_the_decisions_they_may_certify(person_client, signer, decision):
    assert ids(person_client(signer).get(LIST)) == public_ids(decision)


def test_person_does_not_see_decisions_routed_to_others(person_client, make_staffed, make_caller, make_decision):
    mine, theirs = make_staffed(), make_staffed()
    caller = make_caller(action_types=[mine.action_type, theirs.action_type])
    routed_to_me = make_decision(caller.integration, mine.action_type)
    make_decision(caller.integration, theirs.action_type)

    assert ids(person_client(mine.signers[0]).get(LIST)) == public_ids(routed_to_me)


def test_person_still_sees_a_decision_they_signed_after_its_grants_are_revoked(person_client, signer, decision):
    signing.decision_sign_off(decision=decision, actor=signer, **APPROVE)

    assert ids(person_client(signer).get(LIST)) == public_ids(decision)


def test_certified_person_not_on_call_sees_nothing(person_client, staffed, decision):
    off_call = CertificationFactory(role=staffed.role).user

    assert ids(person_client(off_call).get(LIST)) == set()


def test_auditor_sees_every_decision(person_client, make_staffed, make_caller, make_decision):
    first, second = make_staffed(), make_staffed()
    a = make_caller(action_types=[first.action_type])
    b = make_caller(action_types=[second.action_type])
    decisions = [make_decision(a.integration, first.action_type), make_decision(b.integration, second.action_type)]

    response = person_client(make_user_in_group(rbac.AUDITOR)).get(LIST)

    assert ids(response) == public_ids(*decisions)


# --- Filters --------------------------------------------------------------------------------


def test_status_filter_keeps_that_status(api_client, caller, staffed, make_decision):
    pending = make_decision(caller.integration, staffed.action_type)
    cancelled = make_decision(caller.integration, staffed.action_type)
    cancellation.decision_cancel(decision=cancelled, integration=caller.integration, actor=None)

    assert (
        ids(api_client.get(LIST, {"status": "pending"})),
        ids(api_client.get(LIST, {"status": "cancelled"})),
    ) == (public_ids(pending), public_ids(cancelled))


def test_action_type_filter_keeps_that_action_type(make_staffed, make_caller, make_decision):
    isolate, disable = make_staffed(), make_staffed()
    caller = make_caller(action_types=[isolate.action_type, disable.action_type])
    wanted = make_decision(caller.integration, disable.action_type)
    make_decision(caller.integration, isolate.action_type)

    response = caller.client.get(LIST, {"action_type": disable.action_type.slug})

    assert ids(response) == public_ids(wanted)


def test_created_after_keeps_decisions_from_that_instant_on(api_client, caller, staffed, make_decision):
    old, new = (make_decision(caller.integration, staffed.action_type) for _ in range(2))
    created_at(old, datetime(2026, 11, 1, 9, tzinfo=UTC))
    created_at(new, datetime(2026, 11, 20, 9, tzinfo=UTC))

    response = api_client.get(LIST, {"created_after": "2026-11-20T09:00:00Z"})

    assert ids(response) == public_ids(new)


def test_created_before_keeps_decisions_strictly_before_that_instant(api_client, caller, staffed, make_decision):
    old, new = (make_decision(caller.integration, staffed.action_type) for _ in range(2))
    created_at(old, datetime(2026, 11, 1, 9, tzinfo=UTC))
    created_at(new, datetime(2026, 11, 20, 9, tzinfo=UTC))

    response = api_client.get(LIST, {"created_before": "2026-11-20T09:00:00Z"})

    assert ids(response) == public_ids(old)


def test_created_filters_honour_the_given_offset(api_client, caller, staffed, make_decision):
    decision = make_decision(caller.integration, staffed.action_type)
    created_at(decision, datetime(2026, 11, 20, 9, tzinfo=UTC))

    response = api_client.get(LIST, {"created_after": "2026-11-20T10:00:00+01:00"})

    assert ids(response) == public_ids(decision)


def test_filters_combine(api_client, caller, staffed, make_decision):
    old, new = (make_decision(caller.integration, staffed.action_type) for _ in range(2))
    created_at(old, timezone.now() - timedelta(days=3))
    cancellation.decision_cancel(decision=new, integration=caller.integration, actor=None)

    response = api_client.get(
        LIST, {"status": "pending", "created_before": (timezone.now() - timedelta(days=1)).isoformat()}
    )

    assert ids(response) == public_ids(old)


# --- Pagination -----------------------------------------------------------------------------


def test_cursor_pages_cover_every_decision_once(api_client, caller, staffed, make_decision):
    decisions = [make_decision(caller.integration, staffed.action_type) for _ in range(5)]
    seen: list[str] = []
    url = f"{LIST}?page_size=2"
    while url:
        page = api_client.get(url).json()
        seen += [d["id"] for d in page["results"]]
        url = page["next"]

    assert (len(seen), set(seen)) == (5, public_ids(*decisions))


def test_cursor_pages_hold_page_size_rows(api_client, caller, staffed, make_decision):
    for _ in range(3):
        make_decision(caller.integration, staffed.action_type)

    page = api_client.get(LIST, {"page_size": 2}).json()

    assert (len(page["results"]), page["next"] is not None) == (2, True)


def test_newest_decision_comes_first(api_client, caller, staffed, make_decision):
    old, new = (make_decision(caller.integration, staffed.action_type) for _ in range(2))
    created_at(old, timezone.now() - timedelta(hours=1))

    results = api_client.get(LIST).json()["results"]

    assert [d["id"] for d in results] == [str(new.public_id), str(old.public_id)]


def test_cursor_keeps_its_place_when_a_newer_decision_arrives(api_client, caller, staffed, make_decision):
    decisions = [make_decision(caller.integration, staffed.action_type) for _ in range(4)]
    first = api_client.get(LIST, {"page_size": 2}).json()
    make_decision(caller.integration, staffed.action_type)

    second = api_client.get(first["next"]).json()

    assert {d["id"] for d in second["results"]} == public_ids(*decisions[:2])


# --- Query counts ---------------------------------------------------------------------------

# The throttle's count in the database cache: read; then count rows, savepoint, select, insert
# or update, release.
THROTTLE_QUERIES = 6
# Key lookup (with integration and service account), last_used_at (at most once a minute), one page.
INTEGRATION_LIST_QUERIES = 2 + THROTTLE_QUERIES + 1
# The person's own and group permissions (may they view all?), one page (grants and sign-offs as EXISTS).
PERSON_LIST_QUERIES = THROTTLE_QUERIES + 2 + 1


@pytest.mark.parametrize("rows", [1, 50])
def test_integration_list_runs_a_constant_number_of_queries(
    caller, staffed, make_decision, key_client, django_assert_num_queries, rows
):
    for _ in range(rows):
        make_decision(caller.integration, staffed.action_type)
    client = key_client(caller.key)

    with django_assert_num_queries(INTEGRATION_LIST_QUERIES):
        response = client.get(LIST)

    assert len(response.json()["results"]) == rows


@pytest.mark.parametrize("rows", [1, 50])
def test_person_list_runs_a_constant_number_of_queries(
    caller, staffed, signer, make_decision, person_client, django_assert_num_queries, rows
):
    for _ in range(rows):
        make_decision(caller.integration, staffed.action_type)
    client = person_client(signer)

    with django_assert_num_queries(PERSON_LIST_QUERIES):
        response = client.get(LIST)

    assert len(response.json()["results"]) == rows


# Key lookup, last_used_at, throttle, the decision, its events (actors joined).
EVENTS_QUERIES = 2 + THROTTLE_QUERIES + 2


@pytest.mark.parametrize("cancelled", [False, True], ids=["3-events", "5-events"])
def test_events_endpoint_runs_a_constant_number_of_queries(
    caller, decision, key_client, django_assert_num_queries, cancelled
):
    if cancelled:
        cancellation.decision_cancel(
            decision=decision, integration=caller.integration, actor=caller.integration.service_account
        )
    client = key_client(caller.key)

    with django_assert_num_queries(EVENTS_QUERIES):
        response = client.get(f"{LIST}{decision.public_id}/events/")

    assert len(response.json()["results"]) == (5 if cancelled else 3)
