"""Per-key rate limits, counted in the shared cache so every web process sees the same count."""

from __future__ import annotations

from rest_framework.throttling import SimpleRateThrottle

from decisions.models import IntegrationAPIKey

DEFAULT_PERSON_RATE = "600/min"


class PerKeyRateThrottle(SimpleRateThrottle):
    """An integration key gets its integration's ``rate_limit_per_minute``; others a default."""

    scope = "per-key"

    def get_rate(self) -> str:
        return DEFAULT_PERSON_RATE

    def allow_request(self, request, view):
        auth = request.auth
        if isinstance(auth, IntegrationAPIKey):
            self.rate = f"{auth.integration.rate_limit_per_minute}/min"
        else:
            self.rate = DEFAULT_PERSON_RATE
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_cache_key(self, request, view):
        auth = request.auth
        if isinstance(auth, IntegrationAPIKey):
            ident = f"key:{auth.prefix}"
        elif request.user and request.user.is_authenticated:
            ident = f"user:{request.user.pk}"
        else:
            ident = f"ip:{self.get_ident(request)}"
        return f"throttle:{ident}"
