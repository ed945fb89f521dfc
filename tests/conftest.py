"""Suite-wide fixtures. Tests marked ``postgres`` need PostgreSQL, tests marked ``redis`` a
Redis server: without them they skip on a developer machine and *fail* in CI (CI=true), so a
missing service can never pass silently."""

from urllib.parse import urlsplit

import pytest
from django.db import connection

from tests.needs import missing, redis_answers, redis_server_url


def _missing_service(request) -> str | None:
    if request.node.get_closest_marker("postgres") and connection.vendor != "postgresql":
        return "needs PostgreSQL: set DATABASE_URL=postgres://..."
    if request.node.get_closest_marker("redis"):
        url = redis_server_url()
        if not redis_answers(url):
            where = urlsplit(url)
            return f"needs Redis: nothing answers at {where.hostname}:{where.port or 6379} (CELERY_BROKER_URL)"
    return None


@pytest.fixture(autouse=True)
def _require_services(request):
    message = _missing_service(request)
    if message is not None:
        missing(message)


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


@pytest.fixture(autouse=True)
def _own_witness(settings, tmp_path):
    """Each test's checkpoints go to a witness file of its own: the database is new for every
    test, and a witness remembering another test's log would (rightly) call this one rewritten."""
    settings.LEDGER_WITNESS_FILE = str(tmp_path / "witness" / "checkpoints.jsonl")
