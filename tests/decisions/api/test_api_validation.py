"""Every bad input to the decisions API is a 4xx with a JSON body (field messages where a field
is at fault), never a 500, and never a stored decision."""

import json

import pytest

from decisions.models import DecisionRequest
from governance import rbac
from tests.governance.factories import make_user_in_group

pytestmark = pytest.mark.django_db

LIST = "/api/v1/decisions/"


def submit(client, body, **headers):
    return client.post(LIST, body, format="json", headers=headers)


def post_raw(client, raw: str | bytes, content_type="application/json"):
    return client.post(LIST, raw, content_type=content_type)


# --- Field values ---------------------------------------------------------------------------


def test_unknown_action_type_is_a_400_on_action_type(api_client, make_body, staffed):
    response = submit(api_client, make_body(staffed.action_type, action_type="launch-missiles"))

    assert response.status_code == 400
    assert response.json()["errors"]["action_type"] == ["Unknown action type 'launch-missiles'."]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        pytest.param("ai_confidence", "very sure", id="confidence-word"),
        pytest.param("ai_confidence", "0.87", id="confidence-numeric-string"),
        pytest.param("ai_confidence", True, id="confidence-boolean"),
        pytest.param("target", ["laptop-042"], id="target-list"),
        pytest.param("target", "laptop-042", id="target-string"),
        pytest.param("evidence", ["EDR-77812"], id="evidence-list"),
        pytest.param("evidence", "EDR-77812", id="evidence-string"),
        pytest.param("model", "triage-agent", id="model-string"),
        pytest.param("chain", {"agent": "a"}, id="chain-object"),
        pytest.param("title", {"text": "Isolate"}, id="title-object"),
        pytest.param("affects_regulated_data", "perhaps", id="flag-word"),
    ],
)
def test_value_of_the_wrong_type_is_a_400_on_that_field(api_client, make_body, staffed, field, value):
    body = make_body(staffed.action_type)
    body[field] = value

    response = submit(api_client, body)

    assert response.status_code == 400
    assert list(response.json()["errors"]) == [field]


@pytest.mark.parametrize("confidence", [-0.001, 1.001, 1e308])
def test_confidence_outside_zero_to_one_is_a_400(api_client, make_body, staffed, confidence):
    response = submit(api_client, make_body(staffed.action_type, ai_confidence=confidence))

    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["ai_confidence"]


@pytest.mark.parametrize("confidence", [0, 1])
def test_confidence_at_the_bounds_is_accepted(api_client, make_body, staffed, confidence):
    response = submit(api_client, make_body(staffed.action_type, ai_confidence=confidence))

    assert response.status_code == 201


REQUIRED = ["action_type", "title", "recommendation", "target", "ai_confidence", "blast_radius", "severity", "model"]


def test_missing_required_field_is_a_400_on_that_field(api_client, make_body, staffed):
    response = submit(api_client, make_body(staffed.action_type, model=None))

    assert response.status_code == 400
    assert response.json()["errors"] == {"model": ["This field is required."]}


def test_every_missing_required_field_is_reported_at_once(api_client):
    response = submit(api_client, {})

    assert response.json()["errors"] == {field: ["This field is required."] for field in REQUIRED}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("blast_radius", "huge"),
        ("blast_radius", "High"),
        ("severity", "sev1"),
    ],
)
def test_unknown_level_name_is_a_400_on_that_field(api_client, make_body, staffed, field, value):
    response = submit(api_client, make_body(staffed.action_type, **{field: value}))

    assert response.status_code == 400
    assert list(response.json()["errors"]) == [field]


def test_too_many_chain_steps_is_a_400_on_chain(api_client, make_body, staffed):
    steps = [{"agent": f"agent-{i}", "action": "enrich"} for i in range(21)]

    response = submit(api_client, make_body(staffed.action_type, chain=steps))

    assert response.status_code == 400
    assert response.json()["errors"] == {"chain": ["A chain has at most 20 steps."]}


