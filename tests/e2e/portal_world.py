"""What the client and MCP tests find in a live portal: an action type with one on-call certified
person (who has a personal token), a one-approval policy, and an integration (with an API key)
whose verdict webhooks go to a receiver."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.apps import apps as django_apps
from django.core.cache import cache
from django.utils import timezone

from decisions import integrations
from governance import rbac
from tests.governance.factories import ApprovalPolicyFactory, make_staffed_action_type
from tests.webhook_receiver import Receiver


@dataclass
class World:
    url: str
    key: str
    token: str
    action_type: str
    secret: str
    receiver: Receiver


def make_world(*, url: str, receiver: Receiver) -> World:
    cache.clear()
    rbac.ensure_groups(django_apps)  # a transactional test's flush removed the migration's groups
    action_type, _role, (person,) = make_staffed_action_type(signers=1)
    ApprovalPolicyFactory(action_types=[action_type], required_approvals=1)
    integration = integrations.integration_create(
        actor=None,
        name="Agent",
        team_contact="agents@example.test",
        allowed_action_types=[action_type],
        webhook_url=receiver.url,
    )
    key = integrations.integration_key_create(integration=integration, name="agent").plain
    token = integrations.personal_token_create(
        user=person, name="analyst", expires_at=timezone.now() + timedelta(days=1)
    ).plain
    return World(url, key, token, action_type.slug, integration.webhook_secret, receiver)


def recommendation(world: World, **overrides) -> dict:
    """A submission body for the world's action type."""
    return {
        "action_type": world.action_type,
        "title": "Isolate laptop-042",
        "recommendation": "Isolate the host from the network: beaconing to a known C2 domain.",
        "target": {"host": "laptop-042"},
        "ai_confidence": 0.87,
        "blast_radius": "medium",
        "severity": "high",
        "model": {"name": "triage-agent", "version": "2026.11"},
        "incident_ref": "INC-1042",
        **overrides,
    }
