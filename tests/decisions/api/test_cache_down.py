"""The cache Redis stops: the API stays up. Rate limits count in each process instead (still
enforced, per process), with one logged warning; intake, reads and sign-offs keep working; no
500. A real redis-server of this test's own is the cache (CACHE_URL) and is really stopped."""

import logging
import shutil

import environ
import pytest
from django.core.cache import cache

from decisions.api import throttling
from tests.e2e.harness import RedisServer, free_port
from tests.needs import missing

pytestmark = pytest.mark.django_db

APPROVE = {"verdict": "approve", "reason_code": "evidence_sufficient", "rationale": "Confirmed on the EDR console."}


@pytest.fixture
def cache_redis(tmp_path, settings):
    executable = shutil.which("redis-server")
    if executable is None:
        missing("needs the redis-server program")
    server = RedisServer(executable=executable, port=free_port(), directory=tmp_path)
    server.start()
    config = environ.Env.cache_url_config(server.url)
    config["OPTIONS"] = {"socket_connect_timeout": 1, "socket_timeout": 1}
    settings.CACHES = {"default": config}  # as CACHE_URL=redis://… gives (portal.settings.base)
    throttling.LOCAL.cache_down_until = 0.0
    try:
        yield server
    finally:
        server.stop()
        throttling.LOCAL.cache_down_until = 0.0


def test_intake_reads_and_sign_offs_keep_working_when_the_cache_stops(
    cache_redis, caller, body, make_body, staffed, signer, person_client, caplog
):
    first = caller.client.post("/api/v1/decisions/", body, format="json")
    assert first.status_code == 201
    assert cache._cache.get_client().keys("*throttle:key:*")  # counted on that redis-server
    cache_redis.stop()

    with caplog.at_level(logging.WARNING, logger="decisions.api.throttling"):
        submitted = caller.client.post(
            "/api/v1/decisions/", make_body(staffed.action_type, title="Second"), format="json"
        )
        listed = caller.client.get("/api/v1/decisions/")
        read = caller.client.get(f"/api/v1/decisions/{first.json()['id']}/")
        signed = person_client(signer).post(f"/api/v1/decisions/{first.json()['id']}/signoffs/", APPROVE, format="json")

    assert submitted.status_code == 201, submitted.content
    assert listed.status_code == 200
    assert len(listed.json()["results"]) == 2
    assert read.status_code == 200
    assert signed.status_code == 201, signed.content
    warnings = [r for r in caplog.records if "the cache is unreachable" in r.getMessage()]
    assert len(warnings) == 1  # said once, not per request


def test_rate_limits_still_hold_per_process_while_the_cache_is_down(cache_redis, make_caller, staffed, make_body):
    caller = make_caller(action_types=[staffed.action_type], rate_limit_per_minute=3)
    cache_redis.stop()

    statuses = [
        caller.client.post(
            "/api/v1/decisions/", make_body(staffed.action_type, title=f"n{i}"), format="json"
        ).status_code
        for i in range(4)
    ]

    assert statuses == [201, 201, 201, 429]


def test_the_shared_cache_is_used_again_once_it_is_back(cache_redis, caller, body):
    cache_redis.stop()
    assert caller.client.get("/api/v1/decisions/").status_code == 200
    assert throttling.LOCAL.cache_down_until > 0

    cache_redis.start()
    throttling.LOCAL.cache_down_until = 0.0  # FALLBACK_SECONDS have passed
    assert caller.client.get("/api/v1/decisions/").status_code == 200

    counted = [key for key in cache._cache.get_client().keys("*throttle:key:*")]
    assert counted  # the count is in Redis again
