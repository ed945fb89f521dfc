"""The replay tests' history (``tests.decisions.replay.history``) as fixtures."""

import pytest

from tests.decisions.replay.history import History, make_draft, make_history


@pytest.fixture
def history(db) -> History:
    return make_history()


@pytest.fixture
def draft_of(history):
    """``draft_of(policy, **changes)``: a saved draft of ``policy`` with ``changes`` applied."""
    return lambda policy, **changes: make_draft(history, policy, **changes)
