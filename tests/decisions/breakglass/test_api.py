"""The API tells an integration that polls that its decision was executed by break-glass, in the
shape the OpenAPI schema documents (the periodic review's figures carry the use too)."""

import pytest
from django.utils.dateparse import parse_datetime

from decisions.breakglass import services
from governance import rbac
from tests.governance.factories import make_user_in_group

pytestmark = pytest.mark.django_db

REASON = "Exfiltration under way; second approver unreachable."


def test_a_polled_decision_says_break_glass_as_the_schema_documents(client, glass):
    used = services.decision_break_glass(decision=glass.decision, actor=glass.signers[0], reason=REASON)

    answer = glass.caller.client.get(f"/api/v1/decisions/{glass.decision.public_id}/").json()

    shown = answer["break_glass"]
    assert shown["id"] == str(used.public_id)
    assert (shown["by"], shown["reason"], shown["review"]) == (glass.signers[0].get_username(), REASON, "")
    assert parse_datetime(shown["review_due_at"]) == used.review_due_at
    documented = client.get("/api/schema/?format=json").json()["components"]["schemas"]["Decision"]
    prop = documented["properties"]["break_glass"]
    assert set(prop["required"]) == set(shown)
    assert prop["nullable"] is True


def test_a_decision_signed_by_its_quorum_says_no_break_glass(glass):
    answer = glass.caller.client.get(f"/api/v1/decisions/{glass.decision.public_id}/").json()

    assert answer["break_glass"] is None


def test_the_review_figures_endpoint_reports_break_glass_use(glass, person_client):
    services.decision_break_glass(decision=glass.decision, actor=glass.signers[0], reason=REASON)
    lead = make_user_in_group(rbac.GOVERNANCE_LEAD)

    figures = person_client(lead).get("/api/v1/review/figures/?days=7").json()

    (row,) = figures["break_glass"]
    assert row["role"] == glass.staffed.role.name
    assert (row["uses"], row["unreviewed"], row["overdue"]) == (1, 1, 0)