def test_twenty_chain_steps_are_accepted(api_client, make_body, staffed):
    steps = [{"agent": f"agent-{i}", "action": "enrich"} for i in range(20)]

    response = submit(api_client, make_body(staffed.action_type, chain=steps))

    assert response.status_code == 201


def test_chain_step_without_an_action_is_a_400_naming_the_step(api_client, make_body, staffed):
    response = submit(api_client, make_body(staffed.action_type, chain=[{"agent": "enricher"}]))

    assert response.json()["errors"] == {"chain": {"0": {"action": ["This field is required."]}}}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        pytest.param("evidence", {"note": "a\u0000b"}, id="evidence-value"),
        pytest.param("evidence", {"a\u0000b": 1}, id="evidence-key"),
        pytest.param("target", {"host": ["laptop\u0000"]}, id="target-nested"),
        pytest.param("title", "Isolate\u0000", id="title"),
        pytest.param("action_type", "isolate\u0000", id="action-type"),
    ],
)
def test_null_character_is_a_400_not_a_database_error(api_client, make_body, staffed, field, value):
    response = submit(api_client, make_body(staffed.action_type, **{field: value}))

    assert response.status_code == 400
    assert list(response.json()["errors"]) == [field]


def test_rejected_submission_stores_nothing(api_client, make_body, staffed):
    submit(api_client, make_body(staffed.action_type, ai_confidence=7))

    assert not DecisionRequest.objects.exists()


def test_error_body_has_detail_code_and_errors(api_client, make_body, staffed):
    response = submit(api_client, make_body(staffed.action_type, severity="sev1"))

    assert response.json() == {
        "detail": "Invalid input.",
        "code": "invalid",
        "errors": {"severity": ['"sev1" is not a valid choice.']},
    }


# --- Sizes ----------------------------------------------------------------------------------


def test_evidence_over_the_limit_is_a_413(api_client, make_body, staffed, settings):
    settings.EVIDENCE_MAX_BYTES = 100

    response = submit(api_client, make_body(staffed.action_type, evidence={"log": "x" * 100}))

    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"


def test_evidence_within_the_limit_is_accepted(api_client, make_body, staffed, settings):
    settings.EVIDENCE_MAX_BYTES = 100

    response = submit(api_client, make_body(staffed.action_type, evidence={"log": "x" * 50}))

    assert response.status_code == 201


def test_target_over_16_kib_is_a_413(api_client, make_body, staffed):
    response = submit(api_client, make_body(staffed.action_type, target={"hosts": "h" * 16 * 1024}))

    assert response.status_code == 413


def test_body_over_the_limit_is_a_413(api_client, body, settings):
    settings.API_MAX_BODY_BYTES = 500

    response = submit(api_client, {**body, "recommendation": "r" * 600})

    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"


# --- Encoding -------------------------------------------------------------------------------


def test_malformed_json_is_a_400(api_client):
    response = post_raw(api_client, '{"action_type": "isolate-host",')

    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


@pytest.mark.parametrize("depth", [65, 100_000])
def test_deeply_nested_json_is_a_400_not_a_recursion_error(api_client, depth):
    response = post_raw(api_client, '{"a":' * depth + "1" + "}" * depth)

    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


def test_nesting_of_64_levels_is_parsed(api_client, make_body, staffed):
    nested: dict = {}
    for _ in range(61):  # body -> evidence -> 61 more -> leaf: 64 levels
        nested = {"n": nested}

    response = submit(api_client, make_body(staffed.action_type, evidence=nested))

    assert response.status_code == 201


def test_nan_literal_is_a_400(api_client, body):
    raw = json.dumps(body).replace("0.87", "NaN")

    response = post_raw(api_client, raw)

    assert response.status_code == 400


def test_json_array_body_is_a_400(api_client, body):
    response = submit(api_client, [body])

    assert response.status_code == 400
    assert "non_field_errors" in response.json()["errors"]


def test_form_encoded_body_is_a_415(api_client):
    response = post_raw(api_client, "title=Isolate", content_type="application/x-www-form-urlencoded")

    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"


