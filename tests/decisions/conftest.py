"""Scenarios for the decisions app: staffed action types, integrations with keys, API clients,
and decisions submitted straight through the service (fast setup for API tests)."""

from dataclasses import dataclass, field
from typing import Any

import pytest
import schemathesis
from django.apps import apps as django_apps
from django.contrib.auth.models import Group
from django.core import signals
from django.core.cache import cache
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from rest_framework.test import APIClient

from decisions import integrations
from decisions.api.serializers import DecisionSubmitSerializer
from decisions.lifecycle import intake
from governance import rbac
from tests.governance.factories import (
    ActionTypeFactory,
    ApprovalPolicyFactory,
    DecisionRoleFactory,
    OwnershipAssignmentFactory,
    make_signers,
)


@pytest.fixture
def api_schema(db):
    """The OpenAPI schema for schemathesis, called in process through the WSGI app. As Django's
    test client does, a request must not close the test's (transactional) database connection."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture(autouse=True)
def _no_static_files_scan(settings):
    """WhiteNoise walks STATIC_ROOT (hundreds of files) whenever a test client builds its middleware,
    some 0.1 s per test; in autorefresh mode it looks a file up only when one is requested."""
    settings.WHITENOISE_AUTOREFRESH = True


@dataclass
class Staffed:
    """An owned action type and the certified people on call for its owner role right now."""

    action_type: Any
    role: Any
    signers: list
    policy: Any = None


@dataclass
class Caller:
    """An integration, one of its API keys (plain text) and a client that sends that key."""

    integration: Any
    key_row: Any
    key: str
    client: APIClient = field(repr=False)


@pytest.fixture
def make_staffed():
    """``make_staffed(people=2, required_approvals=2)``: every person has their own single-member
    roster for the owner role, so all of them are on call at any instant. ``policy=False`` leaves
    no approval policy, so the fail-safe default applies."""

    def make(*, people=1, required_approvals=1, policy=True, **action_kwargs) -> Staffed:
        role = DecisionRoleFactory()
        users = make_signers(role, people)
        action_type = ActionTypeFactory(**action_kwargs)
        OwnershipAssignmentFactory(action_type=action_type, owner_role=role)
        made = (
            ApprovalPolicyFactory(action_types=[action_type], required_approvals=required_approvals) if policy else None
        )
        return Staffed(action_type=action_type, role=role, signers=users, policy=made)

    return make


@pytest.fixture
def staffed(make_staffed) -> Staffed:
    """One on-call certified signer, a one-approval policy."""
    return make_staffed()


@pytest.fixture
def signer(staffed):
    return staffed.signers[0]


def client_for_key(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    return client


@pytest.fixture
def make_caller():
    """``make_caller(action_types=[...], name=..., rate_limit_per_minute=..., max_pending=...)``."""
    made = []

    def make(*, action_types, name=None, **kwargs) -> Caller:
        if not Group.objects.filter(name=rbac.INTEGRATION).exists():
            rbac.ensure_groups(django_apps)  # a transactional test flushed the migration's rows
        integration = integrations.integration_create(
            actor=None,
            name=name or f"SOAR {len(made) + 1}",
            team_contact="soc-automation@example.test",
            allowed_action_types=list(action_types),
            **kwargs,
        )
        row, key = integrations.integration_key_create(integration=integration, name="primary")
        made.append(integration)
        return Caller(integration=integration, key_row=row, key=key, client=client_for_key(key))

    return make


@pytest.fixture
def caller(make_caller, staffed) -> Caller:
    """An integration allowed to submit ``staffed.action_type``, with a fresh throttle count."""
    cache.clear()
    return make_caller(action_types=[staffed.action_type])


@pytest.fixture
def integration(caller):
    return caller.integration


@pytest.fixture
def api_client(caller) -> APIClient:
    return caller.client


@pytest.fixture
def person_client():
    """``person_client(user)``: an API client authenticated as that person (no token)."""
    cache.clear()

    def make(user) -> APIClient:
        client = APIClient()
        client.force_authenticate(user)
        return client

    return make


def payload(action_type, /, **overrides) -> dict:
    """A valid submission body for ``action_type``; ``overrides`` replace or (with None) drop fields."""
    body = {
        "action_type": action_type.slug,
        "title": "Isolate laptop-042",
        "recommendation": "Isolate the host from the network: beaconing to a known C2 domain.",
        "target": {"host": "laptop-042", "edr_id": "a1b2c3"},
        "ai_confidence": 0.87,
        "blast_radius": "medium",
        "severity": "high",
        "incident_ref": "INC-1042",
        "evidence": {"alerts": ["EDR-77812"], "beacon_interval_s": 60},
        "model": {"name": "triage-agent", "version": "2026.11"},
    }
    for name, value in overrides.items():
        if value is None:
            body.pop(name, None)
        else:
            body[name] = value
    return body


@pytest.fixture
def make_body():
    """``make_body(action_type, **overrides)``: see ``payload``."""
    return payload


@pytest.fixture
def body(staffed) -> dict:
    """A valid submission body for ``staffed.action_type``."""
    return payload(staffed.action_type)


@pytest.fixture
def make_decision():
    """``make_decision(integration, action_type, actor=None, key="", **overrides)``: submitted
    through ``intake.decision_submit`` as the API would, without an HTTP round trip."""

    def make(integration, action_type, /, *, actor=None, key="", **overrides):
        data = payload(action_type, **overrides)
        serializer = DecisionSubmitSerializer(data=data)
        serializer.is_valid(raise_exception=True)
        decision, _created = intake.decision_submit(
            integration=integration,
            actor=actor or integration.service_account,
            data=serializer.to_service_data(),
            request_fingerprint=intake.fingerprint(data),
            idempotency_key=key,
        )
        return decision

    return make


@pytest.fixture
def decision(make_decision, caller, staffed):
    """A pending decision of ``caller``'s integration, routed to ``signer``."""
    return make_decision(caller.integration, staffed.action_type)


@pytest.fixture
def key_client():
    """``key_client(plain_key)``: an API client sending ``Authorization: Api-Key <plain_key>``."""
    return client_for_key
