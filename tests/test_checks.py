"""System checks of the app."""

from io import StringIO

import pytest
from channels.auth import AuthMiddlewareStack
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.layers import BaseChannelLayer
from channels.routing import ProtocolTypeRouter, URLRouter
from channels.security.websocket import OriginValidator
from django.core.asgi import get_asgi_application
from django.core.checks import ERROR
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings
from django.urls import path

from wagtail_livechat.checks import (
    check_asgi_application,
    check_channel_layer,
    check_persistent_connections,
)
from wagtail_livechat.consumers import AgentConsumer, VisitorConsumer
from wagtail_livechat.origins import OriginCheck
from wagtail_livechat.routing import websocket_application, websocket_urlpatterns


def database(**fields):
    return {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:", **fields}}


def test_warns_when_every_frame_would_reconnect():
    with override_settings(DATABASES=database()):
        (warning,) = check_persistent_connections()
    assert warning.id == "wagtail_livechat.W001"
    assert "CONN_MAX_AGE" in warning.hint


def test_quiet_with_persistent_connections_or_a_pool():
    with override_settings(DATABASES=database(CONN_MAX_AGE=600)):
        assert check_persistent_connections() == []
    with override_settings(DATABASES=database(CONN_MAX_AGE=None)):
        assert check_persistent_connections() == []
    with override_settings(DATABASES=database(OPTIONS={"pool": True})):
        assert check_persistent_connections() == []


def test_says_when_the_cache_is_per_process():
    from wagtail_livechat.checks import check_shared_cache

    local = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    with override_settings(CACHES=local):
        (info,) = check_shared_cache()
    assert info.id == "wagtail_livechat.I002"
    shared = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache"}}
    with override_settings(CACHES=shared):
        assert check_shared_cache() == []


# -- The channel layer -------------------------------------------------------

IN_MEMORY = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
LOCAL = {"default": {"BACKEND": "wagtail_livechat.layers.LocalChannelLayer"}}


class SharedLayer(BaseChannelLayer):
    """A layer of several processes (as channels_redis's), not in memory."""


SHARED = {"default": {"BACKEND": "tests.test_checks.SharedLayer"}}


@pytest.mark.parametrize("layers", [None, {}, {"other": IN_MEMORY["default"]}])
def test_no_channel_layer_is_an_error(layers):
    with override_settings(CHANNEL_LAYERS=layers):
        (error,) = check_channel_layer()
    assert error.id == "wagtail_livechat.E003" and error.level == ERROR
    assert "is not configured" in error.msg
    assert "RedisChannelLayer" in error.hint


def test_a_layer_that_does_not_import_is_an_error():
    with override_settings(CHANNEL_LAYERS={"default": {"BACKEND": "no_such.Layer"}}):
        (error,) = check_channel_layer()
    assert error.id == "wagtail_livechat.E003" and "cannot be imported" in error.msg


@pytest.mark.parametrize("layers", [IN_MEMORY, LOCAL])
def test_in_memory_layer_in_production_warns(layers):
    with override_settings(CHANNEL_LAYERS=layers, DEBUG=False):
        (warning,) = check_channel_layer()
    assert warning.id == "wagtail_livechat.W004"
    assert "one process" in warning.msg and "RedisChannelLayer" in warning.hint
    with override_settings(CHANNEL_LAYERS=layers, DEBUG=True):
        assert check_channel_layer() == []


def test_a_shared_layer_is_quiet():
    with override_settings(CHANNEL_LAYERS=SHARED, DEBUG=False):
        assert check_channel_layer() == []


REDIS_BACKEND = "channels_redis.core.RedisChannelLayer"


@pytest.mark.parametrize(
    "hosts",
    [
        ["redis://127.0.0.1:6379/0"],
        [{"address": "redis://127.0.0.1:6379/0"}],
        [{"address": "redis://127.0.0.1:6379/0", "socket_timeout": None}],  # 100 connections
    ],
)
def test_redis_layer_with_redis_py_8_defaults_warns(hosts):
    pytest.importorskip("channels_redis")
    layers = {"default": {"BACKEND": REDIS_BACKEND, "CONFIG": {"hosts": hosts}}}
    with override_settings(CHANNEL_LAYERS=layers, DEBUG=False):
        (warning,) = check_channel_layer()
    assert warning.id == "wagtail_livechat.W011" and "redis_channel_layer" in warning.hint


def test_redis_channel_layer_gives_what_channels_redis_needs():
    pytest.importorskip("channels_redis")
    from wagtail_livechat.layers import redis_channel_layer

    layer = redis_channel_layer("redis://127.0.0.1:6379/0", prefix="site")
    assert layer["BACKEND"] == REDIS_BACKEND
    assert layer["CONFIG"]["capacity"] == 1000 and layer["CONFIG"]["prefix"] == "site"
    (host,) = layer["CONFIG"]["hosts"]
    assert host["address"] == "redis://127.0.0.1:6379/0" and host["socket_timeout"] is None
    with override_settings(CHANNEL_LAYERS={"default": layer}, DEBUG=False):
        assert check_channel_layer() == []


async def test_a_socket_idle_longer_than_redis_py_8s_read_timeout_lives():
    """The real Redis: a receive that waits 7 s (channels-redis blocks 5 s at
    a time) still gets the event sent after it, on the layer the helper
    configures."""
    import asyncio
    import os

    pytest.importorskip("channels_redis")
    from channels_redis.core import RedisChannelLayer

    from wagtail_livechat.layers import redis_channel_layer

    url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15")
    layer = RedisChannelLayer(**redis_channel_layer(url, prefix="idletest")["CONFIG"])
    channel = await layer.new_channel()
    receiving = asyncio.ensure_future(layer.receive(channel))
    await asyncio.sleep(7)
    await layer.send(channel, {"type": "hello"})
    assert (await asyncio.wait_for(receiving, 5))["type"] == "hello"
    await layer.flush()


# -- The ASGI application ----------------------------------------------------
# Applications for ASGI_APPLICATION = "tests.test_checks.<name>".

http_only = ProtocolTypeRouter({"http": get_asgi_application()})
no_origin_check = ProtocolTypeRouter(
    {"websocket": AuthMiddlewareStack(URLRouter(websocket_urlpatterns))}
)
every_origin = OriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns)), ["*"])
no_sessions = OriginCheck(URLRouter(websocket_urlpatterns))
under_a_prefix = websocket_application(URLRouter([path("chat/", URLRouter(websocket_urlpatterns))]))


