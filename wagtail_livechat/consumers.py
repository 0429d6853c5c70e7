"""Websocket consumers: translate frames to service calls and back.

Every frame is validated by :mod:`protocol` and every action authorised by
:mod:`conversations`; consumers hold only what they have delivered (the last
``seq`` per conversation), so that a notification makes them read the record
and send what the client has not seen, in order and once.
"""

from __future__ import annotations

import json
import time

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.contrib.auth import get_user_model
from django.utils.translation import gettext as _

from . import conversations as service
from . import identity, protocol
from .conf import conf
from .models import Conversation
from .throttle import allow

CLOSE_UNAUTHENTICATED = 4001
CLOSE_FORBIDDEN = 4003
CLOSE_RATE_LIMITED = 4008
CLOSE_TOO_BIG = 1009


class LivechatConsumer(AsyncWebsocketConsumer):
    side = ""
    handled_errors = (protocol.ProtocolError, service.ServiceError)

    async def send_json(self, content):
        await self.send(text_data=json.dumps(content, separators=(",", ":")))

    # Frames of any kind one socket may send per minute; past twice that it
    # is closed. (Messages have their own, per-visitor limit.)
    frame_budget = 240

    async def receive(self, text_data=None, bytes_data=None):
        if bytes_data is not None or len(text_data.encode()) > conf.MAX_FRAME_BYTES:
            await self.close(code=CLOSE_TOO_BIG)
            return
        minute = int(time.monotonic() // 60)
        if getattr(self, "_minute", None) != minute:
            self._minute, self._frames = minute, 0
        self._frames += 1
        if self._frames > 2 * self.frame_budget:
            await self.close(code=CLOSE_RATE_LIMITED)
            return
        if self._frames > self.frame_budget:
            await self.send_error("rate_limited", _("Too many frames; wait a moment."))
            return
        try:
            frame = protocol.parse(text_data, self.side, max_length=conf.MAX_MESSAGE_LENGTH)
            await getattr(self, f"on_{frame['type']}")(frame)
        except protocol.ProtocolError as error:
            await self.send_json(error.as_frame())
        except service.ServiceError as error:
            await self.send_error(error.code, error.message)

    async def send_error(self, code, message, frame_id=None):
        await self.send_json(protocol.ProtocolError(code, message, frame_id).as_frame())

    async def on_ping(self, frame):
        await self.resync()
        if not self.closing:
            await self.send_json({"type": "pong"})

    closing = False

    async def close(self, code=None, reason=None):
        # Nothing more is sent on a socket that is closing.
        self.closing = True
        await super().close(code=code, reason=reason)

    async def resync(self):
        """Send what the record holds beyond what was delivered: run on every
        ping, it repairs a notification the channel layer lost."""


class VisitorConsumer(LivechatConsumer):
    side = "visitor"

    async def connect(self):
        key = identity.unsign(self.scope.get("cookies", {}).get(conf.VISITOR_COOKIE))
        self.visitor = await database_sync_to_async(service.visitor_by_key)(key)
        self.conversation_id = None
        self.delivered = 0
        self.chatflow_id = None
        self.refused = 0
        await self.accept()
        if self.visitor is not None:
            await self.channel_layer.group_add(
                service.visitor_group(self.visitor.pk), self.channel_name
            )

    async def disconnect(self, code):
        if getattr(self, "visitor", None) is not None:
            await self.channel_layer.group_discard(
                service.visitor_group(self.visitor.pk), self.channel_name
            )

    @database_sync_to_async
    def _welcome(self, after, page):
        conversation = service.current_conversation(self.visitor)
        if self.visitor is not None:
            service.update_visitor_page(self.visitor, page)
        messages = []
        if conversation is not None:
            self.conversation_id = conversation.pk
            messages = service.messages_after(conversation, after, notes=False)
            inbox = conversation.inbox
        else:
            from .models import Chatflow

            chatflow = (
                Chatflow.objects.filter(pk=self.chatflow_id, live=True)
                .select_related("inbox")
                .first()
            )
            inbox = chatflow.inbox if chatflow else None
        self.delivered = max([after, *(m["seq"] for m in messages)])
        return {
            "type": "welcome",
            "visitor": self.visitor is not None,
            "online": bool(inbox and service.inbox_online(inbox)),
            "conversation": (
                {"id": conversation.pk, "status": conversation.status} if conversation else None
            ),
            "contact": bool(self.visitor and self.visitor.contact_id),
            "messages": messages,
        }

    async def on_hello(self, frame):
        self.chatflow_id = frame["chatflow"]
        await self.send_json(await self._welcome(frame["after"], frame["page"]))

    async def on_message(self, frame):
        if self.visitor is None:
            raise protocol.ProtocolError(
                "identify", _("Start the chat before sending."), frame["id"]
            )
        try:
            posted = await self._post(frame)
        except service.ServiceError as error:
            await self.send_error(error.code, error.message, frame["id"])
            return
        if posted is None:
            self.refused += 1
            if self.refused > 2 * conf.VISITOR_RATE_PER_MINUTE:  # ignores the refusals
                await self.close(code=CLOSE_RATE_LIMITED)
                return
            raise protocol.ProtocolError(
                "rate_limited", _("You are sending too fast; wait a moment."), frame["id"]
            )
        self.refused = 0
        data, undelivered = posted
        self.conversation_id = data["conversation"]
        # Earlier messages first: a client raises its last seen seq from the
        # ack, so an ack before them could make a reconnect skip them.
        await self._send_undelivered(undelivered, acked=data["seq"])
        await self.send_json({"type": "ack", "id": frame["id"], "message": data})

    @database_sync_to_async
    def _post(self, frame):
        """Throttle, store, and read what to deliver, in one trip to the
        database thread (which every socket of the process shares). None when
        the visitor is sending too fast; a resend is never throttled."""
        sender = f"v{self.visitor.pk}"
        if service.stored_message(sender, frame["id"]) is None and not allow(
            sender, conf.VISITOR_RATE_PER_MINUTE
        ):
            return None
        message, _created = service.post_visitor_message(
            self.visitor, client_id=frame["id"], body=frame["body"], chatflow_id=self.chatflow_id
        )
        undelivered = service.messages_after(message.conversation, self.delivered, notes=False)
        return service.message_data(message), undelivered

    async def on_typing(self, frame):
        if self.conversation_id:
            await self.channel_layer.group_send(
                service.conversation_group(self.conversation_id),
                {
                    "type": "livechat.typing",
                    "conversation": self.conversation_id,
                    "who": "visitor",
                    "on": frame["on"],
                    "sender": self.channel_name,
                },
            )

    async def on_page(self, frame):
        if self.visitor is not None:
            await database_sync_to_async(service.update_visitor_page)(self.visitor, frame["page"])

    async def on_email(self, frame):
        if self.visitor is None:
            raise protocol.ProtocolError("identify", _("Start the chat before sending."))
        contact = await database_sync_to_async(service.capture_email)(
            self.visitor,
            email=frame["email"],
            subscribe=frame["subscribe"],
            consent=frame["consent"],
            chatflow_id=self.chatflow_id,
        )
        self.visitor.contact = contact
        # Only what the visitor typed: the address may belong to a contact
        # whose stored details are none of this visitor's business.
        await self.send_json({"type": "contact", "email": contact.email})

    async def on_read(self, frame):
        if self.visitor is not None:
            await database_sync_to_async(service.mark_visitor_read)(self.visitor, frame["seq"])

    async def on_transcript(self, frame):
        if self.visitor is None:
            raise protocol.ProtocolError("identify", _("Start the chat before sending."))
        if not await database_sync_to_async(allow)(f"transcript:{self.visitor.pk}", 2, 3600):
            raise protocol.ProtocolError("rate_limited", _("A transcript was sent already."))
        await database_sync_to_async(service.send_transcript)(self.visitor)
        await self.send_json({"type": "transcript_sent"})

    @database_sync_to_async
    def _undelivered(self):
        conversation = Conversation.objects.filter(pk=self.conversation_id).first()
        return (
            service.messages_after(conversation, self.delivered, notes=False)
            if conversation
            else []
        )

    async def resync(self):
        if self.conversation_id is not None:
            await self._send_undelivered(await self._undelivered())

    async def _send_undelivered(self, messages, acked=None):
        """Send what the client has not had, in order, once; ``acked`` is the
        seq an ack is about to carry."""
        for message in messages:
            if message["seq"] > self.delivered:
                self.delivered = message["seq"]
                if message["seq"] != acked:
                    await self.send_json({"type": "message", "message": message})

    # -- Channel layer events ---------------------------------------------

    async def livechat_event(self, event):
        if self.conversation_id is None or event["conversation"] != self.conversation_id:
            if event["event"] != "message":
                return
            # A conversation started in another tab of this visitor.
            self.conversation_id, self.delivered = event["conversation"], 0
        if event["event"] == "message" and not event.get("note"):
            await self.resync()
        elif event["event"] == "closed":
            await self.send_json({"type": "closed", "conversation": event["conversation"]})

    async def livechat_typing(self, event):
        if event["sender"] != self.channel_name and event["who"] != "visitor":
            await self.send_json(
                {
                    "type": "typing",
                    "conversation": event["conversation"],
                    "who": "agent",
                    "on": event["on"],
                }
            )

    async def livechat_presence(self, event):
        """Agents' presence is not the visitor's business."""


class AgentConsumer(LivechatConsumer):
    side = "agent"

    async def connect(self):
        self.user = self.scope.get("user")
        self.opened: dict[int, int] = {}  # conversation -> last seq delivered
        self.viewers: dict[int, dict[str, dict]] = {}  # conversation -> channel -> agent
        await self.accept()
        if self.user is None or not self.user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.inbox_ids = await self._inbox_ids()
        if self.inbox_ids is None:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        for pk in self.inbox_ids:
            await self.channel_layer.group_add(service.inbox_group(pk), self.channel_name)

    @database_sync_to_async
    def _inbox_ids(self):
        # Read the user afresh (on connect and every ping): an agent who was
        # deactivated or lost admin access must not keep an open socket.
        self.user = get_user_model().objects.filter(pk=self.user.pk, is_active=True).first()
        if self.user is None or not self.user.has_perm("wagtailadmin.access_admin"):
            return None
        ids = list(service.agent_inboxes(self.user).values_list("pk", flat=True))
        return ids if ids or self.user.is_superuser else None

    async def disconnect(self, code):
        for pk in getattr(self, "inbox_ids", None) or ():
            await self.channel_layer.group_discard(service.inbox_group(pk), self.channel_name)
        for pk in list(getattr(self, "opened", ())):
            await self._leave(pk)

    @property
    def me(self):
        return {"id": self.user.pk, "name": service.display_name(self.user)}

    async def on_hello(self, frame):
        await self.send_json(await self._agent_welcome())

    @database_sync_to_async
    def _agent_welcome(self):
        return {
            "type": "agent_welcome",
            "user": self.me,
            "available": service.is_available(self.user),
            "inboxes": [{"id": i.pk, "name": i.name} for i in service.agent_inboxes(self.user)],
        }

    @database_sync_to_async
    def _history(self, pk, after):
        conversation = service.conversation_for(self.user, pk)
        return {
            "type": "history",
            "conversation": service.conversation_data(conversation),
            "messages": service.messages_after(conversation, after, notes=True),
            "context": service.conversation_context(conversation),
        }

    async def on_open(self, frame):
        pk = frame["conversation"]
        history = await self._history(pk, frame["after"])
        self.opened[pk] = max([frame["after"], *(m["seq"] for m in history["messages"])])
        self.viewers[pk] = {}
        await self.channel_layer.group_add(service.conversation_group(pk), self.channel_name)
        inbox = history["conversation"]["inbox"]
        if inbox not in self.inbox_ids:  # joined since the last ping
            self.inbox_ids.append(inbox)
            await self.channel_layer.group_add(service.inbox_group(inbox), self.channel_name)
        await self.send_json(history)
        # Nobody else yet, as far as we know; those who are answer the join.
        await self.send_json({"type": "viewers", "conversation": pk, "viewers": []})
        await self.channel_layer.group_send(
            service.conversation_group(pk),
            {
                "type": "livechat.presence",
                "action": "join",
                "conversation": pk,
                "agent": self.me,
                "sender": self.channel_name,
            },
        )

    async def on_leave(self, frame):
        await self._leave(frame["conversation"])

    async def _leave(self, pk):
        if self.opened.pop(pk, None) is None:
            return
        self.viewers.pop(pk, None)
        await self.channel_layer.group_discard(service.conversation_group(pk), self.channel_name)
        await self.channel_layer.group_send(
            service.conversation_group(pk),
            {
                "type": "livechat.presence",
                "action": "leave",
                "conversation": pk,
                "agent": self.me,
                "sender": self.channel_name,
            },
        )

    async def on_message(self, frame):
        try:
            data, newer = await self._post(frame)
        except service.ServiceError as error:
            await self.send_error(error.code, error.message, frame["id"])
            return
        # Earlier messages before the ack, which moves the client's last seq.
        if data["conversation"] in self.opened:
            await self._send_new(data["conversation"], newer, acked=data["seq"])
        await self.send_json({"type": "ack", "id": frame["id"], "message": data})

    @database_sync_to_async
    def _post(self, frame):
        """Store, and read what to deliver, in one trip to the database thread."""
        message, _created = service.post_agent_message(
            self.user,
            frame["conversation"],
            client_id=frame["id"],
            body=frame["body"],
            note=frame["note"],
        )
        pk = message.conversation_id
        newer = (
            service.messages_after(message.conversation, self.opened[pk], notes=True)
            if pk in self.opened
            else []
        )
        return service.message_data(message), newer

    async def on_typing(self, frame):
        pk = frame["conversation"]
        await database_sync_to_async(service.conversation_for)(self.user, pk)
        event = {
            "type": "livechat.typing",
            "conversation": pk,
            "who": self.me["name"],
            "on": frame["on"],
            "sender": self.channel_name,
        }
        await self.channel_layer.group_send(service.conversation_group(pk), event)
        visitor_id = await database_sync_to_async(
            lambda: Conversation.objects.values_list("visitor_id", flat=True).get(pk=pk)
        )()
        await self.channel_layer.group_send(service.visitor_group(visitor_id), event)

    async def _send_conversation(self, conversation):
        data = await database_sync_to_async(service.conversation_data)(conversation)
        await self.send_json({"type": "conversation", "conversation": data})

    async def on_assign(self, frame):
        await self._send_conversation(
            await database_sync_to_async(service.assign)(
                self.user, frame["conversation"], frame["user"]
            )
        )

    async def on_close(self, frame):
        await self._send_conversation(
            await database_sync_to_async(service.set_status)(
                self.user, frame["conversation"], "closed"
            )
        )

    async def on_reopen(self, frame):
        await self._send_conversation(
            await database_sync_to_async(service.set_status)(
                self.user, frame["conversation"], "open"
            )
        )

    async def on_read(self, frame):
        await self._send_conversation(
            await database_sync_to_async(service.mark_read)(
                self.user, frame["conversation"], frame["seq"]
            )
        )

    async def on_availability(self, frame):
        available = await database_sync_to_async(service.set_availability)(
            self.user, frame["available"]
        )
        await self.send_json({"type": "availability", "available": available})

    @database_sync_to_async
    def _messages(self, pk, after):
        conversation = service.conversation_for(self.user, pk)
        return service.messages_after(conversation, after, notes=True)

    async def _deliver(self, pk):
        if pk not in self.opened:
            return
        try:
            messages = await self._messages(pk, self.opened[pk])
        except service.ServiceError:  # no longer a member: stop following it
            await self._leave(pk)
            return
        await self._send_new(pk, messages)

    async def _send_new(self, pk, messages, acked=None):
        """Send, in order and once, what this socket has not had of a
        conversation; ``acked`` is the seq an ack is about to carry."""
        for message in messages:
            if message["seq"] > self.opened[pk]:
                self.opened[pk] = message["seq"]
                if message["seq"] != acked:
                    await self.send_json({"type": "message", "message": message})

    async def resync(self):
        await self._follow_inboxes()
        if self.closing:
            return
        for pk in list(self.opened):
            await self._deliver(pk)

    async def _follow_inboxes(self):
        """Memberships change while a socket is open: follow the inboxes the
        agent belongs to now (checked on every ping)."""
        ids = await self._inbox_ids()
        if ids is None:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        current = set(ids)
        for pk in current - set(self.inbox_ids):
            await self.channel_layer.group_add(service.inbox_group(pk), self.channel_name)
        for pk in set(self.inbox_ids) - current:
            await self.channel_layer.group_discard(service.inbox_group(pk), self.channel_name)
        self.inbox_ids = list(current)

    # -- Channel layer events ---------------------------------------------

    @database_sync_to_async
    def _event_data(self, pk, event):
        """Everything one notification needs, in one trip to the database
        thread and one authorisation: new messages (if it is a message and
        this socket views the conversation), the list summary, and the
        visitor's context when their contact changed. None: not a member."""
        try:
            conversation = service.conversation_for(self.user, pk)
        except service.ServiceError:
            return None
        viewing = pk in self.opened
        messages = (
            service.messages_after(conversation, self.opened[pk], notes=True)
            if viewing and event == "message"
            else []
        )
        context = (
            service.conversation_context(conversation) if viewing and event == "contact" else None
        )
        return messages, service.conversation_data(conversation), context

    async def livechat_event(self, event):
        pk, kind = event["conversation"], event["event"]
        found = await self._event_data(pk, kind)
        if found is None:  # no longer a member: stop following it
            await self._leave(pk)
            return
        messages, summary, context = found
        await self._send_new(pk, messages)
        await self.send_json({"type": "conversation", "conversation": summary})
        if kind == "visitor_page" and pk in self.opened:
            await self.send_json(
                {"type": "visitor_page", "conversation": pk, "page": summary["visitor_page"]}
            )
        if context is not None:
            await self.send_json({"type": "context", "conversation": pk, "context": context})

    async def livechat_typing(self, event):
        if event["sender"] != self.channel_name and event["conversation"] in self.opened:
            await self.send_json(
                {
                    "type": "typing",
                    "conversation": event["conversation"],
                    "who": event["who"],
                    "on": event["on"],
                }
            )

    async def livechat_presence(self, event):
        pk = event["conversation"]
        if pk not in self.opened or event["sender"] == self.channel_name:
            return
        viewers = self.viewers.setdefault(pk, {})
        if event["action"] == "leave":
            viewers.pop(event["sender"], None)
        else:
            viewers[event["sender"]] = event["agent"]
            if event["action"] == "join":  # tell the newcomer we are here too
                await self.channel_layer.send(
                    event["sender"],
                    {
                        "type": "livechat.presence",
                        "action": "here",
                        "conversation": pk,
                        "agent": self.me,
                        "sender": self.channel_name,
                    },
                )
        unique = {a["id"]: a for a in viewers.values() if a["id"] != self.user.pk}
        await self.send_json(
            {"type": "viewers", "conversation": pk, "viewers": list(unique.values())}
        )
