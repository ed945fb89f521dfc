"""What a safety API must refuse rather than guess: lone surrogates, unknown fields, duplicate
keys, bodies it would misread (chunked, a bogus Content-Length) and numbers JSON cannot hold.
Each is a 400 (411 for a chunked body) naming what is wrong, never a 500 or a stored decision."""

import json

import pytest

from decisions.models import DecisionRequest, SignOff
from tests.decisions.scenarios import approve

pytestmark = pytest.mark.django_db

LIST = "/api/v1/decisions/"
APPROVE = {"verdict": "approve", "reason_code": "evidence_sufficient", "rationale": "Confirmed on the EDR console."}
OVERRIDE = {"verdict": "override", "reason_code": "scope_too_broad", "rationale": "Only the one host."}


def url(decision, action: str = "") -> str:
    return f"{LIST}{decision.public_id}/{action + '/' if action else ''}"


def raw(client, path: str, text: str, method: str = "post"):
    return getattr(client, method)(path, text.encode("utf-8"), content_type="application/json")


def with_lone_surrogate(body: dict, marker: str = "SURROGATE") -> str:
    """``body`` as JSON text with every ``marker`` replaced by the escape ``\\udfff`` (a lone low surrogate)."""
    return json.dumps(body).replace(marker, "\\udfff")


# --- Lone UTF-16 surrogates -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field"),
    [
        pytest.param({"evidence": {"alerts": ["SURROGATE"]}}, "evidence", id="evidence-value"),
        pytest.param({"evidence": {"SURROGATE": 1}}, "evidence", id="evidence-key"),
        pytest.param({"target": {"host": "SURROGATE"}}, "target", id="target"),
        pytest.param({"chain": [{"agent": "a", "action": "b", "target": {"h": "SURROGATE"}}]}, "chain", id="chain"),
        pytest.param({"title": "Isolate SURROGATE"}, "title", id="title"),
        pytest.param({"extra_SURROGATE": 1}, "extra_\\udfff", id="unknown-field-name"),
        pytest.param({"extra": "SURROGATE"}, "extra", id="unknown-field-value"),
    ],
)
def test_lone_surrogate_in_a_submission_is_a_400_naming_the_field(api_client, body, change, field):
    response = raw(api_client, LIST, with_lone_surrogate({**body, **change}))

    assert response.status_code == 400
    assert list(response.json()["errors"]) == [field]
    assert "surrogate" in response.json()["errors"][field][0]
    assert not DecisionRequest.objects.exists()


def test_lone_surrogate_in_a_patched_evidence_is_a_400_on_evidence(api_client, decision):
    response = raw(api_client, url(decision), with_lone_surrogate({"evidence": {"a": "SURROGATE"}}), method="patch")

    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["evidence"]


def test_lone_surrogate_in_an_override_action_is_a_400_on_override_action(person_client, signer, decision):
    body = {**OVERRIDE, "override_action": {"action": "SURROGATE"}}

    response = raw(person_client(signer), url(decision, "signoffs"), with_lone_surrogate(body))

    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["override_action"]
    assert not SignOff.objects.exists()


def test_a_surrogate_pair_is_one_character_and_accepted(api_client, body):
    text = json.dumps({**body, "evidence": {"note": "PAIR"}}).replace("PAIR", "\\ud83d\\udd12")

    response = raw(api_client, LIST, text)

    assert response.status_code == 201
    assert response.json()["evidence"] == {"note": "\U0001f512"}


# --- Unknown fields -------------------------------------------------------------------------


def test_unknown_fields_on_a_submission_are_a_400_listing_them(api_client, body):
    response = api_client.post(LIST, {**body, "status": "approved", "extra_field": 1}, format="json")

    assert response.status_code == 400
    assert sorted(response.json()["errors"]) == ["extra_field", "status"]
    assert not DecisionRequest.objects.exists()


def test_a_misspelled_flag_is_a_400_not_a_decision_without_its_co_signer(api_client, body):
    response = api_client.post(LIST, {**body, "affects_regulated_date": True}, format="json")

    assert response.status_code == 400
    assert response.json()["errors"] == {"affects_regulated_date": ["Unknown field."]}


