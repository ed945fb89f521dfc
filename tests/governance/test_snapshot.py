"""The routing snapshot is cached per process by a token that database triggers change on
every write to a table routing reads: a change is seen at once, whatever wrote it."""

from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from governance import models as m
from governance.selectors import current_owner, on_call
from governance.snapshot import current_snapshot, current_token
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
)

pytestmark = pytest.mark.django_db


def _writes():
    """One write per table the snapshot reads, each through the ORM as any code path would."""
    role = DecisionRoleFactory()
    action_type = ActionTypeFactory()
    user = UserFactory()
    roster = RosterFactory(role=role, users=[user])
    chain = EscalationChainFactory(steps=[(role, 60)])
    policy = ApprovalPolicyFactory(escalation_chain=chain)
    return {
        "decisionrole": lambda: m.DecisionRole.objects.filter(pk=role.pk).update(name="Renamed role"),
        "actiontype": lambda: m.ActionType.objects.filter(pk=action_type.pk).update(name="Renamed action"),
        "ownershipassignment": lambda: OwnershipAssignmentFactory(action_type=action_type, owner_role=role),
        "roster": lambda: m.Roster.objects.filter(pk=roster.pk).update(rotation_days=1),
        "rostermember": lambda: m.RosterMember.objects.filter(roster=roster).delete(),
        "rosteroverride": lambda: RosterOverrideFactory(roster=roster, user=user),
        "certification": lambda: CertificationFactory(user=user, role=role),
        "escalationchain": lambda: m.EscalationChain.objects.filter(pk=chain.pk).update(final_outcome="reject"),
        "escalationstep": lambda: m.EscalationStep.objects.filter(chain=chain).update(wait_seconds=30),
        "approvalpolicy": lambda: m.ApprovalPolicy.objects.filter(pk=policy.pk).update(enabled=False),
        "approvalpolicy_action_types": lambda: policy.action_types.add(action_type),
        "approvalpolicy_cosigner_roles": lambda: policy.cosigner_roles.add(role),
        "user_is_active": lambda: type(user).objects.filter(pk=user.pk).update(is_active=False),
    }


WRITES = [
    "decisionrole",
    "actiontype",
    "ownershipassignment",
    "roster",
    "rostermember",
    "rosteroverride",
    "certification",
    "escalationchain",
    "escalationstep",
    "approvalpolicy",
    "approvalpolicy_action_types",
    "approvalpolicy_cosigner_roles",
    "user_is_active",
]


@pytest.mark.parametrize("table", WRITES)
def test_a_write_to_any_table_routing_reads_changes_the_token(table):
    write = _writes()[table]
    before = current_token()

    write()

    assert current_token() != before


def test_a_login_timestamp_does_not_change_the_token():
    user = UserFactory()
    before = current_token()

    type(user).objects.filter(pk=user.pk).update(last_login=timezone.now())

    assert current_token() == before


def test_the_snapshot_is_reused_while_the_token_is_unchanged():
    RosterFactory(users=[UserFactory()])

    assert current_snapshot() is current_snapshot()


def test_a_roster_change_is_seen_by_the_next_read():
    role = DecisionRoleFactory()
    first, second = UserFactory(), UserFactory()
    roster = RosterFactory(role=role, users=[first])
    now = timezone.now()
    assert [p.user for p in on_call(role=role, at=now)] == [first]

    RosterOverrideFactory(roster=roster, user=second, starts_at=now - timedelta(hours=1))

    assert [p.user for p in on_call(role=role, at=now)] == [second]


def test_a_rolled_back_change_never_makes_a_stale_snapshot_current():
    action_type = ActionTypeFactory()
    current_snapshot()
    try:
        with transaction.atomic():
            OwnershipAssignmentFactory(action_type=action_type)
            assert current_owner(action_type=action_type, at=timezone.now()) is not None
            raise RuntimeError("roll back")
    except RuntimeError:
        pass

    assert current_owner(action_type=action_type, at=timezone.now()) is None


def test_the_token_row_is_kept_by_a_trigger_in_the_database():
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT count(*) FROM pg_trigger WHERE tgname LIKE %s", ["%_config_version"])
        else:
            cursor.execute("SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND name LIKE %s", ["%_cv_%"])
        assert cursor.fetchone()[0] >= 13
