"""Changes made through the admin forms: audited with actor and reason, or refused with the rule's error."""

import pytest
from auditlog.models import LogEntry
from django.urls import reverse

from governance.models import ActionType, ApprovalPolicy, EscalationStep, OwnershipAssignment, RosterMember
from tests.governance.factories import (
    DecisionRoleFactory,
    EscalationChainFactory,
    OwnershipAssignmentFactory,
    UserFactory,
    make_owned_action_type,
)
from tests.helpers import admin_form_data

pytestmark = pytest.mark.django_db


def _change_url(obj) -> str:
    return reverse(f"admin:governance_{obj._meta.model_name}_change", args=[obj.pk])


def test_ownership_change_through_admin_is_logged_with_actor_reason_and_ticket(client, lead):
    assignment = OwnershipAssignmentFactory()
    new_owner = DecisionRoleFactory()
    url = _change_url(assignment)
    data = admin_form_data(
        client.get(url), owner_role=str(new_owner.pk), change_reason="Tier 3 takes over", ticket_ref="GOV-42"
    )

    response = client.post(url, data)

    assert response.status_code == 302
    entry = LogEntry.objects.get_for_object(assignment).get(action=LogEntry.Action.UPDATE)
    assert entry.actor == lead
    assert entry.changes_dict["owner_role"][1] == str(new_owner.pk)
    assert entry.additional_data == {"reason": "Tier 3 takes over", "ticket_ref": "GOV-42"}


def test_ownership_change_without_reason_reshows_form_with_error_and_saves_nothing(client, lead):
    assignment = OwnershipAssignmentFactory()
    old_owner = assignment.owner_role
    url = _change_url(assignment)
    data = admin_form_data(client.get(url), owner_role=str(DecisionRoleFactory().pk), change_reason="")
    entries_before = LogEntry.objects.count()

    response = client.post(url, data)

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["change_reason"] == ["This field is required."]
    assignment.refresh_from_db()
    assert assignment.owner_role == old_owner
    assert LogEntry.objects.count() == entries_before


def test_roster_member_added_through_inline_is_logged_with_actor_and_roster(client, lead):
    _, _, roster, _ = make_owned_action_type(members=2)
    newcomer = UserFactory()
    url = _change_url(roster)
    data = admin_form_data(client.get(url), change_reason="New hire joins the rotation")
    data.update({"memberships-2-user": str(newcomer.pk), "memberships-2-position": "2"})

    response = client.post(url, data)

    assert response.status_code == 302
    member = RosterMember.objects.get(roster=roster, user=newcomer)
    entry = LogEntry.objects.get_for_object(member).get(action=LogEntry.Action.CREATE)
    assert entry.actor == lead
    assert entry.additional_data["roster"]["id"] == roster.pk
    assert entry.additional_data["reason"] == "New hire joins the rotation"


def test_roster_member_change_appears_on_the_rosters_audit_log_page(client, lead):
    _, _, roster, _ = make_owned_action_type(members=2)
    url = _change_url(roster)
    data = admin_form_data(client.get(url), change_reason="New hire joins the rotation")
    data.update({"memberships-2-user": str(UserFactory().pk), "memberships-2-position": "2"})
    client.post(url, data)
    member_entry = LogEntry.objects.get(content_type__model="rostermember", action=LogEntry.Action.CREATE, actor=lead)

    response = client.get(reverse("admin:governance_roster_auditlog", args=[roster.pk]))

    assert response.status_code == 200
    assert member_entry in list(response.context["log_entries"])


def test_change_page_links_to_the_objects_audit_log(client, lead):
    assignment = OwnershipAssignmentFactory()
    history_url = reverse("admin:governance_ownershipassignment_auditlog", args=[assignment.pk])

    change_page = client.get(_change_url(assignment))
    history_page = client.get(history_url)

    assert f'<a href="{history_url}">Audit log</a>' in change_page.content.decode()
    assert history_page.status_code == 200
    assert history_page.context["object"] == assignment


