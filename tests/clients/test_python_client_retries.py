"""The client's retry policy, against an HTTP transport that answers as a failing server would
(a live portal cannot be made to fail on demand; tests/e2e/test_python_client.py covers the rest
against a live one): a 503 or a broken connection is retried for a keyed submission with the same
Idempotency-Key, after Retry-After; a cancel is not retried after a 5xx (it may have happened)."""

import time

import httpx
import pytest
from countersign_client import Countersign, Retry, ServerError

DECISION = {"id": "5f0c6d2e-4a1b-4c3d-9e8f-000000000001", "status": "pending", "action_type": "isolate-host"}
BODY = {
    "action_type": "isolate-host",
    "title": "Isolate laptop-042",
    "recommendation": "Isolate it.",
    "target": {"host": "laptop-042"},
    "ai_confidence": 0.9,
    "blast_radius": "medium",
    "severity": "high",
    "model": {"name": "agent", "version": "1"},
}


def client_answering(*answers):
    seen: list[httpx.Request] = []
    pending = list(answers)

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = pending.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    client = Countersign("http://countersign.test", api_key="k", transport=httpx.MockTransport(handle))
    return client, seen


def test_a_submission_is_retried_after_a_503_with_the_same_idempotency_key_after_retry_after():
    client, seen = client_answering(
        httpx.Response(503, json={"detail": "Busy.", "code": "unavailable"}, headers={"Retry-After": "0.3"}),
        httpx.ConnectError("refused"),
        httpx.Response(201, json=DECISION),
    )
    client.retry = Retry(attempts=3, base=0.01)
    started = time.monotonic()

    decision = client.submit(**BODY)

    assert decision.id == DECISION["id"]
    assert time.monotonic() - started >= 0.3
    keys = {request.headers["Idempotency-Key"] for request in seen}
    assert len(seen) == 3
    assert len(keys) == 1


def test_a_cancel_is_not_retried_after_a_server_error():
    client, seen = client_answering(httpx.Response(500, json={"detail": "Oops.", "code": "error"}))

    with pytest.raises(ServerError) as failed:
        client.cancel(DECISION["id"])

    assert len(seen) == 1
    assert failed.value.status == 500


def test_a_429_is_retried_even_for_a_cancel():
    client, seen = client_answering(
        httpx.Response(429, json={"detail": "Slow down.", "code": "throttled"}, headers={"Retry-After": "0"}),
        httpx.Response(200, json={**DECISION, "status": "cancelled"}),
    )

    assert client.cancel(DECISION["id"]).status == "cancelled"
    assert len(seen) == 2
