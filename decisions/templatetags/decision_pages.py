"""Display helpers of the analyst pages. Everything that came from an integration or an AI goes
through Django's autoescaping: nothing here marks such text safe (format_html escapes it)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from django import template
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.timesince import timeuntil

from governance.models import Level

register = template.Library()


def _local(value: datetime) -> str:
    """The display zone and the project's DATETIME_FORMAT (portal/formats), as the admin shows it."""
    return date_format(timezone.localtime(value), "DATETIME_FORMAT")


def _utc(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


@register.simple_tag
def when(value: datetime | None, empty: str = "—"):
    """An instant in the display time zone (with its name); UTC in the tooltip and ``datetime``."""
    if value is None:
        return empty
    return format_html(
        '<time datetime="{}" title="{}">{}</time>', value.astimezone(UTC).isoformat(), _utc(value), _local(value)
    )


@register.simple_tag
def deadline(value: datetime | None, now: datetime | None = None):
    """The deadline as a time, plus how long is left: a live countdown once the script runs."""
    if value is None:
        return "—"
    now = now or timezone.now()
    left = f"in {timeuntil(value, now)}" if value > now else "overdue"
    return format_html(
        '{} <span class="countdown{}" data-deadline="{}">{}</span>',
        when(value),
        "" if value > now else " overdue",
        value.astimezone(UTC).isoformat(),
        left,
    )


@register.simple_tag
def level_badge(value: int, what: str):
    """``Severity: High`` as a badge; the word carries the meaning, the colour only repeats it."""
    try:
        level = Level(value)
    except ValueError:
        return format_html('<span class="badge">{}: {}</span>', what, value)
    return format_html('<span class="badge level-{}">{}: {}</span>', level.name.lower(), what, level.label)


@register.filter
def pretty_json(value: Any) -> str:
    """Indented JSON text. Returned unsafe on purpose: the template escapes it."""
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str)


@register.filter
def percent(value) -> str:
    try:
        return f"{float(value) * 100:.0f} %"
    except (TypeError, ValueError):
        return "—"


AUTH_METHODS = {"sso": "SSO", "password": "password", "passkey": "passkey", "api_token": "API token"}


@register.filter
def auth_method(context: dict[str, Any] | None) -> str:
    """A sign-off's authentication context in words: "SSO (idp), MFA"."""
    if not context:
        return "not recorded"
    method = AUTH_METHODS.get(context.get("method", ""), "unknown")
    if context.get("method") == "sso":
        method = f"{method} ({context.get('provider', '?')})"
    return f"{method}, {'MFA' if context.get('mfa') else 'no MFA'}"


@register.filter
def auth_time(context: dict[str, Any] | None) -> datetime | None:
    """When the signer last authenticated before signing (None if unknown)."""
    value = (context or {}).get("authenticated_at")
    return datetime.fromisoformat(value) if value else None
