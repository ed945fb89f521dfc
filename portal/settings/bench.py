"""Benchmarks: production settings (no DEBUG) served over plain HTTP on loopback, plus the
baseline endpoint that bench/intake compares intake with."""

from .base import *  # noqa: F403
from .base import INSTALLED_APPS, env

DEBUG = False
SECRET_KEY = env.str("SECRET_KEY", default="bench-" + "x" * 60)
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = [*INSTALLED_APPS, "bench.baseline"]
ROOT_URLCONF = "bench.urls"
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "ERROR"}}
