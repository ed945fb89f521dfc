"""Telling people about a break-glass, by email, from a task after commit (through the outbox):
at once the approvers it skipped and the governance leads; when its review is overdue, the
on-call certified people of the role it escalated to (the leads, past the chain's end). Each
notice is logged on the decision; a failed send is logged and retried."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from decisions.lifecycle.writes import DecisionWrites
from decisions.models import BreakGlass, DecisionRequest, EventKind
from decisions.outbound.notifications import decision_url, email_recipients
from decisions.outbox import messages, store
from governance import rbac
from governance.models import DecisionRole
from governance.selectors import certified_signers

User = get_user_model()


def _log(decision_id: int, kind: str, data: dict) -> None:
    with transaction.atomic():
        plan = DecisionWrites(DecisionRequest.objects.select_for_update().get(pk=decision_id))
        plan.log(kind, at=timezone.now(), data=data)
        plan.write(fields=["event_count", "last_event_hash", "updated_at"])


def governance_leads() -> QuerySet:
    """The active governance leads (and superusers): told of every break-glass."""
    return User.objects.filter(is_active=True).filter(Q(groups__name=rbac.GOVERNANCE_LEAD) | Q(is_superuser=True))


def _name(user) -> str:
    return user.get_full_name() or user.get_username()


def recipients(used: BreakGlass, kind: str, step: int) -> list[int]:
    """Who is told: user ids, the leads included, never the person who broke the glass."""
    leads = set(governance_leads().values_list("pk", flat=True).distinct())
    if kind == messages.BREAK_GLASS_USED:
        people = set(used.skipped_user_ids or []) | leads
    else:
        steps = (used.decision.snapshot.get("chain") or {}).get("steps", [])
        if 1 <= step <= len(steps):
            role = DecisionRole.objects.get(pk=steps[step - 1]["role_id"])
            found = certified_signers(action_type=used.decision.action_type, role=role, at=timezone.now())
            people = {s.user.pk for s in found} | leads
        else:
            people = leads
    return sorted(people - {used.user_id})


def _message(used: BreakGlass, kind: str, step: int) -> tuple[str, str]:
    decision = used.decision
    if kind == messages.BREAK_GLASS_USED:
        subject = f"Break-glass: {decision.title}"
        lead = (
            f"{_name(used.user)} broke the glass on “{decision.title}” ({decision.action_type.name}) before its "
            f"quorum ({decision.required_approvals} approvals required): it is {decision.get_status_display().lower()} "
            "and the integration executes it."
        )
    else:
        subject = f"Overdue break-glass review: {decision.title}"
        lead = (
            f"The review of {_name(used.user)}'s break-glass on “{decision.title}” was due "
            f"{used.review_due_at:%Y-%m-%d %H:%M} UTC and nobody has confirmed or condemned it (escalation {step})."
        )
    body = (
        f"{lead}\n\nReason given: {used.reason}\n\n"
        f"A different certified person must confirm or condemn it by {used.review_due_at:%Y-%m-%d %H:%M} UTC: "
        f"{decision_url(decision)}\n"
    )
    return subject[:150], body


def notify(break_glass_id: int, kind: str, step: int) -> bool:
    """Send one notice. True when done (or nothing to do: reviewed meanwhile); False to retry."""
    used = BreakGlass.objects.select_related("decision__action_type", "user").filter(pk=break_glass_id).first()
    if used is None or (kind == messages.BREAK_GLASS_OVERDUE and used.is_reviewed):
        return True
    people = email_recipients(recipients(used, kind, step))
    data = {"break_glass": str(used.public_id), "notice": kind, "review_step": step}
    if people:
        subject, body = _message(used, kind, step)
        try:
            send_mail(subject, body, None, [u.email for u in people])
        except Exception as exc:  # SMTP errors are many; all of them mean "not sent"
            _log(used.decision_id, EventKind.NOTIFICATION_FAILED, {**data, "channel": "email", "error": str(exc)[:200]})
            return False
    _log(used.decision_id, EventKind.BREAK_GLASS_NOTIFIED, {**data, "channel": "email",
                                                            "users": [u.get_username() for u in people]})  # fmt: skip
    return True


def notify_once(
    break_glass_id: int, kind: str, step: int, *, outbox_id: int | None = None, final: bool = False
) -> bool:
    """``notify`` through its outbox row: sent once however often the message is delivered."""
    return store.perform_once(outbox_id, lambda: notify(break_glass_id, kind, step), final=final)
