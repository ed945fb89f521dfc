"""/healthz, /readyz and /metrics: for load balancers, orchestrators and Prometheus. Health and
readiness answer anyone (they reveal no secrets); metrics answer whom METRICS_TOKEN or
METRICS_ALLOWED_IPS let in, and nobody when neither is set."""

from __future__ import annotations

import hmac

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from decisions.health import metrics
from decisions.health.readiness import readiness


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """The process answers (nothing else is checked)."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    """200 when signing and escalating work now, else 503; JSON of every component either way."""
    result = readiness()
    return JsonResponse(result.as_json(), status=200 if result.ready else 503)


def metrics_allowed(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    if token:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if given and hmac.compare_digest(given.encode(), token.encode()):
            return True
    return request.META.get("REMOTE_ADDR", "") in set(settings.METRICS_ALLOWED_IPS)


@never_cache
@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    """Prometheus exposition; 404 to anyone not let in (the endpoint does not admit it exists)."""
    if not metrics_allowed(request):
        raise Http404
    body, content_type = metrics.render()
    return HttpResponse(body, content_type=content_type)
