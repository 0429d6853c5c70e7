"""Websocket routes of the live chat.

In ``asgi.py``::

    from wagtail_livechat.routing import websocket_application
    application = ProtocolTypeRouter({"http": ..., "websocket": websocket_application()})

or mount ``websocket_urlpatterns`` in your own stack (keep
``origins.OriginCheck`` and ``AuthMiddlewareStack`` around them).
"""

from channels.auth import AuthMiddlewareStack
from channels.routing import URLRouter
from django.urls import path

from .consumers import AgentConsumer, VisitorConsumer
from .origins import OriginCheck

websocket_urlpatterns = [
    path("ws/livechat/visitor/", VisitorConsumer.as_asgi()),
    path("ws/livechat/agent/", AgentConsumer.as_asgi()),
]


def websocket_application(inner=None):
    return OriginCheck(AuthMiddlewareStack(inner or URLRouter(websocket_urlpatterns)))
