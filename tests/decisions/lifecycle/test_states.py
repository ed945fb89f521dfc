"""The one place a decision's status changes (``lifecycle.states``): every pair of statuses,
allowed or refused, and what a terminal status carries."""

from datetime import timedelta
from itertools import product

import pytest
from django.utils import timezone

from decisions.errors import InvalidInput
from decisions.lifecycle import states
from decisions.lifecycle.states import EXECUTES, InvalidTransition
from decisions.models import DecisionRequest, DecisionStatus
from governance.models import ActionType

S = DecisionStatus
TERMINAL = [s for s in S.values if s != S.PENDING]
ALLOWED_PAIRS = {(S.PENDING.value, to) for to in TERMINAL}
ACTION = {"action_type": "isolate-host", "target": {"host": "h"}}


def decision_in(status: str, *, risky: bool = False) -> DecisionRequest:
    """An unsaved decision in ``status``; ``risky``: its action type changes production state."""
    action_type = ActionType(name="Isolate", slug="isolate", changes_production_state=risky, system_owned=not risky)
    return DecisionRequest(action_type=action_type, status=status)


def final_action_for(status: str) -> dict | None:
    return ACTION if status in EXECUTES else None


@pytest.mark.parametrize(("current", "to"), list(product(S.values, S.values)))
def test_every_status_pair_is_allowed_exactly_when_the_table_says_so(current, to):
    decision = decision_in(current)
    at = timezone.now()

    if (current, to) in ALLOWED_PAIRS:
        states.decide(decision, to, at=at, final_action=final_action_for(to))
        assert (decision.status, decision.decided_at, decision.final_action) == (to, at, final_action_for(to))
    else:
        with pytest.raises(InvalidTransition):
            states.decide(decision, to, at=at, final_action=final_action_for(to))
        assert decision.status == current


def test_the_table_allows_only_the_pending_to_terminal_moves():
    allowed = {(current, to) for current, targets in states.ALLOWED.items() for to in targets}

    assert allowed == ALLOWED_PAIRS


@pytest.mark.parametrize("to", sorted(EXECUTES))
def test_a_verdict_that_executes_must_carry_its_final_action(to):
    with pytest.raises(InvalidInput):
        states.decide(decision_in(S.PENDING), to, at=timezone.now(), final_action=None)


@pytest.mark.parametrize("to", sorted(set(TERMINAL) - EXECUTES))
def test_a_verdict_that_does_not_execute_carries_no_final_action(to):
    with pytest.raises(InvalidInput):
        states.decide(decision_in(S.PENDING), to, at=timezone.now(), final_action=ACTION)


def test_auto_approval_of_a_production_changing_action_is_refused():
    decision = decision_in(S.PENDING, risky=True)

    with pytest.raises(InvalidTransition):
        states.decide(decision, S.AUTO_APPROVED, at=timezone.now(), final_action=ACTION)
    assert decision.status == S.PENDING


def test_a_refused_move_leaves_the_decided_instant_untouched():
    earlier = timezone.now() - timedelta(hours=1)
    decision = decision_in(S.REJECTED)
    decision.decided_at = earlier

    with pytest.raises(InvalidTransition):
        states.decide(decision, S.APPROVED, at=timezone.now(), final_action=ACTION)
    assert decision.decided_at == earlier
