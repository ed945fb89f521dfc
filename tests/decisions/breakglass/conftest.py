"""A decision whose policy allows break-glass: three certified people on call for the owning role
(two approvals required), a governance lead, and a chain whose one step has its own signer."""

from dataclasses import dataclass
from typing import Any

import pytest

from governance import rbac
from tests.governance.factories import (
    DecisionRoleFactory,
    EscalationChainFactory,
    make_signers,
    make_user_in_group,
)


@dataclass
class Glass:
    decision: Any
    staffed: Any
    signers: list
    lead: Any
    step_role: Any
    step_signer: Any
    caller: Any


@pytest.fixture
def make_glass(make_staffed, make_caller, make_decision):
    def make(*, allows=True, review_hours=24, required_approvals=2, people=3) -> Glass:
        staffed = make_staffed(people=people, required_approvals=required_approvals)
        step_role = DecisionRoleFactory(name="Incident Commander")
        (step_signer,) = make_signers(step_role, 1)
        chain = EscalationChainFactory(steps=[(step_role, 3600)])
        policy = staffed.policy
        policy.escalation_chain = chain
        policy.allows_break_glass = allows
        policy.break_glass_review_hours = review_hours
        policy.save()
        caller = make_caller(action_types=[staffed.action_type])
        lead = make_user_in_group(rbac.GOVERNANCE_LEAD, username="grace", email="grace@example.test")
        decision = make_decision(caller.integration, staffed.action_type)
        return Glass(decision, staffed, staffed.signers, lead, step_role, step_signer, caller)

    return make


@pytest.fixture
def glass(make_glass) -> Glass:
    return make_glass()
