"""schemathesis drives every operation of /api/schema/ with generated requests (in process,
through Django's WSGI app): no server error, and every response matches the schema."""

import pytest
import schemathesis
from django.core.cache import cache
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from decisions import integrations
from tests.governance.factories import ApprovalPolicyFactory, make_owned_action_type


@pytest.fixture
def api_key(db):
    cache.clear()
    action_type, _role, _roster, _users = make_owned_action_type()
    ApprovalPolicyFactory()
    integration = integrations.integration_create(
        actor=None,
        name="Schemathesis",
        team_contact="qa@example.test",
        allowed_action_types=[action_type],
        rate_limit_per_minute=100_000,
        max_pending=100_000,
    )
    _, key = integrations.integration_key_create(integration=integration, name="fuzz")
    return key


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_never_errors_and_matches_its_schema(case, api_key):
    case.call_and_validate(
        headers={"Authorization": f"Api-Key {api_key}"},
        checks=[not_a_server_error, response_schema_conformance, status_code_conformance, content_type_conformance],
    )
