"""Websocket consumers: translate frames to service calls and back.

Every frame is validated by :mod:`protocol` and every action authorised by
:mod:`service`. A socket holds what it has delivered (the last ``seq`` per
conversation) and, for an agent, the inboxes they may work in. An event from
the channel layer carries the committed record: a socket sends it straight
on when its ``seq`` follows what it delivered, ignores what it has had, and
reads the database only to repair a gap. ``ping`` compares seqs with the
record (one query) and repairs what a lost event held back.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import Counter
from contextlib import nullcontext

from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncWebsocketConsumer
from django.utils import translation
from django.utils.translation import gettext as _

from . import clients, database, identity, memo, protocol, service, socketlog
from .conf import conf
from .throttle import allow

CLOSE_UNAUTHENTICATED = 4001
CLOSE_FORBIDDEN = 4003
CLOSE_RATE_LIMITED = 4008
# 1009 is the protocol's own code for this, but a server may not send it
# through daphne ("must be 1000 or from [3000, 4999]").
CLOSE_TOO_BIG = 4009
CLOSE_BUSY = 4013
CLOSE_TOO_MANY = 4029  # too many sockets from one client address

READ_EVERY = 1.0  # seconds: an agent's read receipts are coalesced to one a second
# Messages of one socket stored in one trip to the database thread, at most
# (each in its own transaction; a bound keeps one trip short).
POST_BATCH = 50
# seconds: an agent socket adds itself again to its open conversations' groups
# at least this often (channels-redis forgets a membership after a day).
REJOIN_EVERY = 3600.0


class LivechatConsumer(AsyncWebsocketConsumer):
    side = ""
    # Open sockets of this process, in all and per client address, to
    # answer "busy" past the ceilings instead of slowing everyone down.
    open_sockets = 0
    per_client: Counter = Counter()
    client = None
    closing = False
    # The language of this socket's errors and notices (a visitor's: their
    # chatflow's); None: the site's.
    language = None

    async def db(self, fn, *args, **kwargs):
        """Run ``fn`` on the database thread. What it fans out is sent from
        here, on the event loop, so that the thread every socket of the
        process shares never waits on the channel layer."""
        result, deliveries = await database.run(fn, *args, **kwargs)
        await database.deliver(self.channel_layer, deliveries)
        return result

    async def dispatch(self, message):
        """Channels' own dispatch first hops to the database thread to close
        stale connections, for every frame and every event: on a busy
        process that queued each event behind everyone's database work. Here
        only database work hops there (``db``), and it cleans up itself."""
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def send_json(self, content):
        if self.closing:
            return
        try:
            await self.send(text_data=json.dumps(content, separators=(",", ":")))
        except Exception as error:
            # The client went while an answer was on its way (daphne raises
            # autobahn's Disconnected until the connection is fully gone):
            # nothing to tell it any more; anything else is a real error.
            if type(error).__name__ != "Disconnected":
                raise
            self.closing = True

    async def websocket_connect(self, message):
        peer = self.scope.get("client") or ("", 0)
        forwarded = dict(self.scope.get("headers") or ()).get(b"x-forwarded-for", b"")
        client = clients.client_address(peer[0], forwarded.decode("latin1"))
        full = LivechatConsumer.open_sockets >= conf.MAX_SOCKETS
        if full or LivechatConsumer.per_client[client] >= conf.MAX_SOCKETS_PER_CLIENT:
            # A clean answer, never silence; the widget retries with backoff.
            socketlog.refused(self.side, "busy" if full else "too_many_per_client")
            await self.accept()
            await self.send_json({"type": "busy"})
            await self.close(code=CLOSE_BUSY if full else CLOSE_TOO_MANY)
            return
        LivechatConsumer.open_sockets += 1
        LivechatConsumer.per_client[client] += 1
        self.client = client
        socketlog.opened(self.side)
        await super().websocket_connect(message)

    async def websocket_disconnect(self, message):
        self.closing = True  # sends still in flight finish, but say nothing
        if self.client is not None:
            LivechatConsumer.open_sockets -= 1
            LivechatConsumer.per_client[self.client] -= 1
            if not LivechatConsumer.per_client[self.client]:
                del LivechatConsumer.per_client[self.client]
            self.client = None
            socketlog.closed(self.side, message.get("code"))
        await super().websocket_disconnect(message)

    # Frames of any kind one socket may send per minute; past twice that it
    # is closed. (Messages have their own, per-visitor limit.)
    frame_budget = 240

    async def receive(self, text_data=None, bytes_data=None):
        if self.closing:
            return
        if bytes_data is not None or len(text_data.encode("utf-8", "surrogatepass")) > (
            conf.MAX_FRAME_BYTES
        ):
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
        with translation.override(self.language) if self.language else nullcontext():
            try:
                frame = protocol.parse(text_data, self.side, max_length=conf.MAX_MESSAGE_LENGTH)
                await getattr(self, f"on_{frame['type']}")(frame)
            except protocol.ProtocolError as error:
                await self.send_json(error.as_frame())
            except service.ServiceError as error:
                await self.send_error(error.code, error.message)

    posting: set | None = None
    poster = None

    async def on_message(self, frame):
        """A send waits on the database; meanwhile the socket goes on
        delivering what others write (else one busy sender would hold up
        everything it should hear). Sends of one socket stay in order."""
        if self.posting is None:
            self.posting, self.outbox = set(), []
        self.posting.add(frame["id"])
        self.outbox.append(frame)
        if self.poster is None:
            self.poster = asyncio.ensure_future(self._post_queued())

    async def _post_queued(self):
        """Store what this socket sent, in order, taking everything queued
        meanwhile in one trip to the database thread: an agent answering
        dozens of conversations sent one trip per message, each waiting for
        the one before, and fell ever further behind once the thread was
        busy; batches grow with the wait instead. The trip is shared with
        every other socket's waiting sends (``database.run_together``)."""
        try:
            while self.outbox and not self.closing:
                frames = self.outbox[:POST_BATCH]
                del self.outbox[:POST_BATCH]
                try:
                    results = await database.run_together(
                        self._post_all, frames, weight=len(frames)
                    )
                except Exception:  # the database or the channel layer failed: retryable
                    socketlog.error("post_messages", level=logging.ERROR, side=self.side)
                    results = [(False, None)] * len(frames)
                for frame, (stored, result) in zip(frames, results, strict=True):
                    try:
                        if not stored:
                            raise result or service.ServiceError(
                                _("The message could not be stored yet; it will be retried."),
                                code="unavailable",
                            )
                        await self.posted(frame, result)
                    except protocol.ProtocolError as error:
                        await self.send_json(error.as_frame())
                    except service.ServiceError as error:
                        await self.send_error(error.code, error.message, frame["id"])
                    finally:
                        self.posting.discard(frame["id"])
        finally:
            self.poster = None

    def _post_all(self, frames):
        """``_post`` each frame on the database thread: ``(True, result)``
        or ``(False, the error to answer)``. ``stored`` is what this batch
        stored so far per conversation, so that a message that follows the
        batch's previous one is not taken for a gap."""
        results, stored = [], {}
        for frame in frames:
            try:
                results.append((True, self._post(frame, stored)))
            except (protocol.ProtocolError, service.ServiceError) as error:
                results.append((False, error))
        return results

    async def _send_new(self, delivery, messages):
        """Send, in order and once, those of ``messages`` this socket has
        not delivered."""
        for message in messages:
            if message["seq"] > delivery.through:
                await self.send_json({"type": "message", "message": message})
                delivery.through = message["seq"]

    def own_in_flight(self, event) -> bool:
        """An event for a message this socket is still sending: its ack will
        carry it."""
        return (
            bool(self.posting)
            and event.get("client_id") in self.posting
            and (event.get("sender") == self.sender)
        )

    async def send_error(self, code, message, frame_id=None):
        await self.send_json(protocol.ProtocolError(code, message, frame_id).as_frame())

    async def on_ping(self, frame):
        socketlog.tick()
        await self.resync()
        await self.send_json({"type": "pong"})

    async def close(self, code=None, reason=None):
        # Nothing more is sent on a socket that is closing.
        self.closing = True
        await super().close(code=code, reason=reason)

    async def resync(self):
        """Send what the record holds beyond what was delivered."""