class OtherConsumer(AsyncWebsocketConsumer):
    pass


# A site's own stack: Channels' validator, other routes beside ours, and ours
# nested under their common prefix.
own_stack = ProtocolTypeRouter(
    {
        "http": get_asgi_application(),
        "websocket": OriginValidator(
            AuthMiddlewareStack(
                URLRouter(
                    [
                        path("ws/other/", OtherConsumer.as_asgi()),
                        path(
                            "ws/livechat/",
                            URLRouter(
                                [
                                    path("visitor/", VisitorConsumer.as_asgi()),
                                    path("agent/", AgentConsumer.as_asgi()),
                                ]
                            ),
                        ),
                    ]
                )
            ),
            ["https://www.example.com"],
        ),
    }
)


async def opaque(scope, receive, send):  # pragma: no cover (never called)
    pass


def findings(application):
    with override_settings(ASGI_APPLICATION=application):
        return [(f.id, f.msg) for f in check_asgi_application()]


def ids(application):
    return sorted(i for i, _ in findings(application))


def test_the_documented_asgi_application_is_quiet():
    assert findings("example_site.asgi.application") == []


def test_a_sites_own_stack_is_quiet():
    assert findings("tests.test_checks.own_stack") == []


def test_no_asgi_application_warns():
    assert ids(None) == ["wagtail_livechat.W005"]


def test_an_asgi_application_that_does_not_load_is_an_error():
    ((id_, msg),) = findings("tests.test_checks.no_such_application")
    assert id_ == "wagtail_livechat.E006" and "no_such_application" in msg
    ((id_, msg),) = findings("tests.no_such_module.application")
    assert id_ == "wagtail_livechat.E006"


@pytest.mark.parametrize("application", ["http_only", "under_a_prefix"])
def test_missing_routes_warn(application):
    found = findings(f"tests.test_checks.{application}")
    assert [i for i, _ in found] == ["wagtail_livechat.W007"] * 2
    assert "/ws/livechat/visitor/" in found[0][1] and "/ws/livechat/agent/" in found[1][1]


@pytest.mark.parametrize("application", ["no_origin_check", "every_origin"])
def test_sockets_without_an_origin_check_are_an_error(application):
    found = findings(f"tests.test_checks.{application}")
    assert [i for i, _ in found] == ["wagtail_livechat.E008"] * 2
    assert "with an agent's session" in found[1][1]


def test_sockets_without_sessions_warn():
    found = findings("tests.test_checks.no_sessions")
    assert [i for i, _ in found] == ["wagtail_livechat.W009"] * 2
    assert "cookies" in found[0][1] and "agents cannot sign in" in found[1][1]


def test_an_application_it_cannot_see_into_is_said():
    found = findings("tests.test_checks.opaque")
    assert [i for i, _ in found] == ["wagtail_livechat.I010"] * 2
    assert "tests.test_checks.opaque" in found[0][1]


def test_errors_stop_manage_py_check():
    with override_settings(ASGI_APPLICATION="tests.test_checks.no_origin_check"):
        with pytest.raises(SystemCheckError, match="E008"):
            call_command("check", stdout=StringIO(), stderr=StringIO())
