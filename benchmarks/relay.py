"""The yardsticks of the load benchmark (`benchmarks/load.py`): two servers
that speak just enough of the live chat protocol for the load's clients,
with no database, no authentication and no checks.

- ``application``: a bare Channels relay. Consumers and ``group_send`` on
  the channel layer the example site is configured with (the in-memory one,
  or Redis when ``REDIS_URL`` is set), with the topology of the real
  consumers: every agent socket is in the inbox group and shows the
  conversations it opened, a visitor's tabs share a group. What the live
  chat costs beyond it is the database and the product's own logic.
- ``echo``: no Channels at all. A plain ASGI app hands each frame straight
  to the sockets that should get it, in one process: the floor that daphne,
  the websocket framing and the load's own client put under everything.

Both send the frames the real server sends, in the same shapes (``welcome``,
``ack``, ``message`` with the conversation's changed summary, ``history``,
``viewers``, ``pong``), so a client cannot tell them apart by their load.
A conversation's id is its visitor's (the cookie is just a number here).

Served by daphne: ``relay:application`` and ``relay:echo``, with this
directory and the example site's source on ``PYTHONPATH``.
"""

import itertools
import json
from datetime import UTC, datetime
from http.cookies import SimpleCookie

import django
from django.conf import settings

# redis-py 8 changed defaults that channels-redis 4.3 relies on: reads time
# out after 5 s (channels-redis waits for events with a 5 s blocking read, so
# a consumer idle for 5 s dies with 1011), and a process holds at most 100
# connections, each opened within 5 s (thousands of sockets joining their
# groups at once get MaxConnectionsError or a connect timeout, and die with
# 1011). The relay is a yardstick: it takes redis-py 7's defaults back,
# whatever the site's settings say.
REDIS_DEFAULTS = {"socket_timeout": None, "socket_connect_timeout": None, "max_connections": 2**31}


def with_redis_defaults(layers: dict) -> dict:
    config = layers["default"].get("CONFIG", {})
    if "hosts" not in config:
        return layers
    hosts = [
        {**REDIS_DEFAULTS, **host}
        if isinstance(host, dict)
        else {**REDIS_DEFAULTS, "address": host}
        for host in config["hosts"]
    ]
    return {"default": {**layers["default"], "CONFIG": {**config, "hosts": hosts}}}


if not settings.configured:
    # The example site's layer (embedded or Redis), nothing else of it.
    from example_site.settings import base

    settings.configure(
        INSTALLED_APPS=["channels"], CHANNEL_LAYERS=with_redis_defaults(base.CHANNEL_LAYERS)
    )
    django.setup()

from channels.consumer import get_handler_name  # noqa: E402
from channels.generic.websocket import AsyncWebsocketConsumer  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

INBOX_ID = 1
INBOX_GROUP = "relay.inbox"
# Seqs are only numbered per process: nothing here checks them.
_seqs = itertools.count(1)


def dumps(frame: dict) -> str:
    return json.dumps(frame, separators=(",", ":"))


def cookies(scope) -> dict:
    jar = SimpleCookie()
    for name, value in scope.get("headers", ()):
        if name == b"cookie":
            jar.load(value.decode("latin1"))
    return {key: morsel.value for key, morsel in jar.items()}


def visitor_id(scope) -> int:
    return int(cookies(scope).get("livechat_visitor", "0"))


def new_message(conversation: int, author: str, body: str) -> tuple[dict, dict]:
    """A message as the server describes it, and what it changes in the
    conversation's row of the inbox list."""
    now = datetime.now(UTC).isoformat()
    message = {
        "seq": next(_seqs),
        "conversation": conversation,
        "author": author,
        "name": "Visitor" if author == "visitor" else "Agent",
        "body": body,
        "note": False,
        "created": now,
    }
    summary = {
        "id": conversation,
        "inbox": INBOX_ID,
        "status": "open",
        "unread": 1,
        "updated": now,
        "last_message": body[:100],
    }
    return message, summary


def whole_summary(conversation: int) -> dict:
    return {
        "id": conversation,
        "inbox": INBOX_ID,
        "inbox_name": "Sales",
        "status": "open",
        "assignee": None,
        "unread": 0,
        "last_message": "",
        "updated": datetime.now(UTC).isoformat(),
        "visitor": f"Visitor {conversation}",
        "visitor_page": None,
    }


def welcome(conversation: int | None) -> dict:
    return {
        "type": "welcome",
        "visitor": True,
        "online": True,
        "conversation": {"id": conversation, "status": "open"} if conversation else None,
        "contact": False,
        "messages": [],
    }


AGENT_WELCOME = {
    "type": "agent_welcome",
    "user": {"id": 1, "name": "Agent"},
    "available": True,
    "inboxes": [{"id": INBOX_ID, "name": "Sales"}],
}


def history(conversation: int) -> dict:
    return {
        "type": "history",
        "conversation": whole_summary(conversation),
        "messages": [],
        "context": {},
    }


# -- The Channels relay ------------------------------------------------------


def visitor_group(visitor: int) -> str:
    return f"relay.visitor.{visitor}"


class RelayConsumer(AsyncWebsocketConsumer):
    async def dispatch(self, message):
        """Channels' own dispatch first hops to the database thread (to close
        stale connections) for every frame and every event; there is no
        database here, and the live chat's consumers skip that hop too."""
        await getattr(self, get_handler_name(message))(message)

    async def send_json(self, frame):
        await self.send(text_data=dumps(frame))

    async def fan_out(self, conversation: int, author: str, body: str) -> dict:
        """As the real server does after a commit: one event to the inbox's
        agents, one to the visitor's tabs."""
        message, summary = new_message(conversation, author, body)
        event = {
            "type": "relay.message",
            "conversation": conversation,
            "message": message,
            "summary": summary,
            "sender": self.channel_name,
        }
        await self.channel_layer.group_send(INBOX_GROUP, event)
        await self.channel_layer.group_send(visitor_group(conversation), event)
        return message