@pytest.mark.parametrize(
    ("change", "errors"),
    [
        pytest.param({"model": {"name": "m", "versoin": "1"}}, {"model": {"versoin": ["Unknown field."]}}, id="model"),
        pytest.param(
            {"chain": [{"agent": "a", "action": "b", "note": "x"}]},
            {"chain": {"0": {"note": ["Unknown field."]}}},
            id="chain",
        ),
    ],
)
def test_unknown_fields_in_nested_objects_are_a_400_under_their_parent(api_client, body, change, errors):
    response = api_client.post(LIST, {**body, **change}, format="json")

    assert response.status_code == 400
    assert response.json()["errors"] == errors


def test_unknown_field_on_a_sign_off_is_a_400(person_client, signer, decision):
    response = person_client(signer).post(url(decision, "signoffs"), {**APPROVE, "quorum": 0}, format="json")

    assert response.status_code == 400
    assert response.json()["errors"] == {"quorum": ["Unknown field."]}
    assert not SignOff.objects.exists()


def test_unknown_field_on_a_cancellation_is_a_400(api_client, decision):
    response = api_client.post(url(decision, "cancel"), {"reason": "dup", "notify": False}, format="json")

    assert response.status_code == 400
    assert response.json()["errors"] == {"notify": ["Unknown field."]}
    decision.refresh_from_db()
    assert decision.status == "pending"


def test_unknown_field_on_an_outcome_is_a_400(api_client, decision, signer):
    approve(decision, signer)

    response = api_client.post(url(decision, "outcome"), {"kind": "benign", "revertd": True}, format="json")

    assert response.status_code == 400
    assert response.json()["errors"] == {"revertd": ["Unknown field."]}


def test_unknown_field_on_a_patch_is_a_400(api_client, decision):
    response = api_client.patch(url(decision), {"title": "New", "titel": "New"}, format="json")

    assert response.status_code == 400
    assert response.json()["errors"] == {"titel": ["Unknown field."]}


# --- Duplicate keys -------------------------------------------------------------------------


def test_a_key_given_twice_is_a_400_naming_it(api_client, body, make_staffed):
    other = make_staffed()
    text = json.dumps(body)[:-1] + f', "action_type": "{other.action_type.slug}"}}'

    response = raw(api_client, LIST, text)

    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["action_type"]
    assert not DecisionRequest.objects.exists()


def test_a_key_given_twice_in_a_nested_object_is_a_400(api_client, body):
    text = json.dumps({**body, "evidence": {"alerts": "A"}}).replace('"alerts": "A"', '"alerts": "A", "alerts": "B"')

    response = raw(api_client, LIST, text)

    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["alerts"]


def test_a_key_given_twice_on_a_sign_off_is_a_400(person_client, signer, decision):
    text = json.dumps(APPROVE)[:-1] + ', "verdict": "reject"}'

    response = raw(person_client(signer), url(decision, "signoffs"), text)

    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["verdict"]


# --- Numbers --------------------------------------------------------------------------------


@pytest.mark.parametrize("number", ["1e999", "-1e999", "Infinity", "-Infinity"])
def test_a_number_beyond_a_float_is_a_400_not_a_database_error(api_client, body, number):
    text = json.dumps({**body, "evidence": {"score": "N"}}).replace('"N"', number)

    response = raw(api_client, LIST, text)

    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


# --- Framing: chunked bodies and Content-Length ---------------------------------------------


def test_a_chunked_body_without_content_length_is_a_411(api_client, body):
    response = api_client.generic(
        "POST",
        LIST,
        json.dumps(body),
        content_type="application/json",
        CONTENT_LENGTH="",
        HTTP_TRANSFER_ENCODING="chunked",
    )

    assert response.status_code == 411
    assert response.json()["code"] == "length_required"
    assert not DecisionRequest.objects.exists()


def test_transfer_encoding_next_to_a_content_length_is_a_411(api_client, body):
    response = api_client.generic(
        "POST", LIST, json.dumps(body), content_type="application/json", HTTP_TRANSFER_ENCODING="chunked"
    )

    assert response.status_code == 411


@pytest.mark.parametrize("length", ["abc", "-5", "1e3", "１２"])
def test_a_content_length_that_is_not_a_number_is_a_400(api_client, body, length):
    response = api_client.generic(
        "POST", LIST, json.dumps(body), content_type="application/json", CONTENT_LENGTH=length
    )

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_content_length"
