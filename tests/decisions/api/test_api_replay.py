"""GET /api/v1/policy-drafts/ and .../{id}/replay/: the what-if replay for leads and auditors."""

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone
from rest_framework.test import APIClient

from decisions import integrations
from decisions.models import DecisionRequest
from governance import rbac
from tests.decisions.factories import submit
from tests.decisions.replay.history import make_draft, make_history
from tests.governance.factories import make_user_in_group

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_throttle():
    cache.clear()


@pytest.fixture
def history(db):
    return make_history()


@pytest.fixture
def draft(history):
    return make_draft(history, history.enrich_policy, allow_auto_approval=True)


def client_for(user) -> APIClient:
    _row, token = integrations.personal_token_create(
        user=user, name="bi", expires_at=timezone.now() + timedelta(days=30)
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def url(draft, **query) -> str:
    base = f"/api/v1/policy-drafts/{draft.public_id}/replay/"
    return base + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def test_lead_reads_the_replay_with_the_rejection_the_draft_would_auto_approve_first(history, draft):
    response = client_for(history.lead).get(url(draft, days=1))

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["draft"]["id"] == str(draft.public_id)
    assert body["draft"]["policy"] == str(history.enrich_policy.public_id)
    assert body["draft"]["action_types"] == ["enrich-ticket"]
    assert body["draft"]["allow_auto_approval"] is True
    assert body["summary"]["decisions"] == 4
    assert body["summary"]["auto_over_rejection"] == 1
    assert body["summary"]["changed"] == 2
    assert [r["policy"] for r in body["parameters"]["rules"]] == ["Enrichment", "Isolation"]
    first = body["decisions"]["results"][0]
    assert first["id"] == str(history.enrich_rejected.public_id)
    assert first["auto_over_rejection"] is True
    assert first["actual"]["status"] == "rejected"
    assert first["draft"]["approvals"] == 0
    assert body["decisions"]["count"] == 4


def test_auditor_reads_drafts_and_their_replay(history, draft):
    auditor = client_for(make_user_in_group(rbac.AUDITOR))

    assert auditor.get("/api/v1/policy-drafts/").json()["results"][0]["id"] == str(draft.public_id)
    assert auditor.get(f"/api/v1/policy-drafts/{draft.public_id}/").status_code == 200
    assert auditor.get(url(draft)).status_code == 200


def test_analyst_and_integration_are_refused(history, draft):
    analyst = client_for(make_user_in_group(rbac.ANALYST, is_staff=False))
    _key_row, key = integrations.integration_key_create(integration=history.enrich_rejected.integration, name="k")
    integration = APIClient()
    integration.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")

    for client in (analyst, integration):
        response = client.get(url(draft))
        assert response.status_code == 403
        assert response.json()["code"] == "permission_denied"
    assert APIClient().get(url(draft)).status_code == 401


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"days": 0}, "days"),
        ({"days": "x"}, "days"),
        ({"start": "2026-01-01"}, "end"),
        ({"start": "2026-02-01", "end": "2026-01-01"}, "end"),
        ({"days": 7, "start": "2026-01-01", "end": "2026-01-02"}, "days"),
        ({"tz": "Mars/Olympus"}, "tz"),
        ({"page": 0}, "page"),
        ({"page_size": 201}, "page_size"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_invalid_parameters_are_400_naming_the_parameter(history, draft, query, field):
    response = client_for(history.lead).get(url(draft, **query))

    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]


def test_unknown_draft_is_404(history):
    lead = client_for(history.lead)

    assert lead.get("/api/v1/policy-drafts/not-a-uuid/replay/").status_code == 404
    assert lead.get(f"/api/v1/policy-drafts/{history.enrich_rejected.public_id}/replay/").status_code == 404


def test_pages_follow_the_next_link_and_a_page_past_the_end_is_empty(history, draft):
    lead = client_for(history.lead)

    first = lead.get(url(draft, page_size=3)).json()["decisions"]
    second = lead.get(first["next"]).json()["decisions"]
    past = lead.get(url(draft, page_size=3, page=9)).json()["decisions"]

    assert (first["count"], first["pages"], len(first["results"])) == (4, 2, 3)
    assert len(second["results"]) == 1
    assert second["next"] is None
    assert past["results"] == []
    assert {r["id"] for r in first["results"] + second["results"]} == {
        str(d.public_id) for d in DecisionRequest.objects.all()
    }


def test_replay_endpoint_query_count_does_not_grow_with_decisions(history, draft, django_assert_num_queries):
    lead = client_for(history.lead)
    lead.get(url(draft))  # warm: content types, throttle
    # token, permissions (2), throttle (5), draft, draft + its 2 relations, policies + their 2,
    # grouped figures, recorded requirements, page count, page, sign-offs
    with django_assert_num_queries(21) as one:
        assert lead.get(url(draft)).status_code == 200
    for _ in range(8):
        submit(history.isolate, title="More history")
    with django_assert_num_queries(len(one.captured_queries)):
        assert lead.get(url(draft)).status_code == 200


def test_draft_list_query_count_does_not_grow_with_drafts(history, draft, django_assert_num_queries):
    lead = client_for(history.lead)
    lead.get("/api/v1/policy-drafts/")
    # token, permissions (2), throttle (5), the drafts (with policy and chain), their action types, co-signers
    with django_assert_num_queries(12) as one:
        assert len(lead.get("/api/v1/policy-drafts/").json()["results"]) == 1
    for _ in range(4):
        make_draft(history, history.isolate_policy, required_approvals=2)
    with django_assert_num_queries(len(one.captured_queries)):
        assert len(lead.get("/api/v1/policy-drafts/").json()["results"]) == 5
