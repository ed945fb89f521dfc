"""A real OpenID Connect provider for the tests: oidc-provider-mock run as its own process on a
free loopback port (its authorisation page asks for a subject; claims are set per subject)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class OIDCProvider:
    """``with OIDCProvider() as idp``: ``idp.url`` is its issuer; ``idp.set_user(sub, claims)``."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> OIDCProvider:
        env = {**os.environ, "AUTHLIB_INSECURE_TRANSPORT": "1", "PYTHONWARNINGS": "ignore"}
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "oidc_provider_mock", "--host", "127.0.0.1", "--port", str(self.port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/.well-known/openid-configuration", timeout=1):  # noqa: S310
                    return self
            except (urllib.error.URLError, ConnectionError):
                if self.process.poll() is not None:
                    raise RuntimeError("the OIDC provider exited at start") from None
                time.sleep(0.2)
        raise RuntimeError("the OIDC provider did not answer within 30 s")

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)

    def set_user(self, sub: str, claims: dict) -> None:
        request = urllib.request.Request(  # noqa: S310 - loopback
            f"{self.url}/users/{sub}",
            data=json.dumps(claims).encode(),
            method="PUT",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            assert response.status == 204


def oidc_app_settings(idp: OIDCProvider, *, provider_id: str = "acme", name: str = "Acme IdP") -> dict:
    """SOCIALACCOUNT_PROVIDERS for ``idp``, as portal/settings/base.py builds it from the environment."""
    return {
        "openid_connect": {
            "OAUTH_PKCE_ENABLED": True,
            "APPS": [
                {
                    "provider_id": provider_id,
                    "name": name,
                    "client_id": "countersign",
                    "secret": "countersign-client-secret",
                    "settings": {
                        "server_url": idp.url,
                        "oauth_pkce_enabled": True,
                        "groups_claim": "groups",
                    },
                }
            ],
        },
        "saml": {"APPS": []},
    }
