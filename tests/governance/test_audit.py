"""Every change to governance configuration is audited with its actor and its reason."""

import inspect
from datetime import UTC, datetime, timedelta

import pytest
from auditlog.models import LogEntry
from auditlog.registry import auditlog
from django.core.exceptions import ValidationError
from django.db import models

from governance import models as governance_models
from governance.audit import acting_as, change_reason
from governance.models import ApprovalPolicy, RosterMember
from governance.services import approval_policy_save, ownership_assign
from tests.governance.factories import (
    ActionTypeFactory,
    DecisionRoleFactory,
    EscalationChainFactory,
    OwnershipAssignmentFactory,
    RosterFactory,
    UserFactory,
    make_owned_action_type,
)

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _entries(instance):
    return list(LogEntry.objects.get_for_object(instance).order_by("pk"))


def test_ownership_assign_audits_actor_reason_and_ticket():
    lead = UserFactory()

    assignment = ownership_assign(
        actor=lead,
        action_type=ActionTypeFactory(),
        owner_role=DecisionRoleFactory(),
        effective_from=T0,
        reason="New on-call model for containment",
        ticket_ref="GOV-42",
    )

    [entry] = _entries(assignment)
    assert entry.action == LogEntry.Action.CREATE
    assert entry.actor == lead
    assert entry.additional_data == {"reason": "New on-call model for containment", "ticket_ref": "GOV-42"}


def test_ownership_assign_without_ticket_audits_reason_only():
    assignment = ownership_assign(
        actor=UserFactory(),
        action_type=ActionTypeFactory(),
        owner_role=DecisionRoleFactory(),
        effective_from=T0,
        reason="Initial owner",
    )

    [entry] = _entries(assignment)
    assert entry.additional_data == {"reason": "Initial owner"}


def test_ownership_hand_over_audits_the_end_of_the_previous_assignment():
    lead = UserFactory()
    action_type = ActionTypeFactory()
    previous = OwnershipAssignmentFactory(action_type=action_type, effective_from=T0)
    handover_at = T0 + timedelta(days=10)

    ownership_assign(
        actor=lead,
        action_type=action_type,
        owner_role=DecisionRoleFactory(),
        effective_from=handover_at,
        reason="Reorganisation",
        ticket_ref="GOV-7",
    )

    update = _entries(previous)[-1]
    assert update.action == LogEntry.Action.UPDATE
    assert update.actor == lead
    assert update.additional_data == {"reason": "Reorganisation", "ticket_ref": "GOV-7"}
    assert set(update.changes_dict) == {"effective_to"}
    assert update.changes_dict["effective_to"][0] == "None"


def test_rejected_ownership_assign_writes_no_audit_entry():
    action_type = ActionTypeFactory()
    OwnershipAssignmentFactory(action_type=action_type, effective_from=T0, effective_to=T0 + timedelta(days=5))
    lead, role = UserFactory(), DecisionRoleFactory()
    before = LogEntry.objects.count()

    with pytest.raises(ValidationError, match="already has an owner"):
        ownership_assign(
            actor=lead,
            action_type=action_type,
            owner_role=role,
            effective_from=T0 + timedelta(days=1),
            reason="overlap",
        )

    assert LogEntry.objects.count() == before


def test_approval_policy_save_audits_added_action_types(now):
    action_type, _role, _roster, _users = make_owned_action_type(members=1)
    lead = UserFactory()

    policy = approval_policy_save(
        actor=lead,
        policy=ApprovalPolicy(name="Containment", priority=1, escalation_chain=EscalationChainFactory()),
        action_types=[action_type],
        cosigner_roles=[],
        reason="Containment needs a human",
        ticket_ref="GOV-9",
        at=now,
    )

    [m2m] = [e for e in _entries(policy) if "action_types" in (e.changes or {})]
    assert m2m.changes["action_types"] == {"type": "m2m", "operation": "add", "objects": [str(action_type)]}
    assert m2m.actor == lead
    assert m2m.additional_data == {"reason": "Containment needs a human", "ticket_ref": "GOV-9"}


def test_approval_policy_save_audits_removed_action_types(now):
    first, _role, _roster, _users = make_owned_action_type(members=1)
    second, _role, _roster, _users = make_owned_action_type(members=1)

    policy = approval_policy_save(
        actor=None,
        policy=ApprovalPolicy(name="Containment", priority=1, escalation_chain=EscalationChainFactory()),
        action_types=[first],
        cosigner_roles=[],
        reason="new",
        at=now,
    )

    approval_policy_save(actor=None, policy=policy, action_types=[second], cosigner_roles=[], reason="swap", at=now)

    changes = [e.changes["action_types"] for e in _entries(policy) if "action_types" in (e.changes or {})]
    assert {"type": "m2m", "operation": "delete", "objects": [str(first)]} in changes
    assert {"type": "m2m", "operation": "add", "objects": [str(second)]} in changes


def test_acting_as_none_records_no_actor():
    with acting_as(None):
        role = DecisionRoleFactory()

    [entry] = _entries(role)
    assert entry.actor is None


def test_acting_as_none_inside_a_user_block_records_no_actor():
    with acting_as(UserFactory()), acting_as(None):
        role = DecisionRoleFactory()

    [entry] = _entries(role)
    assert entry.actor is None


def test_acting_as_restores_the_outer_actor_after_an_inner_block():
    outer, inner = UserFactory(), UserFactory()

    with acting_as(outer):
        with acting_as(inner):
            inside = DecisionRoleFactory()
        after = DecisionRoleFactory()

    assert _entries(inside)[0].actor == inner
    assert _entries(after)[0].actor == outer


def test_no_actor_after_leaving_acting_as():
    with acting_as(UserFactory()):
        pass

    role = DecisionRoleFactory()

    assert _entries(role)[0].actor is None


def test_change_reason_applies_only_inside_its_block():
    with change_reason("inside"):
        inside = DecisionRoleFactory()
    outside = DecisionRoleFactory()

    assert _entries(inside)[0].additional_data == {"reason": "inside"}
    assert _entries(outside)[0].additional_data is None


def test_roster_member_creation_audited_with_roster_id():
    roster = RosterFactory()

    member = RosterMember.objects.create(roster=roster, user=UserFactory(), position=0)

    [entry] = _entries(member)
    assert entry.action == LogEntry.Action.CREATE
    assert entry.additional_data["roster"] == {"id": roster.pk, "name": roster.name}


def test_roster_member_deletion_audited_with_roster_id():
    roster = RosterFactory()
    member = RosterMember.objects.create(roster=roster, user=UserFactory(), position=0)

    with change_reason("Left the team"):
        member.delete()

    delete = LogEntry.objects.get(action=LogEntry.Action.DELETE, content_type__model="rostermember")
    assert delete.additional_data == {"reason": "Left the team", "roster": {"id": roster.pk, "name": roster.name}}


def _concrete_governance_models():
    return [
        model
        for _name, model in inspect.getmembers(governance_models, inspect.isclass)
        if issubclass(model, models.Model)
        and model.__module__ == governance_models.__name__
        and not model._meta.abstract
        and not model._meta.proxy
        and model is not governance_models.ConfigVersion  # a cache token kept by triggers, not configuration
    ]


def test_governance_models_module_defines_concrete_models():
    assert {m.__name__ for m in _concrete_governance_models()} >= {"ActionType", "OwnershipAssignment", "Roster"}


@pytest.mark.parametrize("model", _concrete_governance_models(), ids=lambda model: model.__name__)
def test_every_concrete_governance_model_is_registered_with_auditlog(model):
    assert auditlog.contains(model)
