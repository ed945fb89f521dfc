"""The production settings: secure by default, each TLS setting from the environment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SECRET = "x" * 20 + "production-test-secret-key-0123456789abcdefghijklmnop"
LEDGER_KEY = "Q291bnRlcnNpZ24tdGVzdC1sZWRnZXIta2V5LTAwMDA="
FIELD_KEY = "4ISAbvR5WRNzPgIFIHdKJj2YgeCC9LwJdVDb0-OAqvw="
NAMES = (
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
    "SECURE_SSL_REDIRECT",
)


def _env(**extra: str) -> dict[str, str]:
    # Only what a deployment sets: the browser tests' DJANGO_ALLOW_ASYNC_UNSAFE must not leak in.
    leaking = {*NAMES, "DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE", "OUTBOUND_ALLOWED_HOSTS"}
    env = {k: v for k, v in os.environ.items() if k not in leaking}
    env.update(
        DJANGO_SETTINGS_MODULE="portal.settings.production",
        SECRET_KEY=SECRET,
        LEDGER_SIGNING_KEY=LEDGER_KEY,
        SECRET_ENCRYPTION_KEYS=FIELD_KEY,
        **extra,
    )
    return env


def _production_settings(**extra: str) -> dict:
    code = (
        "import json, django; django.setup(); from django.conf import settings; "
        f"print(json.dumps({{n: getattr(settings, n) for n in {NAMES!r}}}))"
    )
    out = subprocess.run(  # noqa: S603 - our own interpreter, fixed arguments
        [sys.executable, "-c", code], cwd=ROOT, env=_env(**extra), capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_production_is_secure_by_default():
    values = _production_settings()
    assert values["SESSION_COOKIE_SECURE"] is True
    assert values["CSRF_COOKIE_SECURE"] is True
    assert values["SECURE_HSTS_SECONDS"] == 31536000
    assert values["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is True
    assert values["SECURE_SSL_REDIRECT"] is True


def test_plain_http_trial_turns_each_tls_setting_off_from_the_environment():
    values = _production_settings(
        SESSION_COOKIE_SECURE="false",
        CSRF_COOKIE_SECURE="false",
        SECURE_HSTS_SECONDS="0",
        SECURE_HSTS_INCLUDE_SUBDOMAINS="false",
        SECURE_HSTS_PRELOAD="false",
        SECURE_SSL_REDIRECT="false",
    )
    assert values == dict.fromkeys(NAMES, False) | {"SECURE_HSTS_SECONDS": 0}


@pytest.mark.parametrize("name", ["SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE"])
def test_each_cookie_setting_is_read_on_its_own(name):
    values = _production_settings(**{name: "false"})
    assert values[name] is False
    other = ({"SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE"} - {name}).pop()
    assert values[other] is True


def test_check_deploy_is_clean_with_the_defaults():
    out = subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=_env(),
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