class RelayVisitor(RelayConsumer):
    async def connect(self):
        self.visitor = visitor_id(self.scope)
        self.started = False
        await self.channel_layer.group_add(visitor_group(self.visitor), self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        await self.channel_layer.group_discard(visitor_group(self.visitor), self.channel_name)

    async def receive(self, text_data=None, bytes_data=None):
        frame = json.loads(text_data)
        kind = frame["type"]
        if kind == "hello":
            await self.send_json(welcome(self.visitor if self.started else None))
        elif kind == "message":
            self.started = True
            message = await self.fan_out(self.visitor, "visitor", frame["body"])
            await self.send_json({"type": "ack", "id": frame["id"], "message": message})
        elif kind == "ping":
            await self.send_json({"type": "pong"})

    async def relay_message(self, event):
        if event["sender"] != self.channel_name:
            await self.send_json({"type": "message", "message": event["message"]})


class RelayAgent(RelayConsumer):
    async def connect(self):
        self.opened = set()
        await self.channel_layer.group_add(INBOX_GROUP, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        await self.channel_layer.group_discard(INBOX_GROUP, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None):
        frame = json.loads(text_data)
        kind = frame["type"]
        if kind == "hello":
            await self.send_json(AGENT_WELCOME)
        elif kind == "open":
            conversation = frame["conversation"]
            self.opened.add(conversation)
            await self.send_json(history(conversation))
            await self.send_json({"type": "viewers", "conversation": conversation, "viewers": []})
        elif kind == "message":
            message = await self.fan_out(frame["conversation"], "agent", frame["body"])
            await self.send_json({"type": "ack", "id": frame["id"], "message": message})
        elif kind == "ping":
            await self.send_json({"type": "pong"})

    async def relay_message(self, event):
        if event["sender"] == self.channel_name:
            return
        if event["conversation"] in self.opened:
            frame = {
                "type": "message",
                "message": event["message"],
                "conversation": event["summary"],
            }
        else:
            frame = {"type": "conversation", "conversation": event["summary"]}
        await self.send_json(frame)


application = ProtocolTypeRouter(
    {
        "websocket": URLRouter(
            [
                path("ws/livechat/visitor/", RelayVisitor.as_asgi()),
                path("ws/livechat/agent/", RelayAgent.as_asgi()),
            ]
        )
    }
)


# -- The echo: no Channels ---------------------------------------------------


class Echo:
    """One process's sockets in plain dicts; a frame goes straight to the
    ``send`` of each socket that should get it."""

    def __init__(self):
        self.agents: dict = {}  # send -> the conversations it opened
        self.tabs: dict[int, list] = {}  # visitor -> sends of their tabs
        self.started: set[int] = set()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "websocket":
            return
        agent = scope["path"].rstrip("/").endswith("agent")
        visitor = None if agent else visitor_id(scope)
        while True:
            event = await receive()
            kind = event["type"]
            if kind == "websocket.connect":
                await send({"type": "websocket.accept"})
                if agent:
                    self.agents[send] = set()
                else:
                    self.tabs.setdefault(visitor, []).append(send)
            elif kind == "websocket.receive":
                frame = json.loads(event["text"])
                if agent:
                    await self.from_agent(send, frame)
                else:
                    await self.from_visitor(send, visitor, frame)
            elif kind == "websocket.disconnect":
                if agent:
                    self.agents.pop(send, None)
                else:
                    self.tabs[visitor].remove(send)
                return

    @staticmethod
    async def reply(send, frame):
        await send({"type": "websocket.send", "text": dumps(frame)})

    async def from_visitor(self, send, visitor, frame):
        kind = frame["type"]
        if kind == "hello":
            await self.reply(send, welcome(visitor if visitor in self.started else None))
        elif kind == "message":
            self.started.add(visitor)
            message = await self.fan_out(send, visitor, "visitor", frame["body"])
            await self.reply(send, {"type": "ack", "id": frame["id"], "message": message})
        elif kind == "ping":
            await self.reply(send, {"type": "pong"})

    async def from_agent(self, send, frame):
        kind = frame["type"]
        if kind == "hello":
            await self.reply(send, AGENT_WELCOME)
        elif kind == "open":
            conversation = frame["conversation"]
            self.agents[send].add(conversation)
            await self.reply(send, history(conversation))
            await self.reply(send, {"type": "viewers", "conversation": conversation, "viewers": []})
        elif kind == "message":
            message = await self.fan_out(send, frame["conversation"], "agent", frame["body"])
            await self.reply(send, {"type": "ack", "id": frame["id"], "message": message})
        elif kind == "ping":
            await self.reply(send, {"type": "pong"})

    async def fan_out(self, sender, conversation, author, body) -> dict:
        message, summary = new_message(conversation, author, body)
        viewing = {
            "type": "websocket.send",
            "text": dumps({"type": "message", "message": message, "conversation": summary}),
        }
        listing = {
            "type": "websocket.send",
            "text": dumps({"type": "conversation", "conversation": summary}),
        }
        for send, opened in list(self.agents.items()):
            if send is not sender:
                await send(viewing if conversation in opened else listing)
        to_tabs = {"type": "websocket.send", "text": dumps({"type": "message", "message": message})}
        for send in list(self.tabs.get(conversation, ())):
            if send is not sender:
                await send(to_tabs)
        return message


echo = Echo()
