"""POST /api/v1/decisions/: a valid submission is routed to the on-call, certified owner."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from decisions.models import DecisionRequest, DecisionRequestUserObjectPermission, EventKind

pytestmark = pytest.mark.django_db

LIST = "/api/v1/decisions/"


def submit(client, body, **headers):
    return client.post(LIST, body, format="json", headers=headers)


def test_submission_is_answered_201_pending(api_client, body):
    response = submit(api_client, body)

    assert response.status_code == 201
    assert response.json()["status"] == "pending"


def test_submission_returns_a_uuid_id_of_the_stored_decision(api_client, body):
    response = submit(api_client, body)

    assert DecisionRequest.objects.get().public_id.hex == response.json()["id"].replace("-", "")


def test_submission_names_the_owner_role(api_client, body, staffed):
    response = submit(api_client, body)

    assert response.json()["owner_role"] == {"slug": staffed.role.slug, "name": staffed.role.name}


def test_submission_requires_the_policys_number_of_approvals(make_staffed, make_caller, make_body):
    staffed = make_staffed(people=2, required_approvals=2)
    caller = make_caller(action_types=[staffed.action_type])

    response = submit(caller.client, make_body(staffed.action_type))

    assert response.json()["required_approvals"] == 2


def test_submission_deadline_is_the_policys_time_to_act_from_now(api_client, body, staffed):
    before = timezone.now()

    response = submit(api_client, body)

    deadline = parse_datetime(response.json()["deadline"])
    wait = timedelta(seconds=staffed.policy.time_to_act_seconds)
    assert before + wait <= deadline <= timezone.now() + wait


def test_submission_counts_the_eligible_signers(make_staffed, make_caller, make_body):
    staffed = make_staffed(people=3)
    caller = make_caller(action_types=[staffed.action_type])

    response = submit(caller.client, make_body(staffed.action_type))

    assert response.json()["eligible_signers"] == 3


def test_submission_names_the_matched_policy(api_client, body, staffed):
    response = submit(api_client, body)

    assert response.json()["policy"] == {"name": staffed.policy.name, "version": staffed.policy.version}


def test_submission_links_to_the_decision_and_its_actions(api_client, body):
    response = submit(api_client, body)

    decision_url = f"{LIST}{response.json()['id']}/"
    assert response.json()["links"] == {
        "self": decision_url,
        "events": f"{decision_url}events/",
        "cancel": f"{decision_url}cancel/",
        "outcome": f"{decision_url}outcome/",
        "signoffs": f"{decision_url}signoffs/",
        "receipt": f"{decision_url}receipt/",
    }


def test_self_link_returns_the_submitted_decision(api_client, body):
    created = submit(api_client, body).json()

    response = api_client.get(created["links"]["self"])

    assert response.status_code == 200
    assert response.json()["id"] == created["id"]


def test_submission_echoes_levels_by_name_and_confidence_as_a_number(api_client, body):
    data = submit(api_client, body).json()

    assert (data["blast_radius"], data["severity"], data["ai_confidence"]) == ("medium", "high", 0.87)


def test_submission_log_reads_received_routed_granted(api_client, body):
    created = submit(api_client, body).json()

    events = api_client.get(created["links"]["events"]).json()["results"]

    assert [e["kind"] for e in events] == [EventKind.RECEIVED, EventKind.ROUTED, EventKind.GRANTED]


def test_submission_log_is_hash_chained(api_client, body):
    created = submit(api_client, body).json()

    events = api_client.get(created["links"]["events"]).json()["results"]

    assert [e["prev_hash"] for e in events[1:]] == [e["hash"] for e in events[:-1]]


def test_submission_grants_the_on_call_signer_the_certify_permission(api_client, body, signer):
    submit(api_client, body)

    grant = DecisionRequestUserObjectPermission.objects.get()
    assert (grant.user, grant.permission.codename) == (signer, "certify_decisionrequest")


def test_submission_is_recorded_as_the_integrations_service_account(api_client, body, integration):
    submit(api_client, body)

    assert DecisionRequest.objects.get().submitted_by == integration.service_account


def test_submission_without_a_matching_policy_gets_the_fail_safe_default(make_staffed, make_caller, make_body):
    staffed = make_staffed(policy=False)
    caller = make_caller(action_types=[staffed.action_type])

    data = submit(caller.client, make_body(staffed.action_type)).json()

    kinds = [e["kind"] for e in caller.client.get(data["links"]["events"]).json()["results"]]
    assert (data["policy"], data["required_approvals"], EventKind.NO_POLICY in kinds) == (None, 1, True)


def test_person_cannot_submit(person_client, signer, body):
    response = submit(person_client(signer), body)

    assert response.status_code == 403
    assert not DecisionRequest.objects.exists()
