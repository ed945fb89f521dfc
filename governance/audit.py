"""Audit plumbing: who changed what, and why.

django-auditlog records each change to a governance model. This module adds the *reason*
(and an optional ticket reference) a governance lead gives for a change, and lets services,
commands and tasks set the actor explicitly.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from auditlog.context import auditlog_value, set_extra_data

if TYPE_CHECKING:
    from django.contrib.auth.models import User

_reason: ContextVar[dict[str, str] | None] = ContextVar("countersign_change_reason", default=None)


class AuditReasonMixin:
    """Adds the current change reason to every audit entry written for the model."""

    def get_additional_data(self) -> dict[str, Any] | None:
        reason = _reason.get()
        return dict(reason) if reason else None


def mask_url(value: str) -> str:
    """An incoming-webhook URL as the audit log keeps it: scheme and host, never the path or
    query, which carry the token (auditlog's default mask would keep half of it)."""
    parts = urlsplit(value)
    if not parts.scheme or not parts.netloc:
        return "" if value in {"", "None"} else "(redacted)"
    return f"{parts.scheme}://{parts.hostname}/… (redacted)"


def attach_reason(sender: type, instance: Any, **kwargs: Any) -> None:
    """pre_save of auditlog's LogEntry: the reason of the change in progress goes on every entry,
    also of models that cannot carry ``AuditReasonMixin`` (Django's User and its groups)."""
    reason = _reason.get()
    if reason:
        instance.additional_data = {**reason, **(instance.additional_data or {})}


@contextlib.contextmanager
def change_reason(reason: str, ticket_ref: str = "") -> Iterator[None]:
    """Within the block, every audit entry carries ``reason`` (and ``ticket_ref`` if given)."""
    data = {"reason": reason}
    if ticket_ref:
        data["ticket_ref"] = ticket_ref
    token = _reason.set(data)
    try:
        yield
    finally:
        _reason.reset(token)


@contextlib.contextmanager
def acting_as(actor: User | None, remote_addr: str | None = None) -> Iterator[None]:
    """Within the block, audit entries name ``actor`` (a user, or None for the system).

    Unlike auditlog's own context manager this restores any outer actor on exit (the
    request middleware's, for example), so nested use is safe.
    """
    outer = auditlog_value.get(None)
    try:
        with set_extra_data(context_data={"actor": actor, "remote_addr": remote_addr}):
            yield
    finally:
        if outer is not None:
            auditlog_value.set(outer)
