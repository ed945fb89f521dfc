from datetime import timedelta

from django import template
from django.utils import timezone

from governance import selectors

register = template.Library()


@register.simple_tag
def governance_overview() -> dict:
    """What a governance lead checks first: ownership gaps, who is on call, expiring training."""
    return selectors.governance_overview(at=timezone.now(), expiry_window=timedelta(days=30))
