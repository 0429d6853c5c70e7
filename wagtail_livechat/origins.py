"""Which origins may open the chat's sockets and create visitors: decided
here, once, for the websockets (``routing``) and ``POST /livechat/visitor/``.

An origin is allowed when it is the site's own (the scheme, host and port the
request came to) or matches one of ``WAGTAIL_LIVECHAT_ALLOWED_ORIGINS``,
read as Channels' ``OriginValidator`` reads its patterns. Give those a scheme
(and a port if not the default): a bare host lets any scheme and port of it
through.
"""

from __future__ import annotations

from urllib.parse import urlparse

from channels.security.websocket import OriginValidator, WebsocketDenier

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


class OriginCheck:
    """Refuse (HTTP 403 on the handshake) a websocket from another site's
    page. Behind a proxy that ends TLS, run the server so that it sees the
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
        if allowed(origin, host, scope.get("scheme") in ("wss", "https")):
            return await self.application(scope, receive, send)
        return await WebsocketDenier()(scope, receive, send)
