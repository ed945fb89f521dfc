"""Escalation chains: at least one step, positive waits, and a fail-safe end for risky actions."""

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from governance.models import EscalationChain, EscalationStep
from governance.services import escalation_chain_validate
from tests.governance.factories import (
    ActionTypeFactory,
    ApprovalPolicyFactory,
    DecisionRoleFactory,
    EscalationChainFactory,
)

AUTO_APPROVE = EscalationChain.FinalOutcome.AUTO_APPROVE


def _chain_without_steps():
    # The factory adds a default step when given none; these tests place the first step themselves.
    return EscalationChain.objects.create(name="Bare chain")


def test_new_chain_defaults_to_expire_with_no_action():
    assert EscalationChain(name="Default").final_outcome == EscalationChain.FinalOutcome.EXPIRE


@pytest.mark.django_db
def test_stored_chain_defaults_to_expire_with_no_action():
    chain = EscalationChain.objects.create(name="Default")

    chain.refresh_from_db()
    assert chain.final_outcome == "expire"


@pytest.mark.django_db
def test_chain_without_steps_rejected():
    with pytest.raises(ValidationError) as excinfo:
        escalation_chain_validate(chain=EscalationChain(name="Empty"), step_count=0)

    assert excinfo.value.message_dict["__all__"] == ["An escalation chain needs at least one step."]


@pytest.mark.django_db
def test_chain_with_one_step_accepted():
    escalation_chain_validate(chain=EscalationChain(name="Single"), step_count=1)


@pytest.mark.django_db
def test_auto_approving_chain_rejected_when_a_policy_using_it_covers_production_changing_type():
    chain = EscalationChainFactory(final_outcome=AUTO_APPROVE)
    ApprovalPolicyFactory(escalation_chain=chain, action_types=[ActionTypeFactory(name="Isolate host")])

    with pytest.raises(ValidationError) as excinfo:
        escalation_chain_validate(chain=chain, step_count=1)

    [message] = excinfo.value.message_dict["final_outcome"]
    assert "policies using this chain cover: Isolate host" in message


@pytest.mark.django_db
def test_auto_approving_chain_rejected_when_a_policy_using_it_covers_regulated_data_type():
    chain = EscalationChainFactory(final_outcome=AUTO_APPROVE)
    regulated = ActionTypeFactory(name="Export records", changes_production_state=False, touches_regulated_data=True)
    ApprovalPolicyFactory(escalation_chain=chain, action_types=[regulated])

    with pytest.raises(ValidationError, match="cover: Export records"):
        escalation_chain_validate(chain=chain, step_count=1)


@pytest.mark.django_db
def test_auto_approving_chain_rejected_when_a_policy_using_it_covers_every_action_type():
    chain = EscalationChainFactory(final_outcome=AUTO_APPROVE)
    ActionTypeFactory(name="Block IP")
    ApprovalPolicyFactory(escalation_chain=chain, action_types=[])

    with pytest.raises(ValidationError, match="cover: Block IP"):
        escalation_chain_validate(chain=chain, step_count=1)


@pytest.mark.django_db
def test_auto_approving_chain_rejected_for_policies_given_before_they_are_saved():
    chain = EscalationChainFactory(final_outcome=AUTO_APPROVE)
    policy = ApprovalPolicyFactory(action_types=[ActionTypeFactory(name="Disable account")])

    with pytest.raises(ValidationError, match="cover: Disable account"):
        escalation_chain_validate(chain=chain, step_count=1, policies=[policy])


@pytest.mark.django_db
def test_auto_approving_chain_accepted_when_its_policies_cover_only_automation_types():
    ActionTypeFactory(changes_production_state=True)
    chain = EscalationChainFactory(final_outcome=AUTO_APPROVE)
    ApprovalPolicyFactory(escalation_chain=chain, action_types=[ActionTypeFactory(automation=True)])

    escalation_chain_validate(chain=chain, step_count=1)


@pytest.mark.django_db
def test_unsaved_auto_approving_chain_accepted_while_no_policy_uses_it():
    ActionTypeFactory(changes_production_state=True)

    escalation_chain_validate(chain=EscalationChain(name="New", final_outcome=AUTO_APPROVE), step_count=1)


@pytest.mark.django_db
def test_expiring_chain_accepted_for_policy_covering_production_changing_type():
    chain = EscalationChainFactory(final_outcome=EscalationChain.FinalOutcome.EXPIRE)
    ApprovalPolicyFactory(escalation_chain=chain, action_types=[ActionTypeFactory()])

    escalation_chain_validate(chain=chain, step_count=1)


@pytest.mark.django_db
def test_zero_wait_step_rejected_by_full_clean():
    step = EscalationStep(chain=_chain_without_steps(), position=0, role=DecisionRoleFactory(), wait_seconds=0)

    with pytest.raises(ValidationError, match="longer than zero seconds"):
        step.full_clean()


@pytest.mark.django_db
def test_database_refuses_zero_wait_step():
    chain = _chain_without_steps()

    with pytest.raises(IntegrityError), transaction.atomic():
        EscalationStep.objects.create(chain=chain, position=0, role=DecisionRoleFactory(), wait_seconds=0)


@pytest.mark.django_db
def test_one_second_wait_step_accepted():
    step = EscalationStep(chain=_chain_without_steps(), position=0, role=DecisionRoleFactory(), wait_seconds=1)

    step.full_clean()
    step.save()


@pytest.mark.django_db
def test_database_refuses_two_steps_at_one_position_in_a_chain():
    chain = EscalationChainFactory(steps=[(DecisionRoleFactory(), 600)])

    with pytest.raises(IntegrityError), transaction.atomic():
        EscalationStep.objects.create(chain=chain, position=0, role=DecisionRoleFactory(), wait_seconds=300)


@pytest.mark.django_db
def test_same_position_allowed_in_different_chains():
    EscalationChainFactory(steps=[(DecisionRoleFactory(), 600)])
    EscalationChainFactory(steps=[(DecisionRoleFactory(), 600)])

    assert EscalationStep.objects.filter(position=0).count() == 2


@pytest.mark.django_db
def test_steps_are_ordered_by_position():
    first, second = DecisionRoleFactory(), DecisionRoleFactory()
    chain = EscalationChainFactory(steps=[(first, 600), (second, 300)])

    assert [step.role for step in chain.steps.all()] == [first, second]
