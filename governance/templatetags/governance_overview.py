from django import template
from django.utils import timezone

from governance import selectors
from governance.gaps import GapKind, gaps_by_kind, ownership_gaps
from governance.snapshot import pinned_snapshot

register = template.Library()


@register.simple_tag
def governance_overview() -> dict:
    """What a governance lead checks first: every ownership gap by kind, and who is on call now.

    One governance snapshot serves both (pinned: a consistent view and one token query).
    """
    now = timezone.now()
    with pinned_snapshot():
        gaps = ownership_gaps(at=now)
        overview = selectors.governance_overview(at=now)
    return {
        **overview,
        "gap_groups": gaps_by_kind(gaps),
        "gap_count": len(gaps),
        "critical_count": sum(1 for g in gaps if g.kind in GapKind.CRITICAL),
    }
