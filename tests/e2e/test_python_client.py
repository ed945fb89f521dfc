"""The Python client (clients/python) against a live portal: gunicorn, a celery worker,
PostgreSQL and Redis. Submit and replay, wait for a verdict a person signs through the API, time
out cleanly, refusals as exceptions, verify the real verdict webhook and refuse forged ones."""

import asyncio
import threading
import time

import pytest
from countersign_client import (
    AsyncCountersign,
    Conflict,
    Countersign,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    RateLimited,
    Retry,
    VerdictTimeout,
    WebhookVerificationError,
    verify_webhook,
)

from decisions import integrations
from tests.e2e.harness import wait_until
from tests.e2e.portal_world import recommendation

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

MISSING = "5f0c6d2e-4a1b-4c3d-9e8f-000000000000"
APPROVE = {"verdict": "approve", "reason_code": "evidence_sufficient", "rationale": "EDR shows C2 beaconing."}


@pytest.fixture
def agent(world):
    with Countersign(world.url, api_key=world.key) as client:
        yield client


@pytest.fixture
def analyst(world):
    with Countersign(world.url, token=world.token) as client:
        yield client


def sign_later(analyst: Countersign, decision_id: str, delay: float) -> threading.Thread:
    def sign():
        time.sleep(delay)
        analyst.sign_off(decision_id, **APPROVE)

    thread = threading.Thread(target=sign)
    thread.start()
    return thread


def test_submit_replay_refusals_cancel_and_outcome(agent, world):
    """One live portal for the integration's plain calls (each portal takes seconds to start)."""
    decision = agent.submit(**recommendation(world), idempotency_key="agent-run-7")
    replayed = agent.submit(**recommendation(world), idempotency_key="agent-run-7")
    other = agent.submit(**recommendation(world))
    with pytest.raises(InvalidRequest) as invalid:
        agent.submit(**recommendation(world, severity="apocalyptic"))
    with pytest.raises(PermissionDenied) as signing:
        agent.sign_off(decision.id, **APPROVE)
    cancelled = agent.cancel(decision.id, reason="duplicate alert")
    with pytest.raises(Conflict) as twice:
        agent.cancel(decision.id)
    reported = agent.report_outcome(decision.id, kind="false_positive", notes="benign scanner")

    assert decision.is_pending
    assert not decision.may_execute
    assert decision.eligible_signers == 1
    assert replayed.id == decision.id  # the same key: the same decision
    assert other.id != decision.id  # no key given: a key of its own
    assert (invalid.value.status, invalid.value.code) == (400, "invalid")
    assert "severity" in invalid.value.errors
    assert signing.value.status == 403
    assert cancelled.status == "cancelled"
    assert twice.value.status == 409
    assert reported.raw["outcome"]["kind"] == "false_positive"


def test_wait_for_verdict_returns_as_soon_as_a_person_signs_and_its_webhook_verifies(agent, analyst, world):
    decision = agent.submit(**recommendation(world))
    signing = sign_later(analyst, decision.id, 1.5)
    started = time.monotonic()

    verdict = agent.wait_for_verdict(decision.id, timeout=30)
    waited = time.monotonic() - started
    signing.join()
    delivered = wait_until(lambda: world.receiver.accepted, timeout=30, what="the verdict webhook")[0]
    body = delivered.body.encode()
    payload = verify_webhook(delivered.headers, body, world.secret)

    assert waited < 10
    assert verdict.status == "approved"
    assert verdict.may_execute
    assert verdict.final_action["target"] == {"host": "laptop-042"}
    assert payload["type"] == "decision.approved"
    assert payload["data"]["id"] == decision.id
    with pytest.raises(WebhookVerificationError):  # the body changed
        verify_webhook(delivered.headers, body.replace(b"approved", b"rejected"), world.secret)
    with pytest.raises(WebhookVerificationError):  # signed with another secret
        verify_webhook(delivered.headers, body, "whsec_" + "QUJD" * 8)
    with pytest.raises(WebhookVerificationError):  # replayed an hour later
        verify_webhook(delivered.headers, body, world.secret, now=time.time() + 3600)


def test_waiting_times_out_cleanly_sync_and_async(agent, world):
    decision = agent.submit(**recommendation(world))
    started = time.monotonic()
    with pytest.raises(VerdictTimeout) as timed_out:
        agent.wait_for_verdict(decision.id, timeout=2)
    waited = time.monotonic() - started

    async def scenario():
        async with AsyncCountersign(world.url, api_key=world.key) as client:
            submitted = await client.submit(**recommendation(world))
            still = await client.get(submitted.id, wait=1)
            with pytest.raises(VerdictTimeout):
                await client.wait_for_verdict(submitted.id, timeout=1)
            await client.cancel(submitted.id, reason="superseded")
            return still, await client.wait_for_verdict(submitted.id, timeout=30)

    still, final = asyncio.run(scenario())

    assert 2 <= waited < 6
    assert timed_out.value.decision.id == decision.id
    assert timed_out.value.decision.is_pending
    assert still.is_pending
    assert final.status == "cancelled"
    assert not final.may_execute


def test_a_rate_limit_is_retried_honouring_retry_after_then_raised(world):
    integration = integrations.integration_create(
        actor=None, name="Tight", team_contact="t@example.test", allowed_action_types=[], rate_limit_per_minute=1
    )
    key = integrations.integration_key_create(integration=integration, name="tight").plain
    client = Countersign(world.url, api_key=key, retry=Retry(attempts=3, max_delay=0.3))
    with pytest.raises(NotFound):
        client.get(MISSING)  # the minute's one request
    started = time.monotonic()

    with pytest.raises(RateLimited) as limited:
        client.get(MISSING)

    assert time.monotonic() - started >= 0.6  # two retries, each waiting Retry-After (capped at 0.3 s)
    assert limited.value.status == 429
    assert limited.value.code == "throttled"
    assert limited.value.retry_after > 0
