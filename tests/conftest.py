"""Suite-wide fixtures. Tests marked ``postgres`` need PostgreSQL: without it they skip on a
developer machine and *fail* in CI (CI=true), so a missing service can never pass silently."""

import os

import pytest
from django.db import connection


def _ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@pytest.fixture(autouse=True)
def _require_services(request):
    if request.node.get_closest_marker("postgres") and connection.vendor != "postgresql":
        message = "needs PostgreSQL: set DATABASE_URL=postgres://..."
        if _ci():
            pytest.fail(f"CI=true but {message}")
        pytest.skip(message)


@pytest.fixture
def now():
    from django.utils import timezone

    return timezone.now()


@pytest.fixture(autouse=True)
def _fresh_content_types():
    """A transactional test's flush recreates content types with new ids; Django's per-process
    cache would still hand out the old ones (auditlog's foreign key then fails)."""
    from django.contrib.contenttypes.models import ContentType

    ContentType.objects.clear_cache()
