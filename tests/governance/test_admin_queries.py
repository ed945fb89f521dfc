"""Exact query counts of the admin changelists: the same at 1 row and at 50 rows (no N+1). Each
count includes the health banner every admin page reads (one query)."""

from datetime import timedelta

import pytest
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse
from django.utils import timezone

from governance import rbac
from governance.audit import acting_as, change_reason
from governance.gaps import GapKind
from governance.models import DecisionRole
from tests.governance.factories import (
    ActionTypeFactory,
    ApprovalPolicyFactory,
    CertificationFactory,
    DecisionRoleFactory,
    EscalationChainFactory,
    OwnershipAssignmentFactory,
    RosterFactory,
    RosterOverrideFactory,
    UserFactory,
    make_user_in_group,
)

pytestmark = pytest.mark.django_db

MANY = 50


def _assert_same_queries_at_1_and_many(client, django_assert_num_queries, url_name, make_row, expected, query=""):
    client.force_login(make_user_in_group(rbac.GOVERNANCE_LEAD))
    url = reverse(f"admin:{url_name}") + query
    make_row(0)
    # The first request fills process-wide caches (content types); count the steady state.
    client.get(url)
    with django_assert_num_queries(expected):
        one = client.get(url)
    for i in range(1, MANY):
        make_row(i)
    with django_assert_num_queries(expected):
        many = client.get(url)
    assert one.context["cl"].result_count == 1
    assert many.context["cl"].result_count == MANY
    assert len(many.context["cl"].result_list) == MANY


def test_ownership_assignment_changelist_queries_do_not_grow_with_rows(client, django_assert_num_queries):
    owner, deputy = DecisionRoleFactory(), DecisionRoleFactory()

    def make_row(i):
        OwnershipAssignmentFactory(
            owner_role=owner, deputy_role=deputy, effective_from=timezone.now() - timedelta(days=40 * i + 1)
        )

    _assert_same_queries_at_1_and_many(
        client, django_assert_num_queries, "governance_ownershipassignment_changelist", make_row, 11
    )


def test_roster_changelist_queries_do_not_grow_with_rows(client, django_assert_num_queries):
    role, users = DecisionRoleFactory(), [UserFactory(), UserFactory()]

    def make_row(i):
        roster = RosterFactory(role=role, users=users, rotation_days=1 + i % 7)
        RosterOverrideFactory(roster=roster, user=users[0])

    # 13: one of them lists the time zones in use for the filter.
    _assert_same_queries_at_1_and_many(client, django_assert_num_queries, "governance_roster_changelist", make_row, 13)


def test_action_type_changelist_queries_do_not_grow_with_rows(client, django_assert_num_queries):
    owner = DecisionRoleFactory()

    def make_row(i):
        if i % 2:
            OwnershipAssignmentFactory(owner_role=owner)
        else:
            ActionTypeFactory()

    _assert_same_queries_at_1_and_many(
        client, django_assert_num_queries, "governance_actiontype_changelist", make_row, 8
    )


def test_certification_changelist_queries_do_not_grow_with_rows(client, django_assert_num_queries):
    user, role, action_type = UserFactory(), DecisionRoleFactory(), ActionTypeFactory()

    def make_row(i):
        until = timezone.now() + timedelta(days=20 * i + 1)
        if i % 2:
            CertificationFactory(user=user, role=None, action_type=action_type, valid_until=until)
        else:
            CertificationFactory(user=user, role=role, valid_until=until)

    _assert_same_queries_at_1_and_many(
        client, django_assert_num_queries, "governance_certification_changelist", make_row, 12
    )


def test_decision_role_changelist_queries_do_not_grow_with_rows(client, django_assert_num_queries):
    users = [UserFactory(), UserFactory()]

    def make_row(i):
        roster = RosterFactory(users=users)
        RosterOverrideFactory(roster=roster, user=users[1])

    _assert_same_queries_at_1_and_many(
        client, django_assert_num_queries, "governance_decisionrole_changelist", make_row, 13
    )


def test_escalation_chain_changelist_queries_do_not_grow_with_rows(client, django_assert_num_queries):
    first, second = DecisionRoleFactory(), DecisionRoleFactory()

    def make_row(i):
        EscalationChainFactory(steps=[(first, 300), (second, 600)])

    _assert_same_queries_at_1_and_many(
        client, django_assert_num_queries, "governance_escalationchain_changelist", make_row, 10
    )


def test_approval_policy_changelist_queries_do_not_grow_with_rows(client, django_assert_num_queries):
    action_types, cosigner, chain = (
        [ActionTypeFactory(), ActionTypeFactory()],
        DecisionRoleFactory(),
        EscalationChainFactory(),
    )

    def make_row(i):
        ApprovalPolicyFactory(
            action_types=action_types, cosigner_roles=[cosigner], escalation_chain=chain, required_approvals=1 + i % 3
        )

    _assert_same_queries_at_1_and_many(
        client, django_assert_num_queries, "governance_approvalpolicy_changelist", make_row, 11
    )


def test_audit_log_changelist_queries_do_not_grow_with_rows(client, django_assert_num_queries):
    actor = UserFactory()

    def make_row(i):
        with acting_as(actor), change_reason("Set up", ticket_ref=f"GOV-{i}"):
            DecisionRoleFactory()

    # Only the roles' entries: creating the lead who looks is audited too (a user and their groups).
    roles = ContentType.objects.get_for_model(DecisionRole)
    _assert_same_queries_at_1_and_many(
        client,
        django_assert_num_queries,
        "auditlog_logentry_changelist",
        make_row,
        11,
        query=f"?resource_type={roles.pk}",
    )


def _gap_counts(response) -> dict[str, int]:
    return {group["kind"]: group["count"] for group in response.context["overview"]["gap_groups"]}


def test_admin_index_overview_queries_do_not_grow_with_rows(client, django_assert_num_queries):
    member = UserFactory()

    def make_row(i):
        role = DecisionRoleFactory()
        RosterOverrideFactory(roster=RosterFactory(role=role, users=[member]), user=member)
        OwnershipAssignmentFactory(owner_role=role)
        CertificationFactory(user=member, role=role, valid_until=timezone.now() + timedelta(days=10))
        ActionTypeFactory()

    client.force_login(make_user_in_group(rbac.GOVERNANCE_LEAD))
    make_row(0)
    client.get("/admin/")  # warms the governance snapshot, as any earlier request would
    with django_assert_num_queries(8):
        one = client.get("/admin/")
    for i in range(1, MANY):
        make_row(i)
    client.get("/admin/")
    with django_assert_num_queries(8):
        many = client.get("/admin/")
    # Per row: an unowned action type, a certification expiring, its holder on call uncertified after it.
    assert _gap_counts(one) == {**dict.fromkeys(_gap_counts(one), 0), **_per_row_gaps(1)}
    assert _gap_counts(many) == {**dict.fromkeys(_gap_counts(many), 0), **_per_row_gaps(MANY)}


def _per_row_gaps(rows: int) -> dict[str, int]:
    return {
        GapKind.UNOWNED_ACTION_TYPE: rows,
        GapKind.CERTIFICATION_EXPIRING: rows,
        GapKind.UNCERTIFIED_ON_CALL: rows,
    }
