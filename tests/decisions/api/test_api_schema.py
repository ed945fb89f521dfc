"""schemathesis drives every operation of /api/schema/ with generated requests (in process,
through Django's WSGI app), as an integration (API key) and as a person (personal token): no
server error, every response matches the schema, every request the schema allows is accepted
(or refused only for who is calling, or for a decision that does not exist or is closed), and
every request it forbids is refused.

What OpenAPI 3.0 cannot say, and the schema's descriptions do, is made true of the positive
cases here: the action type names a row the integration may submit; a cursor is one the API
handed out (it is opaque; ``test_api_paging`` follows real ones); an Idempotency-Key is not
reused with another body (``test_api_idempotency``); the review period's start and end come
together, in order, within 1970..9998 and at most 3660 days apart; the time zone is one the
server's tzdata knows; an override does not change the action type; no text holds U+0000. Half
of the positive cases name a real pending decision instead of a random id, so that their bodies
reach validation and the services, not a 404."""

import random
import uuid
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
import schemathesis
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.utils import timezone
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    response_schema_conformance,
    status_code_conformance,
)

from decisions import integrations
from decisions.api import throttling
from decisions.api.review import TIME_ZONES
from decisions.api.serializers import DecisionSubmitSerializer
from decisions.lifecycle import intake
from decisions.models import REASONS_BY_VERDICT, ReviewSchedule
from decisions.review.cycle import freeze_report
from decisions.review.figures import EARLIEST_DAY, LATEST_DAY, MAX_PERIOD_DAYS, Period
from governance import rbac
from tests.decisions.conftest import payload
from tests.decisions.scenarios import approve
from tests.governance.factories import ApprovalPolicyFactory, make_staffed_action_type

CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    content_type_conformance,
    positive_data_acceptance,
    negative_data_rejection,
]


@dataclass
class World:
    authorization: str
    action_type_slug: str
    pending_ids: list[str]


def _submit(integration, action_type):
    data = payload(action_type)
    serializer = DecisionSubmitSerializer(data=data)
    serializer.is_valid(raise_exception=True)
    decision, _ = intake.decision_submit(
        integration=integration,
        actor=integration.service_account,
        data=serializer.to_service_data(),
        request_fingerprint=intake.fingerprint(data),
        idempotency_key="",
    )
    return decision


def make_world(kind: str, monkeypatch) -> World:
    """One auth kind's credentials, and rows to read: pending decisions (the person holding the
    token is their on-call certified signer and a governance lead), a closed one, a frozen report."""
    cache.clear()
    monkeypatch.setattr(throttling, "DEFAULT_PERSON_RATE_PER_MINUTE", 100_000)
    action_type, _role, (person, colleague) = make_staffed_action_type(signers=2)
    person.groups.add(Group.objects.get(name=rbac.GOVERNANCE_LEAD))
    ApprovalPolicyFactory(action_types=[action_type], required_approvals=2)
    integration = integrations.integration_create(
        actor=None,
        name="Schemathesis",
        team_contact="qa@example.test",
        allowed_action_types=[action_type],
        rate_limit_per_minute=100_000,
        max_pending=100_000,
    )
    closed = _submit(integration, action_type)
    approve(closed, person)
    approve(closed, colleague)
    pending = [_submit(integration, action_type) for _ in range(3)]
    freeze_report(schedule=ReviewSchedule.objects.create(name="Schemathesis"), period=Period.last_days(7))
    if kind == "api-key":
        _, key = integrations.integration_key_create(integration=integration, name="fuzz")
        authorization = f"Api-Key {key}"
    else:
        _, token = integrations.personal_token_create(
            user=person, name="fuzz", expires_at=timezone.now() + timedelta(days=1)
        )
        authorization = f"Bearer {token}"
    return World(
        authorization=authorization,
        action_type_slug=action_type.slug,
        pending_ids=[str(d.public_id) for d in pending],
    )


def _period_in_order(query: dict) -> None:
    """start and end together, in order, in range and at most MAX_PERIOD_DAYS apart (no days)."""
    days = [date.fromisoformat(query[name]) for name in ("start", "end") if name in query]
    start = min(max(min(days), EARLIEST_DAY), LATEST_DAY)
    end = min(max(max(days), start), start + timedelta(days=MAX_PERIOD_DAYS), LATEST_DAY)
    query.pop("days", None)
    query.update(start=start.isoformat(), end=end.isoformat())


