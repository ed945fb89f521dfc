"""Idempotency-Key: a retry with the same key and body returns the original decision (200); the
same key with another body is a 422; concurrent retries still make exactly one decision."""

import pytest

from decisions.models import DecisionEvent, DecisionRequest
from tests.helpers import run_concurrently

LIST = "/api/v1/decisions/"
KEY = {"Idempotency-Key": "soar-run-7781"}


def submit(client, body, headers=KEY):
    return client.post(LIST, body, format="json", headers=headers)


@pytest.mark.django_db
def test_retry_with_the_same_key_and_body_is_a_200(api_client, body):
    submit(api_client, body)

    response = submit(api_client, body)

    assert response.status_code == 200


@pytest.mark.django_db
def test_retry_with_the_same_key_and_body_returns_the_original_decision(api_client, body):
    first = submit(api_client, body).json()

    second = submit(api_client, body).json()

    assert second["id"] == first["id"]


@pytest.mark.django_db
def test_retry_creates_no_second_decision_and_no_events(api_client, body):
    submit(api_client, body)
    events = DecisionEvent.objects.count()

    submit(api_client, body)

    assert (DecisionRequest.objects.count(), DecisionEvent.objects.count()) == (1, events)


@pytest.mark.django_db
def test_retry_with_keys_in_another_order_is_the_same_body(api_client, body):
    first = submit(api_client, body).json()

    response = submit(api_client, dict(reversed(list(body.items()))))

    assert (response.status_code, response.json()["id"]) == (200, first["id"])


@pytest.mark.django_db
def test_same_key_with_another_body_is_a_422(api_client, body):
    submit(api_client, body)

    response = submit(api_client, {**body, "title": "Isolate laptop-043"})

    assert response.status_code == 422
    assert response.json()["code"] == "idempotency_key_reused"


@pytest.mark.django_db
def test_same_key_with_another_body_changes_nothing(api_client, body):
    submit(api_client, body)

    submit(api_client, {**body, "title": "Isolate laptop-043"})

    assert list(DecisionRequest.objects.values_list("title", flat=True)) == [body["title"]]


@pytest.mark.django_db
def test_without_a_key_each_submission_is_a_new_decision(api_client, body):
    submit(api_client, body, headers={})

    response = submit(api_client, body, headers={})

    assert (response.status_code, DecisionRequest.objects.count()) == (201, 2)


@pytest.mark.django_db
def test_keys_belong_to_one_integration(api_client, body, make_caller, staffed):
    other = make_caller(action_types=[staffed.action_type])
    submit(api_client, body)

    response = submit(other.client, body)

    assert (response.status_code, DecisionRequest.objects.count()) == (201, 2)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_submissions_with_one_key_make_one_decision(caller, key_client, body):
    def post(_index):
        client = key_client(caller.key)  # one client per thread, as separate retries would be
        response = submit(client, body)
        return response.status_code, response.json()["id"]

    outcomes = run_concurrently(post, threads=20)

    assert [exc for _result, exc in outcomes if exc is not None] == []
    results = [result for result, _exc in outcomes]
    assert sorted(status for status, _id in results) == [200] * 19 + [201]
    assert {decision_id for _status, decision_id in results} == {str(DecisionRequest.objects.get().public_id)}
