"""The demo SOAR integration, shared by ``seed_demo`` and ``seed_history``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from decisions import integrations
from decisions.models import Integration
from governance.models import ActionType

if TYPE_CHECKING:
    from django.contrib.auth.models import User

DEMO_INTEGRATION = "SOAR playbooks (demo)"


def demo_integration(*, actor: User | None, action_types: list[ActionType]) -> Integration:
    """The demo integration, created (allowed to submit ``action_types``) when missing."""
    integration = Integration.objects.filter(name=DEMO_INTEGRATION).first()
    if integration is None:
        integration = integrations.integration_create(
            actor=actor,
            name=DEMO_INTEGRATION,
            team_contact="soc-automation@soc.example",
            allowed_action_types=list(action_types),
            webhook_url="",
        )
    return integration
