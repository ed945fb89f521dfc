"""Who may do what in the governance admin: the four role groups of migration 0003."""

import pytest
from django.urls import reverse

from governance import rbac
from governance.models import ActionType, OwnershipAssignment
from tests.governance.factories import (
    ActionTypeFactory,
    DecisionRoleFactory,
    OwnershipAssignmentFactory,
    RosterFactory,
    make_user_in_group,
)
from tests.helpers import admin_form_data

pytestmark = pytest.mark.django_db

GOVERNANCE_CHANGELISTS = [
    "governance_decisionrole_changelist",
    "governance_actiontype_changelist",
    "governance_ownershipassignment_changelist",
    "governance_roster_changelist",
    "governance_certification_changelist",
    "governance_escalationchain_changelist",
    "governance_approvalpolicy_changelist",
]


def _redirects_to_login(response, url: str) -> bool:
    return response.status_code == 302 and response.url == f"{reverse('admin:login')}?next={url}"


def test_analyst_is_sent_to_login_from_admin_index(client):
    client.force_login(make_user_in_group(rbac.ANALYST, is_staff=False))

    response = client.get("/admin/")

    assert _redirects_to_login(response, "/admin/")


def test_analyst_is_sent_to_login_from_a_changelist(client):
    client.force_login(make_user_in_group(rbac.ANALYST, is_staff=False))
    url = reverse("admin:governance_ownershipassignment_changelist")

    response = client.get(url)

    assert _redirects_to_login(response, url)


def test_integration_user_is_sent_to_login_from_admin(client):
    client.force_login(make_user_in_group(rbac.INTEGRATION, is_staff=False))
    url = reverse("admin:governance_actiontype_changelist")

    response = client.get(url)

    assert _redirects_to_login(response, url)


def test_integration_group_grants_nothing_even_to_a_staff_account(client):
    client.force_login(make_user_in_group(rbac.INTEGRATION, is_staff=True))

    changelist = client.get(reverse("admin:governance_actiontype_changelist"))
    index = client.get("/admin/")

    assert changelist.status_code == 403
    assert index.context["app_list"] == []


@pytest.mark.parametrize("url_name", GOVERNANCE_CHANGELISTS)
def test_auditor_can_view_governance_changelists(client, url_name):
    client.force_login(make_user_in_group(rbac.AUDITOR))

    response = client.get(reverse(f"admin:{url_name}"))

    assert response.status_code == 200


def test_auditor_can_view_the_audit_log_changelist(client):
    client.force_login(make_user_in_group(rbac.AUDITOR))

    response = client.get(reverse("admin:auditlog_logentry_changelist"))

    assert response.status_code == 200


def test_auditor_can_view_an_objects_audit_log_page(client):
    roster = RosterFactory()
    client.force_login(make_user_in_group(rbac.AUDITOR))

    response = client.get(reverse("admin:governance_roster_auditlog", args=[roster.pk]))

    assert response.status_code == 200


def test_auditor_sees_a_read_only_change_page(client):
    assignment = OwnershipAssignmentFactory()
    client.force_login(make_user_in_group(rbac.AUDITOR))

    response = client.get(reverse("admin:governance_ownershipassignment_change", args=[assignment.pk]))

    assert response.status_code == 200
    assert response.context["has_change_permission"] is False
    assert 'name="change_reason"' not in response.content.decode()
    assert 'name="_save"' not in response.content.decode()


def test_auditor_post_to_a_change_page_is_forbidden_and_changes_nothing(client):
    assignment = OwnershipAssignmentFactory()
    other_role = DecisionRoleFactory()
    client.force_login(make_user_in_group(rbac.AUDITOR))
    url = reverse("admin:governance_ownershipassignment_change", args=[assignment.pk])
    data = admin_form_data(client.get(url), owner_role=str(other_role.pk), change_reason="Auditor tries")

    response = client.post(url, data)

    assert response.status_code == 403
    assignment.refresh_from_db()
    assert assignment.owner_role_id != other_role.pk


@pytest.mark.parametrize("url_name", ["governance_ownershipassignment_add", "governance_actiontype_add"])
def test_auditor_add_page_is_forbidden(client, url_name):
    client.force_login(make_user_in_group(rbac.AUDITOR))

    response = client.get(reverse(f"admin:{url_name}"))

    assert response.status_code == 403


def test_lead_can_create_an_ownership_assignment_through_the_add_form(client):
    action_type = ActionTypeFactory()
    role = DecisionRoleFactory()
    client.force_login(make_user_in_group(rbac.GOVERNANCE_LEAD))
    url = reverse("admin:governance_ownershipassignment_add")
    data = admin_form_data(
        client.get(url),
        action_type=str(action_type.pk),
        owner_role=str(role.pk),
        effective_from_0="01/02/2026",
        effective_from_1="09:00:00",
        change_reason="New action type goes live",
    )

    response = client.post(url, data)

    assert response.status_code == 302
    assignment = OwnershipAssignment.objects.get()
    assert (assignment.action_type, assignment.owner_role) == (action_type, role)


def test_lead_can_change_an_action_type(client):
    action_type = ActionTypeFactory(touches_regulated_data=False)
    client.force_login(make_user_in_group(rbac.GOVERNANCE_LEAD))
    url = reverse("admin:governance_actiontype_change", args=[action_type.pk])
    data = admin_form_data(client.get(url), touches_regulated_data="on", change_reason="It exports mailboxes")

    response = client.post(url, data)

    assert response.status_code == 302
    assert ActionType.objects.get(pk=action_type.pk).touches_regulated_data is True


def test_lead_cannot_open_the_delete_page_of_an_ownership_assignment(client):
    assignment = OwnershipAssignmentFactory()
    client.force_login(make_user_in_group(rbac.GOVERNANCE_LEAD))

    response = client.get(reverse("admin:governance_ownershipassignment_delete", args=[assignment.pk]))

    assert response.status_code == 403


def test_lead_cannot_delete_an_ownership_assignment(client):
    assignment = OwnershipAssignmentFactory()
    client.force_login(make_user_in_group(rbac.GOVERNANCE_LEAD))

    response = client.post(
        reverse("admin:governance_ownershipassignment_delete", args=[assignment.pk]), {"post": "yes"}
    )

    assert response.status_code == 403
    assert OwnershipAssignment.objects.filter(pk=assignment.pk).exists()