def obey_what_openapi_cannot_say(case, world: World) -> None:
    if "public_id" in (case.path_parameters or {}) and random.random() < 0.5:  # noqa: S311
        case.path_parameters["public_id"] = random.choice(world.pending_ids)  # noqa: S311
    query = case.query if case.query is not None else {}
    query.pop("cursor", None)
    if "wait" in query:  # a long-poll really waits (test_api_longpoll): one second, not up to sixty
        query["wait"] = 1
    if "start" in query or "end" in query:
        _period_in_order(query)
    if "tz" in query and query["tz"] not in TIME_ZONES:
        query["tz"] = random.choice(sorted(TIME_ZONES))  # noqa: S311
    headers = case.headers if case.headers is not None else {}
    if "Idempotency-Key" in headers:  # one key per body: a reuse with another body is a 422 (test_api_idempotency)
        headers["Idempotency-Key"] = f"{headers['Idempotency-Key'][:200]}-{uuid.uuid4().hex}"
    body = case.body if isinstance(case.body, dict) else {}
    if case.method == "POST" and case.path == "/api/v1/decisions/":
        body["action_type"] = world.action_type_slug
    if isinstance(body.get("override_action"), dict):
        body["override_action"].pop("action_type", None)
        if not body["override_action"]:
            body["override_action"] = {"target": {"host": "laptop-042"}}


def call_and_check(case, world: World) -> None:
    if case.meta is not None and case.meta.generation.mode.is_positive:
        obey_what_openapi_cannot_say(case, world)
    case.call_and_validate(headers={"Authorization": world.authorization}, checks=CHECKS)


@pytest.fixture
def integration_world(db, monkeypatch) -> World:
    return make_world("api-key", monkeypatch)


@pytest.fixture
def person_world(db, monkeypatch) -> World:
    return make_world("personal-token", monkeypatch)


@pytest.fixture
def truthful_schema(api_schema):
    """The schema, generating no U+0000: OpenAPI 3.0 cannot say "no key or text in this free-form
    object holds U+0000" (the schema's descriptions do; test_api_validation sends it and gets 400s),
    and a text field says it with a pattern."""
    api_schema.config.generation.update(allow_x00=False)
    return api_schema


schema = schemathesis.pytest.from_fixture("truthful_schema")
FUZZ = settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))


@schema.parametrize()
@FUZZ
def test_the_api_does_what_its_schema_says_to_an_integration(case, integration_world):
    call_and_check(case, integration_world)


@schema.parametrize()
@FUZZ
def test_the_api_does_what_its_schema_says_to_a_person(case, person_world):
    call_and_check(case, person_world)


# --- what the schema says, read directly ----------------------------------------------------


@pytest.fixture
def openapi(client) -> dict:
    return client.get("/api/schema/?format=json").json()


def component(openapi: dict, name: str) -> dict:
    return openapi["components"]["schemas"][name]


@pytest.mark.django_db
def test_every_request_body_refuses_other_keys(openapi):
    requests = {name: c for name, c in openapi["components"]["schemas"].items() if name.endswith("Request")}

    assert {name for name, c in requests.items() if c.get("additionalProperties") is not False} == {
        "SignOffRequestRequest"  # a oneOf of three shapes, each of which refuses other keys
    }


@pytest.mark.django_db
def test_each_verdict_lists_the_reason_codes_that_fit_it(openapi):
    shapes = {v: component(openapi, f"{v.title()}SignOffRequest") for v in REASONS_BY_VERDICT}

    assert {v: set(s["properties"]["reason_code"]["enum"]) for v, s in shapes.items()} == {
        v: set(codes) for v, codes in REASONS_BY_VERDICT.items()
    }
    assert "override_action" in shapes["override"]["required"]


@pytest.mark.django_db
def test_a_correction_is_an_object_of_objects_none_of_them_null(openapi):
    patch = component(openapi, "PatchedDecisionUpdateRequest")

    assert patch["minProperties"] == 1
    for name in ("target", "evidence"):
        assert patch["properties"][name]["type"] == "object"
        assert not patch["properties"][name].get("nullable")


@pytest.mark.django_db
def test_page_size_bounds_are_in_the_schema(openapi):
    def page_size(path: str) -> dict:
        (param,) = (p for p in openapi["paths"][path]["get"]["parameters"] if p["name"] == "page_size")
        return param["schema"]

    assert page_size("/api/v1/decisions/") == {"type": "integer", "minimum": 1, "maximum": 200}
    assert page_size("/api/v1/decisions/{public_id}/events/")["maximum"] == 500
    assert page_size("/api/v1/decisions/{public_id}/signoffs/")["maximum"] == 200


@pytest.mark.django_db
def test_the_log_and_the_sign_offs_are_documented_as_pages(openapi):
    for path in ("/api/v1/decisions/{public_id}/events/", "/api/v1/decisions/{public_id}/signoffs/"):
        ref = openapi["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
        assert ref.split("/")[-1].startswith("Paginated")


@pytest.mark.django_db
def test_the_long_poll_wait_is_in_the_schema(openapi):
    operation = openapi["paths"]["/api/v1/decisions/{public_id}/"]["get"]
    (param,) = (p for p in operation["parameters"] if p["name"] == "wait")

    assert param["in"] == "query"
    assert param["schema"] == {"type": "integer", "minimum": 1, "maximum": 60}
    assert "400" in operation["responses"]
