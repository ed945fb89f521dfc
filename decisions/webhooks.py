"""Verdict webhooks, signed per the Standard Webhooks specification.

Every terminal decision of an integration that has a webhook URL is POSTed there once it is
committed. Headers ``webhook-id`` (stable for the decision's verdict, so a receiver can drop
duplicates), ``webhook-timestamp`` and ``webhook-signature`` (``v1,<base64 HMAC-SHA256>`` over
``id.timestamp.body`` with the integration's ``whsec_`` secret). Each attempt is a decision event.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from decisions.eventlog import append_event
from decisions.models import DecisionEvent, DecisionRequest, EventKind

TIMEOUT_SECONDS = 10
MAX_ATTEMPTS = 8
USER_AGENT = "Countersign-Webhooks/1"


def message_id(decision: DecisionRequest) -> str:
    """Stable per verdict: retries carry the same id (receivers de-duplicate on it)."""
    return f"msg_{decision.public_id.hex}_{decision.status}"


def verdict_payload(decision: DecisionRequest) -> dict:
    return {
        "type": f"decision.{decision.status}",
        "timestamp": (decision.decided_at or timezone.now()).astimezone(UTC).isoformat(),
        "data": {
            "id": str(decision.public_id),
            "status": decision.status,
            "action_type": decision.action_type.slug,
            "incident_ref": decision.incident_ref,
            "final_action": decision.final_action,
            "decided_at": decision.decided_at.isoformat() if decision.decided_at else None,
            "payload_version": decision.payload_version,
        },
    }


def signed_request(*, secret: str, msg_id: str, body: str, at: datetime) -> dict[str, str]:
    """The Standard Webhooks headers for ``body``."""
    at_utc = at.astimezone(UTC)
    return {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at_utc.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, at_utc, body),
    }


@dataclass(frozen=True)
class Attempt:
    ok: bool
    status: int | None
    error: str


def post(url: str, body: str, headers: dict[str, str]) -> Attempt:
    """One POST. 2xx is delivered; anything else (or no answer) is a failed attempt."""
    request = urllib.request.Request(url, data=body.encode(), headers=headers, method="POST")  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
            return Attempt(ok=200 <= response.status < 300, status=response.status, error="")
    except urllib.error.HTTPError as exc:
        return Attempt(ok=False, status=exc.code, error=str(exc.reason)[:200])
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        return Attempt(ok=False, status=None, error=str(exc)[:200])


def already_delivered(decision: DecisionRequest, msg_id: str) -> bool:
    return DecisionEvent.objects.filter(
        decision=decision, kind=EventKind.WEBHOOK_DELIVERED, data__message_id=msg_id
    ).exists()


def deliver(decision_id: int, attempt: int) -> Attempt | None:
    """Send the verdict once (attempt number ``attempt``) and log it; None when there is
    nothing to send (no URL, not terminal, or delivered already: a duplicate task is a no-op)."""
    decision = DecisionRequest.objects.select_related("integration", "action_type").filter(pk=decision_id).first()
    if decision is None:
        return None
    integration = decision.integration
    if not integration.webhook_url or not decision.is_terminal:
        return None
    msg_id = message_id(decision)
    if already_delivered(decision, msg_id):
        return None
    body = json.dumps(verdict_payload(decision), cls=DjangoJSONEncoder, separators=(",", ":"))
    now = timezone.now()
    result = post(
        integration.webhook_url,
        body,
        signed_request(secret=integration.webhook_secret, msg_id=msg_id, body=body, at=now),
    )
    with transaction.atomic():
        locked = DecisionRequest.objects.select_for_update().get(pk=decision_id)
        if result.ok and already_delivered(locked, msg_id):
            return None  # another worker got there first; its event stands
        append_event(
            locked,
            kind=EventKind.WEBHOOK_DELIVERED if result.ok else EventKind.WEBHOOK_FAILED,
            at=timezone.now(),
            data={
                "message_id": msg_id,
                "attempt": attempt,
                "url": integration.webhook_url,
                "status_code": result.status,
                "error": result.error,
            },
        )
        locked.save(update_fields=["event_count", "last_event_hash", "updated_at"])
    return result
