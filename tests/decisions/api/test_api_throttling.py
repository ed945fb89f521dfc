"""Rate limits per API key (counted in the shared cache) and the cap on pending decisions."""

import pytest
from django.core.cache import cache

from decisions.lifecycle import cancellation
from decisions.models import DecisionRequest
from tests.helpers import run_concurrently

LIST = "/api/v1/decisions/"


@pytest.fixture
def limited(make_caller, staffed):
    """An integration allowed three requests a minute."""
    cache.clear()
    return make_caller(action_types=[staffed.action_type], rate_limit_per_minute=3)


@pytest.mark.django_db
def test_requests_within_the_rate_limit_pass(limited):
    statuses = [limited.client.get(LIST).status_code for _ in range(3)]

    assert statuses == [200, 200, 200]


@pytest.mark.django_db
def test_request_over_the_rate_limit_is_a_429(limited):
    for _ in range(3):
        limited.client.get(LIST)

    response = limited.client.get(LIST)

    assert response.status_code == 429
    assert response.json()["code"] == "throttled"


@pytest.mark.django_db
def test_rate_limited_response_says_when_to_retry(limited):
    for _ in range(3):
        limited.client.get(LIST)

    response = limited.client.get(LIST)

    assert 0 < int(response.headers["Retry-After"]) <= 60


@pytest.mark.django_db
def test_submissions_count_toward_the_rate_limit(limited, make_body, staffed):
    statuses = [limited.client.post(LIST, make_body(staffed.action_type), format="json").status_code for _ in range(4)]

    assert statuses == [201, 201, 201, 429]


@pytest.mark.django_db
def test_rate_limit_is_per_key(limited, make_caller, staffed):
    other = make_caller(action_types=[staffed.action_type], rate_limit_per_minute=3)
    for _ in range(4):
        limited.client.get(LIST)

    assert other.client.get(LIST).status_code == 200


@pytest.mark.django_db
def test_submission_over_the_pending_cap_is_a_429(make_caller, staffed, make_body):
    capped = make_caller(action_types=[staffed.action_type], max_pending=1)
    capped.client.post(LIST, make_body(staffed.action_type), format="json")

    response = capped.client.post(LIST, make_body(staffed.action_type, title="Second"), format="json")

    assert response.status_code == 429
    assert response.json()["code"] == "pending_cap_reached"


@pytest.mark.django_db
def test_pending_cap_response_says_when_to_retry(make_caller, staffed, make_body):
    capped = make_caller(action_types=[staffed.action_type], max_pending=1)
    capped.client.post(LIST, make_body(staffed.action_type), format="json")

    response = capped.client.post(LIST, make_body(staffed.action_type, title="Second"), format="json")

    assert response.headers["Retry-After"] == "30"


@pytest.mark.django_db
def test_submission_over_the_pending_cap_stores_nothing(make_caller, staffed, make_body):
    capped = make_caller(action_types=[staffed.action_type], max_pending=1)
    capped.client.post(LIST, make_body(staffed.action_type), format="json")

    capped.client.post(LIST, make_body(staffed.action_type, title="Second"), format="json")

    assert DecisionRequest.objects.count() == 1


@pytest.mark.django_db
def test_cancelling_frees_a_pending_slot(make_caller, staffed, make_decision, make_body):
    capped = make_caller(action_types=[staffed.action_type], max_pending=1)
    first = make_decision(capped.integration, staffed.action_type)
    cancellation.decision_cancel(decision=first, integration=capped.integration, actor=None)

    response = capped.client.post(LIST, make_body(staffed.action_type), format="json")

    assert response.status_code == 201


@pytest.mark.django_db
def test_retry_of_a_submission_is_answered_at_the_pending_cap(make_caller, staffed, make_body):
    capped = make_caller(action_types=[staffed.action_type], max_pending=1)
    body = make_body(staffed.action_type)
    capped.client.post(LIST, body, format="json", headers={"Idempotency-Key": "run-1"})

    response = capped.client.post(LIST, body, format="json", headers={"Idempotency-Key": "run-1"})

    assert response.status_code == 200


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_submissions_respect_the_pending_cap(make_caller, staffed, make_body, key_client):
    capped = make_caller(action_types=[staffed.action_type], max_pending=1)

    def post(index):
        body = make_body(staffed.action_type, title=f"Isolate laptop-{index:03}")
        return key_client(capped.key).post(LIST, body, format="json").status_code

    outcomes = run_concurrently(post, threads=10)

    assert (sorted(status for status, _exc in outcomes), DecisionRequest.objects.count()) == ([201] + [429] * 9, 1)
