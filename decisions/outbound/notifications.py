"""Tell people a decision waits for them: email (unless they turned it off) and the role's chat
webhook (Slack-compatible JSON). Runs in a Celery task after commit; a failing channel is
logged as an event and never blocks routing or escalation."""

from __future__ import annotations

import json

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from decisions.lifecycle.writes import DecisionWrites
from decisions.models import DecisionRequest, DecisionStatus, EventKind, NotificationPreference
from decisions.outbound.http import post
from decisions.outbox import store
from governance.models import DecisionRole, Level

User = get_user_model()


def decision_url(decision: DecisionRequest) -> str:
    return settings.PUBLIC_BASE_URL.rstrip("/") + reverse("decisions:detail", args=[decision.public_id])


def _summary(decision: DecisionRequest, role: DecisionRole) -> str:
    deadline = timezone.localtime(decision.deadline).strftime("%H:%M %Z") if decision.deadline else "—"
    return (
        f"[{Level(decision.severity).label} / blast radius {Level(decision.blast_radius).label}] "
        f"{decision.title} — {decision.action_type.name} needs a sign-off from {role.name} by {deadline}. "
        f"AI confidence {decision.ai_confidence}. {decision_url(decision)}"
    )


def _log(decision_id: int, kind: str, data: dict) -> None:
    with transaction.atomic():
        locked = DecisionRequest.objects.select_for_update().get(pk=decision_id)
        plan = DecisionWrites(locked)
        plan.log(kind, at=timezone.now(), data=data)
        plan.write(fields=["event_count", "last_event_hash", "updated_at"])


def email_recipients(user_ids: list[int]) -> list:
    muted = set(
        NotificationPreference.objects.filter(user_id__in=user_ids, email=False).values_list("user_id", flat=True)
    )
    return [u for u in User.objects.filter(pk__in=user_ids, is_active=True) if u.pk not in muted and u.email]


def send_email(decision: DecisionRequest, role: DecisionRole, user_ids: list[int]) -> bool:
    """Email the people (who did not turn it off). False when sending failed (logged)."""
    recipients = email_recipients(user_ids)
    if not recipients:
        return True
    subject = f"Sign-off needed: {decision.title}"[:150]
    body = (
        f"{_summary(decision, role)}\n\nRecommendation: {decision.recommendation}\n\n"
        "You get this because you are on call and certified for this role. "
        "Turn these emails off on your notification settings page."
    )
    try:
        send_mail(subject, body, None, [u.email for u in recipients])
    except Exception as exc:  # SMTP errors are many; all of them mean "not sent"
        _log(decision.pk, EventKind.NOTIFICATION_FAILED, {"channel": "email", "error": str(exc)[:200]})
        return False
    _log(decision.pk, EventKind.NOTIFIED, {"channel": "email", "users": [u.get_username() for u in recipients]})
    return True


def send_chat(decision: DecisionRequest, role: DecisionRole) -> bool:
    """Post to the role's chat webhook. False when it failed (logged)."""
    if not role.chat_webhook_url:
        return True
    body = json.dumps({"text": _summary(decision, role)}).encode()
    result = post(role.chat_webhook_url, body, {"Content-Type": "application/json"})
    if result.status is None:
        _log(decision.pk, EventKind.NOTIFICATION_FAILED, {"channel": "chat", "role": role.name, "error": result.error})
        return False
    kind = EventKind.NOTIFIED if result.ok else EventKind.NOTIFICATION_FAILED
    _log(decision.pk, kind, {"channel": "chat", "role": role.name, "status_code": result.status})
    return result.ok


def notify(channel: str, decision_id: int, step: int, role_id: int, user_ids: list[int]) -> bool:
    """Notify, on ``channel`` ("email" or "chat"), the people made eligible at ``step``.
    True when done (or nothing to do: the decision moved on); False when it should be retried."""
    decision = DecisionRequest.objects.select_related("action_type").filter(pk=decision_id).first()
    if decision is None or decision.status != DecisionStatus.PENDING or decision.current_step != step:
        return True
    role = DecisionRole.objects.get(pk=role_id)
    if channel == "email":
        return send_email(decision, role, user_ids)
    return send_chat(decision, role)


def notify_once(
    channel: str,
    decision_id: int,
    step: int,
    role_id: int,
    user_ids: list[int],
    *,
    outbox_id: int | None = None,
    final: bool = False,
) -> bool:
    """``notify`` through its outbox row: sent once however often the message is delivered
    (``outbox.store.perform_once``); ``final``: the last attempt closes the row, failed or not."""
    return store.perform_once(outbox_id, lambda: notify(channel, decision_id, step, role_id, user_ids), final=final)
