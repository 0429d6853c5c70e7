"""Websocket routes of the live chat.

In ``asgi.py``::

    from wagtail_livechat.routing import websocket_application
    application = ProtocolTypeRouter({"http": ..., "websocket": websocket_application()})

or mount ``websocket_urlpatterns`` in your own stack (keep an origin check
and ``AuthMiddlewareStack`` around them).
"""

from channels.auth import AuthMiddlewareStack
from channels.routing import URLRouter
from channels.security.websocket import OriginValidator
from django.conf import settings
from django.urls import path

from .conf import conf
from .consumers import AgentConsumer, VisitorConsumer

websocket_urlpatterns = [
    path("ws/livechat/visitor/", VisitorConsumer.as_asgi()),
    path("ws/livechat/agent/", AgentConsumer.as_asgi()),
]


def allowed_origins():
    """``WAGTAIL_LIVECHAT_ALLOWED_ORIGINS``, else the site's ``ALLOWED_HOSTS``."""
    if conf.ALLOWED_ORIGINS is not None:
        return list(conf.ALLOWED_ORIGINS)
    return list(settings.ALLOWED_HOSTS)


def websocket_application(inner=None):
    return OriginValidator(
        AuthMiddlewareStack(inner or URLRouter(websocket_urlpatterns)),
        allowed_origins(),
    )
