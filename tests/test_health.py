"""The health endpoint: the database, a round trip through the channel
layer, and this process's open sockets; 200 when all is well, else 503."""

import pytest
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.db import OperationalError, connection
from django.test import AsyncClient

from tests.livechat_factories import make_agent, make_inbox
from tests.sockets import agent_socket, visitor_socket
from wagtail_livechat import health, socketlog

pytestmark = [pytest.mark.django_db(transaction=True)]

URL = "/livechat/health/"


class SilentLayer(InMemoryChannelLayer):
    """A layer that takes messages and never delivers them (a stuck Redis)."""

    async def send(self, channel, message):
        pass


def test_healthy(client):
    response = client.get(URL)
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"]["ok"] is True
    assert body["channel_layer"]["ok"] is True
    assert body["channel_layer"]["backend"] == type(get_channel_layer()).__name__
    # This process's count (sockets of earlier tests may still be counted).
    assert body["sockets"]["open"] == sum(socketlog.open_sockets().values())


def test_a_channel_layer_that_does_not_deliver_is_unhealthy(client, settings):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "tests.test_health.SilentLayer"}}
    settings.WAGTAIL_LIVECHAT_HEALTH_TIMEOUT = 0.2
    response = client.get(URL)
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["channel_layer"] == {"ok": False, "backend": "SilentLayer", "error": "timeout"}
    assert body["database"]["ok"] is True


def test_an_unreachable_database_is_unhealthy(monkeypatch, client):
    def refuse(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(connection, "cursor", refuse)
    assert health.database() == {"ok": False, "error": "OperationalError"}
    monkeypatch.undo()
    monkeypatch.setattr(health, "database", lambda: {"ok": False, "error": "OperationalError"})
    response = client.get(URL)
    assert response.status_code == 503
    assert response.json()["database"] == {"ok": False, "error": "OperationalError"}


def test_only_get():
    from django.test import Client

    assert Client().post(URL).status_code == 405


async def test_counts_this_process_open_sockets():
    from tests.sockets import db
    from wagtail_livechat.models import Visitor

    agent = await db(make_agent, "alex", superuser=True)
    await db(make_inbox, members=[agent])
    visitor = await db(Visitor.objects.create)
    before = (await AsyncClient().get(URL)).json()["sockets"]
    ws, _ = await visitor_socket(visitor)
    a, _ = await agent_socket(agent)
    response = await AsyncClient().get(URL)
    assert response.status_code == 200, response.json()
    now = response.json()["sockets"]
    assert now["open"] == before["open"] + 2
    assert now.get("visitor", 0) == before.get("visitor", 0) + 1
    assert now.get("agent", 0) == before.get("agent", 0) + 1
    assert now["max"] == 10_000
    await ws.disconnect()
    await a.disconnect()
    response = await AsyncClient().get(URL)
    assert response.json()["sockets"]["open"] == before["open"]
