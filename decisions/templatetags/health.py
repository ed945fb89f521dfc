"""The red banners of the analyst pages and the admin: escalations not running, a decision log
that no longer verifies. Reading them is one query; the first page to see a stalled sweep also
emails the governance leads (once per stall, decisions.health.heartbeat)."""

from __future__ import annotations

import logging
from typing import Any

from django import template

from decisions.health.heartbeat import escalation_stall_alert, health_banners, health_state

register = template.Library()
logger = logging.getLogger(__name__)


@register.inclusion_tag("health/banners.html")
def health_banner() -> dict[str, Any]:
    state = health_state()
    try:
        escalation_stall_alert(state=state)
    except Exception:  # a page never fails because the leads could not be told
        logger.exception("the stall alert failed")
    return {"banners": health_banners(state)}
