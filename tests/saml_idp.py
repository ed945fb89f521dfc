"""A real SAML 2.0 identity provider for the tests: pysaml2's ``Server``, with its own key and
self-signed certificate, reading the portal's SP metadata and answering its AuthnRequests with
signed assertions (xmlsec1 signs them, as in production IdPs)."""

from __future__ import annotations

import base64
import datetime as dt
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.config import IdPConfig
from saml2.saml import NAME_FORMAT_URI, NAMEID_FORMAT_PERSISTENT, NameID
from saml2.server import Server
from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256

ENTITY_ID = "https://idp.acme.test/saml"
SSO_URL = "https://idp.acme.test/saml/sso"
# The names pysaml2 gives these attributes in the URI name format.
UID = "urn:oid:0.9.2342.19200300.100.1.1"
EMAIL = "urn:oid:1.2.840.113549.1.9.1.1"
GROUPS = "groups"


def _key_and_certificate(folder: Path) -> tuple[Path, Path, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "idp.acme.test")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    key_path, cert_path = folder / "idp.key", folder / "idp.crt"
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    pem = cert.public_bytes(serialization.Encoding.PEM)
    cert_path.write_bytes(pem)
    body = "".join(pem.decode().strip().splitlines()[1:-1])
    return key_path, cert_path, body


class SAMLIdP:
    """``SAMLIdP(tmp_path, sp_metadata)``; ``app_settings(...)`` configures the portal for it;
    ``answer(redirect_url, identity, name_id)`` is the signed SAMLResponse to post to the ACS."""

    def __init__(self, folder: Path) -> None:
        self.key_path, self.cert_path, self.certificate = _key_and_certificate(folder)
        self.server: Server | None = None

    def app_settings(self, *, slug: str = "acme", provider_id: str = "acme-saml") -> dict:
        from django.conf import settings

        return {
            "provider_id": provider_id,
            "name": "Acme SAML",
            "client_id": slug,
            "settings": {
                "idp": {"entity_id": ENTITY_ID, "sso_url": SSO_URL, "x509cert": self.certificate},
                "attribute_mapping": {"uid": UID, "email": EMAIL, "username": UID},
                "groups_claim": GROUPS,
                "advanced": settings.SAML_ADVANCED,
            },
        }

    def trust(self, sp_metadata: str) -> None:
        """Start the IdP, knowing the SP by its metadata (as an IdP administrator would)."""
        config = IdPConfig()
        config.load(
            {
                "entityid": ENTITY_ID,
                "service": {
                    "idp": {
                        "endpoints": {"single_sign_on_service": [(SSO_URL, BINDING_HTTP_REDIRECT)]},
                        "name_id_format": [NAMEID_FORMAT_PERSISTENT],
                        "policy": {"default": {"lifetime": {"minutes": 5}, "name_form": NAME_FORMAT_URI}},
                    }
                },
                "key_file": str(self.key_path),
                "cert_file": str(self.cert_path),
                "metadata": {"inline": [sp_metadata]},
            }
        )
        self.server = Server(config=config)

    def answer(self, saml_request: str, *, uid: str, groups: list[str]) -> str:
        """The base64 SAMLResponse for the (HTTP-Redirect) ``saml_request``: assertion signed."""
        assert self.server is not None
        request = self.server.parse_authn_request(saml_request, BINDING_HTTP_REDIRECT)
        message = request.message
        sp = message.issuer.text
        acs = (
            message.assertion_consumer_service_url
            or self.server.metadata.assertion_consumer_service(sp, binding=BINDING_HTTP_POST)[0]["location"]
        )
        response = self.server.create_authn_response(
            {"uid": [uid], "email": [f"{uid}@acme.test"], GROUPS: groups},
            in_response_to=message.id,
            destination=acs,
            sp_entity_id=sp,
            name_id=NameID(format=NAMEID_FORMAT_PERSISTENT, text=uid),
            authn={"class_ref": "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"},
            sign_assertion=True,
            sign_response=False,
            sign_alg=SIG_RSA_SHA256,
            digest_alg=DIGEST_SHA256,
        )
        return base64.b64encode(str(response).encode()).decode()
