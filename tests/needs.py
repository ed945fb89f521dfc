"""What the suite needs from outside (PostgreSQL, Redis, programs) and what to do when it is
missing: skip on a developer machine, *fail* in CI (CI=true) so nothing passes silently."""

import os

import pytest
import redis

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def missing(message: str) -> None:
    """Fail under CI=true, skip otherwise."""
    if ci():
        pytest.fail(f"CI=true but {message}")
    pytest.skip(message)


def redis_server_url() -> str:
    """The Redis server of CELERY_BROKER_URL when that is a Redis URL, else the local default."""
    url = os.environ.get("CELERY_BROKER_URL", "")
    return url if url.startswith(("redis://", "rediss://")) else DEFAULT_REDIS_URL


def redis_answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1).ping())
    except (redis.RedisError, OSError):
        return False
