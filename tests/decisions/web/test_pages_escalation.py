"""Escalating by hand, reassigning and notification settings, through the pages."""

import pytest

from decisions.models import DecisionStatus, Escalation, EventKind, NotificationPreference
from governance import rbac
from tests.governance.factories import DecisionRoleFactory, make_signers, make_user_in_group

pytestmark = pytest.mark.django_db


def test_an_eligible_signer_sees_the_escalate_form(client, signer, decision):
    client.force_login(signer)

    response = client.get(f"/decisions/{decision.public_id}/")

    assert "Escalate to the next role" in response.content.decode()


def test_an_eligible_signer_escalates_with_a_reason(client, signer, decision):
    client.force_login(signer)

    response = client.post(f"/decisions/{decision.public_id}/escalate/", {"escalate-reason": "Needs the IC"})

    assert response.status_code == 302
    row = Escalation.objects.get(decision=decision)
    assert (row.reason, row.by, row.note) == (Escalation.Reason.MANUAL, signer, "Needs the IC")


def test_escalating_without_a_reason_moves_nothing(client, signer, decision):
    client.force_login(signer)

    client.post(f"/decisions/{decision.public_id}/escalate/", {"escalate-reason": ""})

    assert not Escalation.objects.exists()


def test_an_auditor_cannot_escalate(client, decision):
    client.force_login(make_user_in_group(rbac.AUDITOR))

    response = client.post(f"/decisions/{decision.public_id}/escalate/", {"escalate-reason": "why not"})

    assert response.status_code == 403
    assert not Escalation.objects.exists()


def test_a_governance_lead_reassigns_from_the_decision_page(client, decision):
    other = DecisionRoleFactory()
    (other_signer,) = make_signers(other, 1)
    client.force_login(make_user_in_group(rbac.GOVERNANCE_LEAD))

    response = client.post(
        f"/decisions/{decision.public_id}/reassign/", {"reassign-role": other.pk, "reassign-reason": "Offsite"}
    )

    assert response.status_code == 302
    decision.refresh_from_db()
    assert decision.status == DecisionStatus.PENDING
    assert decision.events.filter(kind=EventKind.REASSIGNED).count() == 1
    assert other_signer.has_perm("decisions.certify_decisionrequest", decision)


def test_an_analyst_cannot_reassign(client, signer, decision):
    client.force_login(signer)

    response = client.post(
        f"/decisions/{decision.public_id}/reassign/",
        {"reassign-role": DecisionRoleFactory().pk, "reassign-reason": "x"},
    )

    assert response.status_code == 403


def test_a_person_turns_decision_emails_off(client, signer):
    client.force_login(signer)

    response = client.post("/decisions/settings/notifications/", {})

    assert response.status_code == 302
    assert NotificationPreference.objects.get(user=signer).email is False


def test_email_is_on_until_turned_off(client, signer):
    client.force_login(signer)

    response = client.get("/decisions/settings/notifications/")

    assert "checked" in response.content.decode()
