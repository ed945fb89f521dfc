"""Per-key rate limits, counted in the shared cache so every web process sees the same count.

A fixed one-minute window per key, counted with the cache's atomic increment: one round trip
per request (two on the first of a window), and no lost updates between processes, unlike a
read-modify-write of a request history.
"""

from __future__ import annotations

import time

from django.core.cache import cache
from rest_framework.throttling import BaseThrottle

from decisions.models import IntegrationAPIKey

DEFAULT_PERSON_RATE_PER_MINUTE = 600
WINDOW_SECONDS = 60


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
        try:
            count = cache.incr(key)
        except ValueError:
            # First request of the window; add() loses to a concurrent add() without harm.
            count = 1 if cache.add(key, 1, timeout=WINDOW_SECONDS * 2) else cache.incr(key)
        return count <= limit

    def wait(self) -> float:
        return max(1.0, self.retry_after)
