"""The checkpoint signing key (Ed25519), kept outside the database, and the public keys that
verification trusts.

``LEDGER_SIGNING_KEY`` (the key itself, base64 of its 32 raw bytes, or PEM) or
``LEDGER_SIGNING_KEY_FILE`` (a file holding either) names the current key; production refuses to
start without one. ``LEDGER_TRUSTED_KEYS`` lists the public keys of earlier signing keys (base64),
so checkpoints signed before a rotation still verify. A key is named by its key id, the first 16
hex digits of the SHA-256 of its public key.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from decisions.verifier import key_id


class SigningKeyMissing(ImproperlyConfigured):
    """No signing key is configured: checkpoints cannot be signed."""


def parse_private(text: str) -> Ed25519PrivateKey:
    text = text.strip()
    if text.startswith("-----BEGIN"):
        key = serialization.load_pem_private_key(text.encode(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ImproperlyConfigured("The ledger signing key must be an Ed25519 key.")
        return key
    try:
        raw = base64.b64decode(text, validate=True)
        return Ed25519PrivateKey.from_private_bytes(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"The ledger signing key is not a base64 Ed25519 key: {exc}") from exc


def signing_key() -> Ed25519PrivateKey:
    """The current signing key; raises SigningKeyMissing when none is configured."""
    if settings.LEDGER_SIGNING_KEY:
        return parse_private(settings.LEDGER_SIGNING_KEY)
    path = settings.LEDGER_SIGNING_KEY_FILE
    if path and Path(path).is_file():
        return parse_private(Path(path).read_text())
    raise SigningKeyMissing(
        "No ledger signing key: set LEDGER_SIGNING_KEY or LEDGER_SIGNING_KEY_FILE "
        "(manage.py ledger_keygen writes a new key file)."
    )


def public_bytes(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_key_b64(key: Ed25519PrivateKey) -> str:
    return base64.b64encode(public_bytes(key)).decode()


def trusted_keys() -> dict[str, bytes]:
    """key id -> public key, for every key whose checkpoints verification accepts: the current
    signing key's (when configured) and each earlier one in LEDGER_TRUSTED_KEYS."""
    keys: dict[str, bytes] = {}
    for text in settings.LEDGER_TRUSTED_KEYS:
        try:
            raw = base64.b64decode(text.strip(), validate=True)
        except ValueError as exc:
            raise ImproperlyConfigured(f"LEDGER_TRUSTED_KEYS holds a value that is not base64: {exc}") from exc
        keys[key_id(raw)] = raw
    try:
        current = public_bytes(signing_key())
    except SigningKeyMissing:
        return keys
    keys[key_id(current)] = current
    return keys


def generate_key_file(path: Path) -> str:
    """Write a new signing key to ``path`` (readable by its owner only); returns its key id."""
    key = Ed25519PrivateKey.generate()
    raw = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(base64.b64encode(raw).decode() + "\n")
    return key_id(public_bytes(key))