def test_json_sent_as_text_plain_is_a_415(api_client, body):
    response = post_raw(api_client, json.dumps(body), content_type="text/plain")

    assert response.status_code == 415


# --- Rules ----------------------------------------------------------------------------------


def test_action_type_the_integration_may_not_submit_is_a_403(api_client, make_body, make_staffed):
    other = make_staffed()

    response = submit(api_client, make_body(other.action_type))

    assert response.status_code == 403
    assert response.json()["code"] == "not_allowed"
    assert list(response.json()["errors"]) == ["action_type"]


def test_idempotency_key_over_255_characters_is_a_400(api_client, body):
    response = submit(api_client, body, **{"Idempotency-Key": "k" * 256})

    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["Idempotency-Key"]


def test_idempotency_key_of_255_characters_is_accepted(api_client, body):
    response = submit(api_client, body, **{"Idempotency-Key": "k" * 255})

    assert response.status_code == 201


# --- List filters ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "field"),
    [
        pytest.param("status=waiting", "status", id="unknown-status"),
        pytest.param("created_after=2026-11-26T09:00:00", "created_after", id="naive-after"),
        pytest.param("created_before=2026-11-26", "created_before", id="date-only-before"),
        pytest.param("created_after=yesterday", "created_after", id="word"),
        pytest.param("created_after=2026-13-45T00:00:00Z", "created_after", id="impossible-date"),
        pytest.param("created_before=2026-02-30T10:00:00%2B01:00", "created_before", id="february-30"),
        pytest.param("action_type=isolate%00host", "action_type", id="null-character"),
        pytest.param("cursor=not-a-cursor", "cursor", id="garbage-cursor"),
        pytest.param("status=", "status", id="empty-status"),
        pytest.param("action_type=", "action_type", id="empty-action-type"),
        pytest.param("created_before=", "created_before", id="empty-date-time"),
    ],
)
def test_bad_list_filter_is_a_400_on_that_parameter(api_client, query, field):
    response = api_client.get(f"{LIST}?{query}")

    assert response.status_code == 400
    assert list(response.json()["errors"]) == [field]


def test_decision_id_that_is_not_a_uuid_is_a_404(api_client):
    response = api_client.get(f"{LIST}{'-' * 36}/")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


@pytest.mark.parametrize("action", ["signoffs", "cancel", "outcome"])
def test_body_over_the_limit_is_a_413_on_every_write_endpoint(api_client, decision, settings, action):
    settings.API_MAX_BODY_BYTES = 500

    response = api_client.post(f"{LIST}{decision.public_id}/{action}/", {"reason": "r" * 600}, format="json")

    assert response.status_code == 413


def test_idempotency_key_with_a_null_character_is_a_400(api_client, body):
    response = submit(api_client, body, **{"Idempotency-Key": "run\x001"})

    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["Idempotency-Key"]


@pytest.mark.parametrize("bound", ["0001-01-01T00:00:00%2B11:01", "9999-12-31T23:59:59-11:00"])
def test_a_bound_beyond_the_utc_calendar_is_the_earliest_or_latest_instant(api_client, decision, bound):
    response = api_client.get(f"{LIST}?created_after={bound}")

    assert response.status_code == 200


def test_a_correction_with_too_many_chain_steps_is_a_400_on_chain(api_client, decision):
    steps = [{"agent": f"agent-{i}", "action": "enrich"} for i in range(21)]

    response = api_client.patch(f"{LIST}{decision.public_id}/", {"chain": steps}, format="json")

    assert response.status_code == 400
    assert response.json()["errors"] == {"chain": ["A chain has at most 20 steps."]}


def test_a_chain_step_target_is_an_object(api_client, make_body, staffed):
    body = make_body(staffed.action_type, chain=[{"agent": "a", "action": "b", "target": None}])

    response = submit(api_client, body)

    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["chain"]


def test_an_empty_review_period_value_is_a_400(person_client):
    response = person_client(make_user_in_group(rbac.GOVERNANCE_LEAD)).get("/api/v1/review/figures/?tz=")

    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["tz"]
