"""Fixtures of the governance tests."""

import pytest

from governance import rbac
from tests.governance.factories import make_user_in_group


@pytest.fixture
def lead(client):
    """A governance lead, signed in to the test client."""
    user = make_user_in_group(rbac.GOVERNANCE_LEAD)
    client.force_login(user)
    return user
