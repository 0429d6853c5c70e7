"""The websockets' Origin check behind a proxy that ends TLS: the scheme is
read as Django reads it for requests (SECURE_PROXY_SSL_HEADER)."""

import pytest
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.testing import WebsocketCommunicator
from django.test import override_settings

from wagtail_livechat.origins import OriginCheck

PROXIED = override_settings(
    WAGTAIL_LIVECHAT_ALLOWED_ORIGINS=[],
    SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https"),
)


class Accept(AsyncWebsocketConsumer):
    async def connect(self):
        await self.accept()


async def opens(origin: bytes, proto: bytes | None = None, scheme: str = "ws") -> bool:
    headers = [(b"host", b"www.example.com"), (b"origin", origin)]
    if proto is not None:
        headers.append((b"x-forwarded-proto", proto))
    communicator = WebsocketCommunicator(OriginCheck(Accept.as_asgi()), "/", headers=headers)
    communicator.scope["scheme"] = scheme
    connected, _ = await communicator.connect()
    await communicator.disconnect()
    return connected


async def test_the_https_page_of_a_site_behind_a_tls_proxy_may_open_sockets():
    with PROXIED:
        assert await opens(b"https://www.example.com", proto=b"https")
        assert await opens(b"https://www.example.com", proto=b"https, http")  # first one counts
        # The proxy says http: only the http origin is the site's own.
        assert not await opens(b"https://www.example.com", proto=b"http")
        assert await opens(b"http://www.example.com", proto=b"http")
        # Without the header, the scheme the server saw.
        assert not await opens(b"https://www.example.com")
        assert await opens(b"https://www.example.com", scheme="wss")


@pytest.mark.parametrize("origin", [b"https://evil.example", b"http://www.example.com"])
async def test_other_origins_stay_refused_behind_the_proxy(origin):
    with PROXIED:
        assert not await opens(origin, proto=b"https")


async def test_without_the_setting_the_header_is_not_believed():
    with override_settings(WAGTAIL_LIVECHAT_ALLOWED_ORIGINS=[], SECURE_PROXY_SSL_HEADER=None):
        assert not await opens(b"https://www.example.com", proto=b"https")
        assert await opens(b"http://www.example.com", proto=b"https")
