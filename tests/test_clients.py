"""Client addresses behind the site's own proxies (pure logic)."""

import pytest
from django.test import override_settings

from wagtail_livechat.clients import client_address

PROXIES = ["10.0.0.0/8", "192.0.2.7"]


@pytest.mark.parametrize(
    ("remote", "forwarded", "expected"),
    [
        # From a trusted proxy: the client it forwards for.
        ("10.1.2.3", "198.51.100.1", "198.51.100.1"),
        # Through two trusted proxies.
        ("10.1.2.3", "198.51.100.1, 192.0.2.7", "198.51.100.1"),
        # A client claiming to be someone else: the rightmost untrusted hop.
        ("10.1.2.3", "1.2.3.4, 198.51.100.1", "198.51.100.1"),
        # An untrusted peer cannot forward for anyone.
        ("203.0.113.5", "198.51.100.1", "203.0.113.5"),
        # Garbage in the header stops the walk at the last good hop.
        ("10.1.2.3", "not-an-ip, 198.51.100.1", "198.51.100.1"),
        ("10.1.2.3", "nonsense", "10.1.2.3"),
        ("10.1.2.3", None, "10.1.2.3"),
        ("2001:db8::1", None, "2001:db8::1"),
        ("", None, ""),
    ],
)
def test_client_address(remote, forwarded, expected):
    with override_settings(WAGTAIL_LIVECHAT_TRUSTED_PROXIES=PROXIES):
        assert client_address(remote, forwarded) == expected


def test_without_trusted_proxies_the_header_is_ignored():
    assert client_address("10.1.2.3", "198.51.100.1") == "10.1.2.3"
