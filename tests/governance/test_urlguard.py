"""The outbound URL guard: which addresses production refuses, and what the allowlist lets through."""

import pytest
from django.core.exceptions import ValidationError

from governance.urlguard import OutboundURLValidator, RefusedURL, checked_target

REFUSED = [
    "http://127.0.0.1:8000/hook",
    "http://localhost/hook",
    "http://[::1]/hook",
    "http://169.254.169.254/latest/meta-data/",  # cloud metadata (link-local)
    "http://[fd00:ec2::254]/",  # AWS metadata over IPv6 (unique local)
    "http://100.100.100.200/",  # Alibaba metadata (shared address space)
    "http://10.1.2.3/hook",
    "http://172.16.0.1/hook",
    "http://192.168.1.10/hook",
    "http://0.0.0.0/hook",
    "http://[::ffff:127.0.0.1]/hook",  # loopback in IPv4-mapped form
    "http://224.0.0.1/hook",
    "http://2130706433/hook",  # 127.0.0.1 as one decimal number
]


@pytest.fixture
def guarded(settings):
    settings.OUTBOUND_ALLOW_PRIVATE = False
    settings.OUTBOUND_ALLOWED_HOSTS = []
    return settings


@pytest.mark.parametrize("url", REFUSED)
def test_production_refuses_internal_addresses(guarded, url):
    with pytest.raises(RefusedURL):
        checked_target(url)


@pytest.mark.parametrize("url", ["https://93.184.216.34/hooks", "http://[2606:4700:4700::1111]:8443/x?y=1"])
def test_a_public_address_is_allowed_and_is_the_address_to_connect_to(guarded, url):
    target = checked_target(url)

    assert target.address in url


def test_the_allowlist_names_a_network(guarded):
    guarded.OUTBOUND_ALLOWED_HOSTS = ["10.20.0.0/16"]

    assert checked_target("http://10.20.3.4:9000/hook").address == "10.20.3.4"
    with pytest.raises(RefusedURL):
        checked_target("http://10.21.0.1/hook")


def test_the_allowlist_names_a_host(guarded):
    guarded.OUTBOUND_ALLOWED_HOSTS = ["localhost"]

    assert checked_target("http://localhost:8123/hook").port == 8123


def test_a_name_that_does_not_resolve_is_refused(guarded):
    with pytest.raises(RefusedURL, match="does not resolve"):
        checked_target("http://no-such-host.invalid/hook")


def test_the_validator_refuses_at_save_in_production(guarded):
    with pytest.raises(ValidationError, match="OUTBOUND_ALLOWED_HOSTS"):
        OutboundURLValidator()("http://169.254.169.254/")


def test_outside_production_the_validator_lets_loopback_through(settings):
    settings.OUTBOUND_ALLOW_PRIVATE = True

    OutboundURLValidator()("http://127.0.0.1:9/")
