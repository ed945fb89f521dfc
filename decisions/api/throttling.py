"""Per-key rate limits, counted in the shared cache so every web process sees the same count.

A fixed one-minute window per key, counted with the cache's atomic increment: one round trip
per request (two on the first of a window), and no lost updates between processes, unlike a
read-modify-write of a request history.

When the cache cannot be reached, the API stays up: each process counts in its own memory
instead (the same limits, per process, so at most "limit x processes" get through) and logs a
warning; for FALLBACK_SECONDS it does not try the cache again, so a cache that hangs costs one
timeout per process, not one per request. Then it tries again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict

from django.core.cache import cache
from rest_framework.throttling import BaseThrottle

from decisions.models import IntegrationAPIKey

logger = logging.getLogger(__name__)
DEFAULT_PERSON_RATE_PER_MINUTE = 600
WINDOW_SECONDS = 60
FALLBACK_SECONDS = 30.0
LOCAL_KEYS = 10_000  # the local counters kept at most (oldest first out)


class LocalCounter:
    """Fixed-window counts in this process, used while the shared cache is unreachable."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: OrderedDict[str, int] = OrderedDict()
        self.cache_down_until = 0.0

    def incr(self, key: str) -> int:
        with self._lock:
            count = self._counts.pop(key, 0) + 1
            self._counts[key] = count
            while len(self._counts) > LOCAL_KEYS:
                self._counts.popitem(last=False)
            return count

    def cache_usable(self, now: float) -> bool:
        return now >= self.cache_down_until

    def cache_failed(self, now: float, error: Exception) -> None:
        with self._lock:
            first = self.cache_down_until <= now
            self.cache_down_until = now + FALLBACK_SECONDS
        if first:
            logger.warning(
                "the cache is unreachable (%s): rate limits count in this process for %.0f s",
                type(error).__name__,
                FALLBACK_SECONDS,
            )


LOCAL = LocalCounter()


def _shared_count(key: str) -> int:
    try:
        return cache.incr(key)
    except ValueError:
        # First request of the window; add() loses to a concurrent add() without harm.
        return 1 if cache.add(key, 1, timeout=WINDOW_SECONDS * 2) else cache.incr(key)


class PerKeyRateThrottle(BaseThrottle):
    """An integration key gets its integration's ``rate_limit_per_minute``; people a default."""

    def _identity(self, request) -> tuple[str, int]:
        auth = request.auth
        if isinstance(auth, IntegrationAPIKey):
            return f"key:{auth.prefix}", auth.integration.rate_limit_per_minute
        if request.user and request.user.is_authenticated:
            return f"user:{request.user.pk}", DEFAULT_PERSON_RATE_PER_MINUTE
        return f"ip:{self.get_ident(request)}", DEFAULT_PERSON_RATE_PER_MINUTE

    def allow_request(self, request, view) -> bool:
        ident, limit = self._identity(request)
        now = time.time()
        window = int(now // WINDOW_SECONDS)
        self.retry_after = (window + 1) * WINDOW_SECONDS - now
        key = f"throttle:{ident}:{window}"
        if LOCAL.cache_usable(now):
            try:
                return _shared_count(key) <= limit
            except Exception as exc:  # noqa: BLE001 - every cache backend fails in its own way: all mean "unreachable"
                LOCAL.cache_failed(now, exc)
        return LOCAL.incr(key) <= limit

    def wait(self) -> float:
        return max(1.0, self.retry_after)
