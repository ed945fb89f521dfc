"""A text field stored encrypted (Fernet: AES-128-CBC with HMAC-SHA256, from ``cryptography``).

The keys come from the environment (``SECRET_ENCRYPTION_KEYS``, comma-separated Fernet keys):
the first encrypts, every one decrypts (``MultiFernet``), so a key is rotated by putting the new
one first and running ``manage.py rotate_secret_encryption``. Outside production, with no key
set, a key derived from ``SECRET_KEY`` is used so that ``make run`` needs no setup; production
refuses to start without real keys (portal/settings/production.py).

Why a small field over a package: ``cryptography`` is already a dependency (the record's
Ed25519 keys) and is the library the Fernet packages wrap; the field is three methods, and
MultiFernet gives key rotation, which django-fernet-encrypted-fields 0.4 does only through
salts derived from ``SECRET_KEY``.
"""

from __future__ import annotations

import base64
import hashlib
from functools import cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models

TOKEN_PREFIX = "gAAAAA"  # noqa: S105 - not a secret: every Fernet token starts with its version byte and a timestamp


def _derived_key(secret_key: str) -> bytes:
    digest = hashlib.sha256(b"countersign-secret-encryption:" + secret_key.encode()).digest()
    return base64.urlsafe_b64encode(digest)


@cache
def _fernet(keys: tuple[str, ...], secret_key: str) -> MultiFernet:
    try:
        fernets = [Fernet(k.encode()) for k in keys] if keys else [Fernet(_derived_key(secret_key))]
    except ValueError as exc:
        raise ImproperlyConfigured(
            "SECRET_ENCRYPTION_KEYS holds a value that is not a Fernet key "
            "(python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')."
        ) from exc
    return MultiFernet(fernets)


def secret_box() -> MultiFernet:
    """The keys in force now (settings are read on each call: tests and rotation change them)."""
    return _fernet(tuple(settings.SECRET_ENCRYPTION_KEYS), settings.SECRET_KEY)


def encrypt(plain: str) -> str:
    return secret_box().encrypt(plain.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return secret_box().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ImproperlyConfigured(
            "A stored secret cannot be decrypted with SECRET_ENCRYPTION_KEYS: was the key that encrypted it removed?"
        ) from exc


class EncryptedTextField(models.TextField):
    """Plain text in Python, a Fernet token in the database. Never filter or order on it."""

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> str | None:
        if value is None or value == "":
            return value
        return decrypt(value)

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return encrypt(value)
