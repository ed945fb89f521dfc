"""Benchmarks: production settings (no DEBUG) served over plain HTTP on loopback, plus the
baseline endpoint that bench/intake compares intake with."""

from .base import *  # noqa: F403
from .base import INSTALLED_APPS, env

DEBUG = False
SECRET_KEY = env.str("SECRET_KEY", default="bench-" + "x" * 60)
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = [*INSTALLED_APPS, "bench.baseline"]
ROOT_URLCONF = "bench.urls"
# The benches' workers "send" their notification emails into memory.
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.locmem.EmailBackend")
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "ERROR"}}
# Benchmarks sign with a fixed key and keep their witness apart from the demo's.
LEDGER_SIGNING_KEY = env.str("LEDGER_SIGNING_KEY", default="YmVuY2gtb25seS1sZWRnZXIta2V5LTAwMDAwMDAwMDA=")
LEDGER_WITNESS_FILE = env.str(
    "LEDGER_WITNESS_FILE",
    default=str(VAR_DIR / "bench-witness" / "checkpoints.jsonl"),  # noqa: F405
)
OUTBOUND_ALLOW_PRIVATE = True  # the benchmarks' receivers are on loopback
