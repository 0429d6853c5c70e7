"""Which origins may open the chat's sockets and create visitors: decided
here, once, for the websockets (``routing``) and ``POST /livechat/visitor/``.

An origin is allowed when it is the site's own (the scheme, host and port the
request came to) or matches one of ``WAGTAIL_LIVECHAT_ALLOWED_ORIGINS``,
read as Channels' ``OriginValidator`` reads its patterns. Give those a scheme
(and a port if not the default): a bare host lets any scheme and port of it
through.

Behind a proxy that ends TLS the server sees plain ``ws``/``http``; the
sockets then read the scheme as Django reads it for requests
(``request.is_secure()``): from ``SECURE_PROXY_SSL_HEADER``, when set.
"""

from __future__ import annotations

from urllib.parse import urlparse

from channels.security.websocket import OriginValidator, WebsocketDenier
from django.conf import settings

from .conf import conf


def allowed(origin: str | None, host: str, secure: bool) -> bool:
    if not origin:
        return False
    try:
        parsed = urlparse(origin)
        if not parsed.scheme or not parsed.hostname:
            return False
        patterns = list(conf.ALLOWED_ORIGINS or ())
        if host:
            patterns.append(f"{'https' if secure else 'http'}://{host}")
        return OriginValidator(None, patterns).validate_origin(parsed)
    except ValueError:  # a port that is no number, a malformed host
        return False


def secure(scope: dict, headers: dict) -> bool:
    """Whether the socket came over TLS, decided as Django's
    ``HttpRequest.is_secure()`` decides it for a request: by
    ``SECURE_PROXY_SSL_HEADER`` when the proxy sent that header, else by the
    scheme the server saw."""
    if settings.SECURE_PROXY_SSL_HEADER:
        name, secure_value = settings.SECURE_PROXY_SSL_HEADER
        header = name.removeprefix("HTTP_").replace("_", "-").lower().encode("latin1")
        value = headers.get(header)
        if value is not None:
            return value.decode("latin1").split(",", 1)[0].strip() == secure_value
    return scope.get("scheme") in ("wss", "https")


class OriginCheck:
    """Refuse (HTTP 403 on the handshake) a websocket from another site's
    page. Behind a proxy that ends TLS, set ``SECURE_PROXY_SSL_HEADER`` (as
    Django needs for its own requests), run the server so that it sees the
    original scheme (daphne ``--proxy-headers``), or list the site's https
    origin in ``WAGTAIL_LIVECHAT_ALLOWED_ORIGINS``."""

    def __init__(self, application):
        self.application = application

    async def __call__(self, scope, receive, send):
        headers = dict(scope.get("headers") or ())
        try:
            origin = headers.get(b"origin", b"").decode("latin1")
            host = headers.get(b"host", b"").decode("latin1")
        except UnicodeDecodeError:  # pragma: no cover (latin1 decodes any byte)
            origin = host = ""
        if allowed(origin, host, secure(scope, headers)):
            return await self.application(scope, receive, send)
        return await WebsocketDenier()(scope, receive, send)
