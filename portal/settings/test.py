"""The test suite: the same settings as production where it matters, fast hashing."""

from pathlib import Path

from .base import *  # noqa: F403
from .base import env

DEBUG = False
SECRET_KEY = "countersign-test-key-not-for-production-0123456789abcdef"  # noqa: S105
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# True in CI: a test that needs PostgreSQL or Redis fails instead of skipping.
REQUIRE_SERVICES = env.bool("CI", default=False)
# Tasks run in-process, for real (retries included, without their countdowns). The end-to-end
# tests (tests/e2e) start a real worker and beat with CELERY_TASK_ALWAYS_EAGER=false.
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=True)
CELERY_TASK_EAGER_PROPAGATES = False
# The outbox publishes in the committing thread: a test sees its tasks done when the commit returns.
OUTBOX_DISPATCH = env.str("OUTBOX_DISPATCH", default="inline")
# whitenoise warns once per test client when STATIC_ROOT is missing (collectstatic never runs here).
Path(STATIC_ROOT).mkdir(parents=True, exist_ok=True)  # noqa: F405

# A fixed signing key (test only); each test gets its own witness file (tests/conftest.py).
LEDGER_SIGNING_KEY = "Q291bnRlcnNpZ24tdGVzdC1sZWRnZXIta2V5LTAwMDA="  # noqa: S105 - the test suite's own key
LEDGER_WITNESS_FILE = env.str("LEDGER_WITNESS_FILE", default=str(VAR_DIR / "test-witness" / "checkpoints.jsonl"))  # noqa: F405
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":  # noqa: F405
    DATABASES["default"]["ENGINE"] = "tests.pgbackend"  # noqa: F405 - flushes with the record's triggers off
# The suite's receivers listen on loopback; the URL guard's own tests turn it on.
OUTBOUND_ALLOW_PRIVATE = True
LEDGER_VERIFY_RECHECK_SECONDS = 0.0  # the suite tampers on purpose: no pause before the second pass