class Delivery:
    """What one socket has delivered of one conversation: every seq up to
    ``through`` (notes included, which a visitor never sees)."""

    def __init__(self, through=0):
        self.through = through

    def follows(self, seq: int) -> bool | None:
        """True: ``seq`` is next; False: had already; None: a gap."""
        if seq <= self.through:
            return False
        return True if seq == self.through + 1 else None


class VisitorConsumer(LivechatConsumer):
    side = "visitor"

    async def connect(self):
        key = identity.unsign(self.scope.get("cookies", {}).get(conf.VISITOR_COOKIE))
        self.visitor = await self.db(service.visitor_by_key, key) if key else None
        self.conversation_id = None
        self.delivery = Delivery()
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

    @property
    def user_agent(self) -> str:
        headers = dict(self.scope.get("headers") or ())
        return headers.get(b"user-agent", b"").decode("latin1")

    def _welcome(self, after, page, token=None):
        chatflow = (
            service.Chatflow.objects.filter(pk=self.chatflow_id, live=True)
            .only("pk", "inbox_id", "language")
            .first()
            if self.chatflow_id
            else None
        )
        inbox_id = chatflow.inbox_id if chatflow else None
        identified = False
        if self.visitor is not None:
            claims = identity.claims_for(token, self.scope.get("user"))
            if claims is not None:
                self.visitor = service.identify_visitor(self.visitor, claims)
            contact = self.visitor.contact
            identified = bool(contact and contact.identified_at)
            service.update_visitor_page(self.visitor, page)
        # The conversation of this chatflow's inbox: one per inbox.
        conversation = service.current_conversation(self.visitor, inbox_id)
        messages, more = [], False
        if conversation is not None:
            self.conversation_id = conversation.pk
            messages, through, more = service.page_after(conversation.pk, after, notes=False)
            self.delivery = Delivery(through)
            inbox_id = conversation.inbox_id
        else:
            self.conversation_id, self.delivery = None, Delivery()
        welcome = {
            "type": "welcome",
            "visitor": self.visitor is not None,
            "online": bool(inbox_id and memo.inbox_online(inbox_id)),
            "conversation": (
                {"id": conversation.pk, "status": conversation.status} if conversation else None
            ),
            "contact": bool(self.visitor and self.visitor.contact_id),
            "identified": identified,
            "owner": service.heading_owner(self.visitor, self.chatflow_id),
            "survey": service.survey_pending(conversation),
            "messages": messages,
        }
        return welcome, more, chatflow.language if chatflow else None

    async def on_hello(self, frame):
        self.chatflow_id = frame["chatflow"]
        self.delivery = Delivery(frame["after"])
        welcome, more, language = await self.db(
            self._welcome, frame["after"], frame["page"], frame["identity"]
        )
        # Errors and notices on this socket speak the chatflow's language.
        self.language = language or self.language
        await self.send_json(welcome)
        if more:  # a long-offline client: the rest, page by page, in order
            await self.resync()

    @property
    def sender(self):
        return f"v{self.visitor.pk}" if self.visitor else None

    async def on_message(self, frame):
        if self.visitor is None:
            raise protocol.ProtocolError(
                "identify", _("Start the chat before sending."), frame["id"]
            )
        await super().on_message(frame)

    async def posted(self, frame, posted):
        if posted is None:
            self.refused += 1
            if self.refused > 2 * conf.VISITOR_RATE_PER_MINUTE:  # ignores the refusals
                await self.close(code=CLOSE_RATE_LIMITED)
                return
            raise protocol.ProtocolError(
                "rate_limited", _("You are sending too fast; wait a moment."), frame["id"]
            )
        self.refused = 0
        data, earlier = posted
        if data["conversation"] != self.conversation_id:
            self.conversation_id, self.delivery = data["conversation"], Delivery()
        # Earlier messages first: a client raises its last seen seq from the
        # ack, so an ack before them could make a reconnect skip them.
        await self._send_new(self.delivery, earlier)
        self.delivery.through = max(self.delivery.through, data["seq"])
        await self.send_json({"type": "ack", "id": frame["id"], "message": data})

    def _post(self, frame, stored):
        """Throttle, store, and (only on a gap) read what came before. None
        when the visitor is sending too fast; a resend is never throttled."""
        sender = f"v{self.visitor.pk}"
        if (
            not allow(sender, conf.VISITOR_RATE_PER_MINUTE)
            and service.stored_message(sender, frame["id"]) is None
        ):
            return None
        message, _created = service.post_visitor_message(
            self.visitor,
            client_id=frame["id"],
            body=frame["body"],
            chatflow_id=self.chatflow_id,
            conversation_id=self.conversation_id,
            # Stored only if this message starts a conversation.
            context={"user_agent": self.user_agent, "time_zone": frame.get("tz")},
        )
        pk = message.conversation_id
        through = self.delivery.through if pk == self.conversation_id else 0
        earlier = service.messages_between(
            pk, max(through, stored.get(pk, 0)), message.seq, notes=False
        )
        stored[pk] = max(message.seq, stored.get(pk, 0))
        return service.message_data(message), earlier

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
            await self.db(service.update_visitor_page, self.visitor, frame["page"])

    async def on_email(self, frame):
        if self.visitor is None:
            raise protocol.ProtocolError("identify", _("Start the chat before sending."))
        self.visitor = await self.db(
            service.capture_email,
            self.visitor,
            email=frame["email"],
            subscribe=frame["subscribe"],
            consent=frame["consent"],
            chatflow_id=self.chatflow_id,
        )
        # Only the address: it may belong to a contact whose stored details
        # are none of this visitor's business.
        await self.send_json(
            {
                "type": "contact",
                "email": self.visitor.contact.email,
                "confirmed": self.visitor.contact_confirmed_at is not None,
            }
        )

    async def on_read(self, frame):
        if self.visitor is not None and self.conversation_id is not None:
            await self.db(
                service.mark_visitor_read, self.visitor, self.conversation_id, frame["seq"]
            )

    async def on_transcript(self, frame):
        if self.visitor is None:
            raise protocol.ProtocolError("identify", _("Start the chat before sending."))
        await self.db(service.request_transcript, self.visitor)
        await self.send_json({"type": "transcript_sent"})

    async def on_end(self, frame):
        """The visitor ends the conversation; ``closed`` comes through the
        visitor's group (every tab), or at once if it had ended already."""
        if self.visitor is None:
            raise service.NotFound(_("No such conversation."))
        if not await self.db(service.end_by_visitor, self.visitor, frame["conversation"]):
            await self.send_json({"type": "closed", "conversation": frame["conversation"]})

    async def on_survey(self, frame):
        if self.visitor is None:
            raise service.NotFound(_("No such conversation."))
        await self.db(
            service.answer_survey,
            self.visitor,
            frame["conversation"],
            frame["rating"],
            frame["comment"],
        )
        await self.send_json({"type": "survey_saved", "conversation": frame["conversation"]})

    async def on_consent(self, frame):
        if self.visitor is None:
            raise protocol.ProtocolError("identify", _("Start the chat before sending."))
        await self.db(
            service.record_consent, self.visitor, self.chatflow_id, frame["kind"], frame["given"]
        )

    def _page(self, after):
        if service.last_seqs([self.conversation_id]).get(self.conversation_id, 0) <= after:
            return [], after, False  # nothing new: the common case costs one query
        return service.page_after(self.conversation_id, after, notes=False)

    async def on_ping(self, frame):
        if self.visitor is not None:
            # Again on every ping: a restarted Redis forgets groups, and
            # channels-redis expires them after a day.
            await self.channel_layer.group_add(
                service.visitor_group(self.visitor.pk), self.channel_name
            )
        await super().on_ping(frame)

    async def resync(self):
        """Deliver what the record holds beyond what was delivered, page by
        page, in order and once."""
        more = self.conversation_id is not None
        while more and not self.closing:
            messages, through, more = await self.db(self._page, self.delivery.through)
            for message in messages:
                if message["seq"] > self.delivery.through:
                    await self.send_json({"type": "message", "message": message})
            self.delivery.through = max(self.delivery.through, through)

    # -- Channel layer events ---------------------------------------------

    async def livechat_event(self, event):
        pk = event["conversation"]
        if pk != self.conversation_id:
            if event["event"] != "message":
                return
            # A conversation started in another tab of this visitor.
            self.conversation_id, self.delivery = pk, Delivery()
        if event["event"] == "message":
            seq = event["message"]["seq"] if "message" in event else event["seq"]
            follows = self.delivery.follows(seq)
            if follows is None:
                await self.resync()
            elif follows:
                self.delivery.through = seq
                if not event.get("note") and not self.own_in_flight(event):
                    await self.send_json({"type": "message", "message": event["message"]})
        elif event["event"] == "closed":
            await self.send_json({"type": "closed", "conversation": pk})

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
    # Staff, who may open and answer hundreds of conversations at once: the
    # budget only stops a runaway client.
    frame_budget = 6000

    async def connect(self):
        self.agent = None
        self.opened: dict[int, Delivery] = {}
        self.following: dict[int, tuple[int, int]] = {}  # conversation -> (inbox, visitor)
        self.viewers: dict[int, dict[str, dict]] = {}  # conversation -> channel -> agent
        self.inbox_ids: frozenset[int] = frozenset()
        self.reads: dict[int, int] = {}  # conversation -> seq, not yet written
        self.read_task = None
        self.rejoined = time.monotonic()  # each open joins its group
        await self.accept()
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.user = user
        await self.channel_layer.group_add(service.AGENTS_GROUP, self.channel_name)
        await self._follow_inboxes()

    async def disconnect(self, code):
        if self.present is not None:
            await self.db(memo.agent_gone, self.present)
            self.present = None
        await self._flush_reads()
        await self.channel_layer.group_discard(service.AGENTS_GROUP, self.channel_name)
        for pk in self.inbox_ids:
            await self.channel_layer.group_discard(service.inbox_group(pk), self.channel_name)
        for pk in list(self.opened):
            await self._leave(pk)

    async def _follow_inboxes(self, rejoin=False):
        """Read who this agent is now and follow the inboxes they belong to:
        on connect, on every ping, and at once when a membership changes.
        ``rejoin`` adds the inbox groups again (a restarted Redis forgets
        them, and channels-redis expires them after a day)."""
        self.agent = await self.db(self._agent_now)
        if self.agent is None:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        # A superuser follows every inbox, including those created since.
        current = (
            await self.db(lambda: frozenset(service.Inbox.objects.values_list("pk", flat=True)))
            if self.agent.everything
            else self.agent.inboxes
        )
        for pk in current if rejoin else current - self.inbox_ids:
            await self.channel_layer.group_add(service.inbox_group(pk), self.channel_name)
        for pk in self.inbox_ids - current:
            await self.channel_layer.group_discard(service.inbox_group(pk), self.channel_name)
        self.inbox_ids = current
        for pk, (inbox, _visitor) in list(self.following.items()):
            if not self.agent.may(inbox):  # revoked: no more of it, not even typing
                await self._leave(pk)
        if rejoin:
            await self.channel_layer.group_add(service.AGENTS_GROUP, self.channel_name)

    present = None  # the user this socket marks connected (memo)

    def _agent_now(self):
        """Who this agent is now; an agent socket marks its user connected
        (refreshed on every ping), which is what makes an inbox online."""
        agent = service.agent_for(self.user)
        if agent is not None:
            memo.agent_present(agent.id, new_socket=self.present is None)
            self.present = agent.id
        return agent

    @property
    def me(self):
        return {"id": self.agent.id, "name": self.agent.name or _("Agent")}

    async def on_hello(self, frame):
        await self.send_json(await self.db(self._agent_welcome))

    def _agent_welcome(self):
        return {
            "type": "agent_welcome",
            "user": {"id": self.agent.id, "name": service.display_name(self.user)},
            "available": service.is_available(self.agent),
            "inboxes": [
                {"id": i.pk, "name": i.name}
                for i in service.Inbox.objects.filter(pk__in=self.inbox_ids)
            ],
        }

    def _history(self, pk, after):
        conversation = service.conversation_for(self.agent, pk)
        messages, through, more = service.page_after(pk, after, notes=True)
        return (
            {
                "type": "history",
                "conversation": service.conversation_data(conversation),
                "messages": messages,
                "context": service.conversation_context(conversation),
                "survey": service.survey_of(pk),
            },
            (conversation.inbox_id, conversation.visitor_id),
            through,
            more,
        )

    async def on_open(self, frame):
        pk = frame["conversation"]
        history, follows, through, more = await self.db(self._history, pk, frame["after"])
        self.opened[pk] = Delivery(through)
        self.following[pk] = follows
        self.viewers[pk] = {}
        await self.channel_layer.group_add(service.conversation_group(pk), self.channel_name)
        await self.send_json(history)
        if more:  # far behind: the rest, page by page, in order
            await self._deliver(pk)
        # Nobody else yet, as far as we know; those who are answer the join.
        await self.send_json({"type": "viewers", "conversation": pk, "viewers": []})
        await self._presence(pk, "join")

    async def _presence(self, pk, action, to=None):
        event = {
            "type": "livechat.presence",
            "action": action,
            "conversation": pk,
            "agent": self.me,
            "sender": self.channel_name,
        }
        if to:
            await self.channel_layer.send(to, event)
        else:
            await self.channel_layer.group_send(service.conversation_group(pk), event)

    async def on_leave(self, frame):
        await self._leave(frame["conversation"])

    async def _leave(self, pk):
        self.following.pop(pk, None)
        if self.opened.pop(pk, None) is None:
            return
        self.viewers.pop(pk, None)
        await self.channel_layer.group_discard(service.conversation_group(pk), self.channel_name)
        await self._presence(pk, "leave")

    @property
    def sender(self):
        return f"u{self.agent.id}" if self.agent else None

    async def posted(self, frame, posted):
        data, earlier = posted
        delivery = self.opened.get(data["conversation"])
        if delivery is not None:
            # Earlier messages before the ack, which moves the client's last seq.
            await self._send_new(delivery, earlier)
            delivery.through = max(delivery.through, data["seq"])
        await self.send_json({"type": "ack", "id": frame["id"], "message": data})

    def _post(self, frame, stored):
        """Store, and (only on a gap) read what came before."""
        pk = frame["conversation"]
        message, _created = service.post_agent_message(
            self.agent, pk, client_id=frame["id"], body=frame["body"], note=frame["note"]
        )
        delivery = self.opened.get(pk)
        earlier = (
            service.messages_between(
                pk, max(delivery.through, stored.get(pk, 0)), message.seq, notes=True
            )
            if delivery is not None
            else []
        )
        stored[pk] = max(message.seq, stored.get(pk, 0))
        return service.message_data(message, for_agents=True), earlier

    async def on_typing(self, frame):
        pk = frame["conversation"]
        follows = self.following.get(pk)
        if follows is None:
            conversation = await self.db(service.conversation_for, self.agent, pk)
            follows = (conversation.inbox_id, conversation.visitor_id)
        event = {
            "type": "livechat.typing",
            "conversation": pk,
            "who": self.me["name"],
            "on": frame["on"],
            "sender": self.channel_name,
        }
        await self.channel_layer.group_send(service.conversation_group(pk), event)
        await self.channel_layer.group_send(service.visitor_group(follows[1]), event)

    async def _send_summary(self, conversation):
        data = await self.db(
            lambda: service.conversation_data(service.conversation_for_summary(conversation.pk))
        )
        await self.send_json({"type": "conversation", "conversation": data})

    async def on_assign(self, frame):
        await self._send_summary(
            await self.db(service.assign, self.agent, frame["conversation"], frame["user"])
        )

    async def on_close(self, frame):
        await self._send_summary(
            await self.db(service.set_status, self.agent, frame["conversation"], "closed")
        )

    async def on_reopen(self, frame):
        await self._send_summary(
            await self.db(service.set_status, self.agent, frame["conversation"], "open")
        )

    async def on_read(self, frame):
        """Coalesced: at most one write a second per socket; the new unread
        count comes back through the inbox's event."""
        pk = frame["conversation"]
        if pk not in self.following and not await self.db(
            lambda: bool(service.conversation_for(self.agent, pk))
        ):
            return
        self.reads[pk] = max(self.reads.get(pk, 0), frame["seq"])
        if self.read_task is None:
            self.read_task = asyncio.ensure_future(self._reads_later())

    async def _reads_later(self):
        await asyncio.sleep(READ_EVERY)
        self.read_task = None
        await self._flush_reads()

    async def _flush_reads(self):
        reads, self.reads = self.reads, {}
        if reads and self.agent is not None:
            await self.db(self._write_reads, reads)

    def _write_reads(self, reads):
        for pk, seq in reads.items():
            try:
                service.mark_read(self.agent, pk, seq)
            except service.ServiceError:
                pass  # left the inbox meanwhile: nothing to record

    async def on_label(self, frame):
        await self._send_summary(
            await self.db(
                service.set_label, self.agent, frame["conversation"], frame["label"], frame["add"]
            )
        )

    async def on_availability(self, frame):
        available = await self.db(service.set_availability, self.agent, frame["available"])
        await self.send_json({"type": "availability", "available": available})

    def _page(self, pk, after):
        return service.page_after(pk, after, notes=True)

    repairing: dict | None = None

    def _repair(self, pk):
        """Deliver a conversation's gap in the background: the socket goes on
        with the other conversations' events meanwhile. (Waiting here for a
        busy database thread let this socket's channel fill up, and every
        event it then dropped was one more gap.) A gap seen while a repair
        runs makes it look once more."""
        if self.repairing is None:
            self.repairing, self.repair_again = {}, set()
        if pk in self.repairing:
            self.repair_again.add(pk)
        else:
            self.repairing[pk] = asyncio.ensure_future(self._repairing(pk))

    async def _repairing(self, pk):
        try:
            again = True
            while again:
                self.repair_again.discard(pk)
                await self._deliver(pk)
                again = pk in self.repair_again
        except Exception:  # the record is safe: the next ping resyncs
            socketlog.error("repair", conversation=pk)
        finally:
            del self.repairing[pk]

    async def _deliver(self, pk):
        """Send what the record holds beyond what this socket delivered of a
        conversation, page by page."""
        more = True
        while more and pk in self.opened and not self.closing:
            delivery = self.opened[pk]
            messages, through, more = await self.db(self._page, pk, delivery.through)
            for message in messages:
                if message["seq"] > delivery.through:
                    await self.send_json({"type": "message", "message": message})
            delivery.through = max(delivery.through, through)

    async def resync(self):
        """Deliver what was missed; join the groups again that a restarted
        Redis may have forgotten. The inbox groups are few and rejoined every
        time; the open conversations' groups (an agent may view thousands:
        one Redis call each, every ping, was what a busy process spent its
        time on) only when a gap shows that events went missing, and every
        ``REJOIN_EVERY`` seconds against channels-redis's expiry."""
        await self._follow_inboxes(rejoin=True)
        if self.closing or not self.opened:
            return
        rejoined = time.monotonic() - self.rejoined >= REJOIN_EVERY
        if rejoined:
            await self._rejoin_conversations()
        seqs = await self.db(service.last_seqs, list(self.opened))
        behind = [pk for pk, delivery in self.opened.items() if seqs.get(pk, 0) > delivery.through]
        if behind and not rejoined:
            await self._rejoin_conversations()
        for pk in behind:
            await self._deliver(pk)

    async def _rejoin_conversations(self):
        for pk in list(self.following):
            await self.channel_layer.group_add(service.conversation_group(pk), self.channel_name)
        self.rejoined = time.monotonic()

    # -- Channel layer events ---------------------------------------------

    async def livechat_event(self, event):
        pk = event["conversation"]
        if self.agent is None or not self.agent.may(event["inbox"]):
            return
        kind = event["event"]
        if kind == "message":
            delivery = self.opened.get(pk)
            if delivery is not None:
                follows = delivery.follows(event["message"]["seq"])
                if follows is None:
                    self._repair(pk)
                elif follows:
                    delivery.through = event["message"]["seq"]
                    if not self.own_in_flight(event):
                        # One frame: the message and what it changed in the
                        # conversation's row (every frame costs a write).
                        await self.send_json(
                            {
                                "type": "message",
                                "message": event["message"],
                                "conversation": event["summary"],
                            }
                        )
                        return
        elif kind == "survey":
            if pk in self.opened:
                await self.send_json(
                    {"type": "survey", "conversation": pk, "survey": event["survey"]}
                )
            return
        elif kind == "visitor_page":
            if pk in self.opened:
                frame = {"type": "visitor_page", "conversation": pk, "page": event["page"]}
                if "visit" in event:  # a page visited while the conversation is open
                    frame["visit"] = event["visit"]
                await self.send_json(frame)
            return
        if "summary" in event:
            await self.send_json({"type": "conversation", "conversation": event["summary"]})
        if kind == "contact" and pk in self.opened:
            await self.send_json(
                {"type": "context", "conversation": pk, "context": event["context"]}
            )

    async def livechat_membership(self, event):
        """Somebody's memberships changed: read ours again, at once."""
        await self._follow_inboxes()

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
                await self._presence(pk, "here", to=event["sender"])
        unique = {a["id"]: a for a in viewers.values() if a["id"] != self.agent.id}
        await self.send_json(
            {"type": "viewers", "conversation": pk, "viewers": list(unique.values())}
        )
