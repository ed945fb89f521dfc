"""Verdict webhooks, signed per the Standard Webhooks specification.

Every terminal decision of an integration that has a webhook URL is POSTed there once it is
committed. Headers ``webhook-id`` (stable for the decision's verdict, so a receiver can drop
duplicates), ``webhook-timestamp`` and ``webhook-signature`` (``v1,<base64 HMAC-SHA256>`` over
``id.timestamp.body`` with the integration's ``whsec_`` secret). Each attempt is a decision event.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from decisions.lifecycle.writes import DecisionWrites
from decisions.models import BreakGlass, DecisionEvent, DecisionRequest, EventKind
from decisions.outbound.http import Attempt, post
from decisions.outbox import store

MAX_ATTEMPTS = 8
USER_AGENT = "Countersign-Webhooks/1"


def message_id(decision: DecisionRequest) -> str:
    """Stable per verdict: retries carry the same id (receivers de-duplicate on it)."""
    return f"msg_{decision.public_id.hex}_{decision.status}"


def break_glass_entry(decision: DecisionRequest) -> dict | None:
    """What the verdict says of a break-glass: None for a verdict reached by its quorum."""
    used = BreakGlass.objects.filter(decision=decision).first()
    if used is None:
        return None
    return {
        "id": str(used.public_id),
        "by": used.user.get_username(),
        "reason": used.reason,
        "at": used.at.isoformat(),
        "review_due_at": used.review_due_at.isoformat(),
    }


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
            "break_glass": break_glass_entry(decision),
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
        body.encode(),
        signed_request(secret=integration.webhook_secret, msg_id=msg_id, body=body, at=now),
    )
    with transaction.atomic():
        locked = DecisionRequest.objects.select_for_update().get(pk=decision_id)
        if result.ok and already_delivered(locked, msg_id):
            return None  # another worker got there first; its event stands
        plan = DecisionWrites(locked)
        plan.log(
            EventKind.WEBHOOK_DELIVERED if result.ok else EventKind.WEBHOOK_FAILED,
            at=timezone.now(),
            data={
                "message_id": msg_id,
                "attempt": attempt,
                "url": integration.webhook_url,
                "status_code": result.status,
                "error": result.error,
            },
        )
        plan.write(fields=["event_count", "last_event_hash", "updated_at"])
    return result


def deliver_once(decision_id: int, attempt: int, *, outbox_id: int | None = None) -> Attempt | None:
    """``deliver`` through the verdict's outbox row: a delivery of the same message that runs
    at the same time waits, then finds it done (``outbox.store.perform_once``). The last attempt
    (MAX_ATTEMPTS) closes the row, failed or not."""
    results: list[Attempt | None] = []

    def effect() -> bool:
        result = deliver(decision_id, attempt)
        results.append(result)
        return result is None or result.ok

    store.perform_once(outbox_id, effect, final=attempt >= MAX_ATTEMPTS)
    return results[0] if results else None