def test_audit_log_page_of_a_missing_object_is_not_found(client, lead):
    response = client.get(reverse("admin:governance_roster_auditlog", args=[999_999]))

    assert response.status_code == 404


def test_overlapping_ownership_period_is_shown_on_the_form_and_not_saved(client, lead):
    existing = OwnershipAssignmentFactory()
    url = reverse("admin:governance_ownershipassignment_add")
    data = admin_form_data(
        client.get(url),
        action_type=str(existing.action_type.pk),
        owner_role=str(DecisionRoleFactory().pk),
        effective_from_0="01/01/2099",
        effective_from_1="00:00:00",
        change_reason="Second owner",
    )

    response = client.post(url, data)

    assert response.status_code == 200
    assert "already has an owner in this period" in response.content.decode()
    assert list(OwnershipAssignment.objects.all()) == [existing]


def test_system_owned_action_type_that_changes_production_is_shown_on_the_form_and_not_saved(client, lead):
    url = reverse("admin:governance_actiontype_add")
    data = admin_form_data(
        client.get(url),
        slug="isolate-host",
        name="Isolate host",
        changes_production_state="on",
        system_owned="on",
        change_reason="New action",
    )

    response = client.post(url, data)

    assert response.status_code == 200
    assert "can never be system-owned" in response.content.decode()
    assert not ActionType.objects.exists()


@pytest.mark.parametrize("max_blast_radius", ["", "3"], ids=["no-max", "max-high"])
def test_policy_with_confidence_bound_and_high_blast_radius_is_shown_on_the_form_and_not_saved(
    client, lead, max_blast_radius
):
    chain = EscalationChainFactory()
    url = reverse("admin:governance_approvalpolicy_add")
    data = admin_form_data(
        client.get(url),
        name="Trust the model",
        priority="10",
        min_ai_confidence="0.95",
        max_blast_radius=max_blast_radius,
        escalation_chain=str(chain.pk),
        change_reason="Fewer approvals for confident recommendations",
    )

    response = client.post(url, data)

    assert response.status_code == 200
    assert "may not match a high or critical blast radius" in response.content.decode()
    assert not ApprovalPolicy.objects.exists()


def test_policy_with_confidence_bound_and_medium_max_blast_radius_is_saved(client, lead):
    chain = EscalationChainFactory()
    url = reverse("admin:governance_approvalpolicy_add")
    data = admin_form_data(
        client.get(url),
        name="Trust the model on small things",
        priority="10",
        min_ai_confidence="0.95",
        max_blast_radius="2",
        escalation_chain=str(chain.pk),
        change_reason="Fewer approvals for confident, contained recommendations",
    )

    response = client.post(url, data)

    assert response.status_code == 302
    assert ApprovalPolicy.objects.get().max_blast_radius == 2


def test_escalation_chain_with_zero_steps_is_shown_on_the_form_and_not_saved(client, lead):
    chain = EscalationChainFactory()
    step = chain.steps.get()
    url = _change_url(chain)
    data = admin_form_data(client.get(url), change_reason="Drop the only step")
    data["steps-0-DELETE"] = "on"

    response = client.post(url, data)

    assert response.status_code == 200
    assert "An escalation chain needs at least one step." in response.content.decode()
    assert EscalationStep.objects.filter(pk=step.pk).exists()


def test_valid_escalation_chain_change_is_saved(client, lead):
    chain = EscalationChainFactory()
    url = _change_url(chain)
    data = admin_form_data(client.get(url), description="Night shift", change_reason="Describe it")

    response = client.post(url, data)

    assert response.status_code == 302
    chain.refresh_from_db()
    assert chain.description == "Night shift"


def test_valid_action_type_is_saved(client, lead):
    url = reverse("admin:governance_actiontype_add")
    data = admin_form_data(
        client.get(url), slug="enrich-ticket", name="Enrich ticket", system_owned="on", change_reason="New action"
    )
    data.pop("changes_production_state")

    response = client.post(url, data)

    assert response.status_code == 302
    assert ActionType.objects.get().system_owned is True
