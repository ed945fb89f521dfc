"""Which task, with which arguments, each side effect of a decision or a review is.

Only ids and plain values go into a message: the task loads the rows it needs when it runs, so a
message published late (after a broker outage) acts on the state of that moment.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.conf import settings

from decisions import queueing

if TYPE_CHECKING:
    from decisions.models import DecisionRequest
    from governance.models import DecisionRole


@dataclass(frozen=True)
class Message:
    """One task to publish after commit. ``eta``: not before then (a deadline). ``perform_once``:
    the task receives the outbox row's id and does its effect once (``store.perform_once``)."""

    task_name: str
    args: tuple[Any, ...]
    eta: datetime | None = None
    perform_once: bool = False


def deadline(decision: DecisionRequest) -> list[Message]:
    """The fast-path task for ``decision``'s current deadline (none when ESCALATION_DEADLINE_TASKS
    is off: the sweep alone escalates)."""
    if not settings.ESCALATION_DEADLINE_TASKS or decision.deadline is None:
        return []
    args = (decision.pk, decision.current_step, decision.deadline_token)
    return [Message(queueing.ESCALATE_WHEN_DUE, args, eta=decision.deadline)]


def eligible(decision: DecisionRequest, step: int, role: DecisionRole, users: Iterable[Any]) -> list[Message]:
    """Tell ``users`` (eligible in ``role`` at ``step``) on the channels that apply: email for
    those with an address (their opt-out is checked when sending), the role's chat webhook when it
    has one. No channel, no message."""
    users = list(users)
    found: list[Message] = []
    user_ids = sorted({u.pk for u in users if u.email})
    if user_ids:
        found.append(
            Message(queueing.NOTIFY_ELIGIBLE, ("email", decision.pk, step, role.pk, user_ids), perform_once=True)
        )
    if role.chat_webhook_url:
        everyone = sorted({u.pk for u in users})
        found.append(
            Message(queueing.NOTIFY_ELIGIBLE, ("chat", decision.pk, step, role.pk, everyone), perform_once=True)
        )
    return found


def verdict(decision: DecisionRequest) -> list[Message]:
    """The verdict webhook, when the integration has a URL."""
    if not decision.integration.webhook_url:
        return []
    return [Message(queueing.DELIVER_VERDICT_WEBHOOK, (decision.pk,), perform_once=True)]


BREAK_GLASS_USED = "used"
BREAK_GLASS_OVERDUE = "overdue"


def break_glass_notice(break_glass_id: int, kind: str, step: int) -> list[Message]:
    """Tell people about a break-glass: ``used`` (the skipped approvers and the leads, at once) or
    ``overdue`` (its review escalated to ``step``: that role's on-call certified people, the
    leads past the chain's end). Sent once per (use, kind, step)."""
    return [Message(queueing.NOTIFY_BREAK_GLASS, (break_glass_id, kind, step), perform_once=True)]


def review_announcement(report_id: int) -> Message:
    """Email the governance leads that a frozen review waits (the task itself announces once)."""
    return Message(queueing.NOTIFY_REVIEW_LEADS, (report_id,))


def checkpoint_publication(checkpoint_id: int) -> Message:
    """Deliver a signed checkpoint to the witnesses beyond the file."""
    return Message(queueing.PUBLISH_CHECKPOINT, (checkpoint_id,))
