"""Where the portal may send requests: no SSRF through a webhook or chat URL a lead configured.

In production (``OUTBOUND_ALLOW_PRIVATE`` off) a URL whose host resolves to a loopback,
link-local (cloud metadata included), private, shared, reserved or multicast address is refused,
unless ``OUTBOUND_ALLOWED_HOSTS`` names the host or a network holding the address. The check runs
when the URL is saved (a field validator) and again at delivery, on the addresses DNS gives then;
the caller connects to the checked address itself, so a name that re-resolves elsewhere between
the check and the connection (DNS rebinding) gains nothing.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.deconstruct import deconstructible

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class RefusedURL(ValueError):
    """The URL may not be called: the message says why (it is shown to the lead and logged)."""


@dataclass(frozen=True)
class Target:
    """A URL's parts and the one checked address to connect to."""

    scheme: str
    host: str
    port: int
    address: str
    path: str


def _public(ip: IPAddress) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def _allowlisted(host: str, ip: IPAddress) -> bool:
    for entry in settings.OUTBOUND_ALLOWED_HOSTS:
        entry = entry.strip().lower()
        if not entry:
            continue
        if entry == host:
            return True
        try:
            network = ipaddress.ip_network(entry, strict=False)
        except ValueError:
            continue
        if ip.version == network.version and ip in network:
            return True
    return False


def resolve(host: str, port: int) -> list[str]:
    """The addresses ``host`` resolves to now, in the resolver's order."""
    try:
        answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise RefusedURL(f"{host} does not resolve ({exc}).") from exc
    seen: list[str] = []
    for *_, sockaddr in answers:
        address = str(sockaddr[0])
        if address not in seen:
            seen.append(address)
    return seen


def checked_target(url: str, *, enforce: bool | None = None) -> Target:
    """Resolve ``url``'s host and return the address to connect to; ``RefusedURL`` when the URL is
    malformed or (with the guard on) any address it resolves to is not public nor allowlisted.
    ``enforce`` None: the guard is on unless OUTBOUND_ALLOW_PRIVATE; False: off (operator URLs)."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise RefusedURL("Only http and https URLs with a host are allowed.")
    host = parts.hostname.lower()
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise RefusedURL(f"Bad port in {url}.") from exc
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    addresses = resolve(host, port)
    if not addresses:
        raise RefusedURL(f"{host} does not resolve.")
    if enforce is None:
        enforce = not settings.OUTBOUND_ALLOW_PRIVATE
    if enforce:
        for address in addresses:
            ip = ipaddress.ip_address(address.split("%")[0])
            if not _public(ip) and not _allowlisted(host, ip):
                raise RefusedURL(
                    f"{host} resolves to {ip}, a loopback, link-local, private or reserved address: "
                    "add it to OUTBOUND_ALLOWED_HOSTS if it is meant."
                )
    return Target(scheme=parts.scheme, host=host, port=port, address=addresses[0], path=path)


@deconstructible
class OutboundURLValidator:
    """Field validator: the URL must be one the portal may call (see the module docstring)."""

    def __call__(self, value: str) -> None:
        if not value or settings.OUTBOUND_ALLOW_PRIVATE:
            return
        try:
            checked_target(value)
        except RefusedURL as exc:
            raise ValidationError(str(exc), code="refused_url") from exc

    def __eq__(self, other: object) -> bool:
        return isinstance(other, OutboundURLValidator)

    def __hash__(self) -> int:
        return hash(type(self))
