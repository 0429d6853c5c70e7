"""A client of the live chat's websockets, written from docs/protocol.md the
way the widget (``chat.js``) and the inbox (``inbox.js``) speak it, for tests
that need clients which survive faults on their own.

What it keeps, like those two:

* the messages it shows, by conversation and ``seq`` (deduplicated on the
  seq; shown in seq order whatever the order they came in);
* the last seq it has of each conversation, said again on every
  (re)connection: a visitor's ``hello`` and an agent's ``open`` carry it as
  ``after``;
* the messages it sent that were not acknowledged, by client id, resent with
  the same id (and in the order they were written) once the server has
  welcomed the new connection;
* a ``ping`` every ``ping_every`` seconds with a deadline: when nothing comes
  back within ``pong_timeout`` (neither the ``pong`` nor any other frame),
  the connection is dead and it reconnects, to any of the server ports it is
  given, after an exponential backoff with full jitter.

Messages go out oldest first and never overtake one another on a connection.
Unlike the widget, a message the server refused (an ``error`` frame with its
id, ``rate_limited`` or any other code) is not left to the user: it stays
pending and is sent again ``retry_refused`` seconds later, with the same id,
and the later ones wait for it (those sent already cannot).

And what a test wants to know: a log of its connections (opened, closed by
the server, found dead, failed to open), when each message was first sent,
acknowledged and received, and how long each resync took (see
``resync_target``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import websockets
from websockets.exceptions import ConnectionClosed

VISITOR_PATH = "/ws/livechat/visitor/"
AGENT_PATH = "/ws/livechat/agent/"

clock = time.monotonic


@dataclass
class Event:
    """Something that happened to the client's connection."""

    at: float
    kind: str  # "open", "ready", "closed" (by the other end), "dead", "refused"
    port: int | None
    detail: str = ""


@dataclass
class Resync:
    """One (re)connection: how long from the socket's opening until the
    client had every message the database held at that moment."""

    port: int
    opened: float
    targets: dict[int, int] | None = None  # conversation -> last seq then
    handshake: float = 0.0  # seconds the opening handshake took (before ``opened``)
    welcomed: float | None = None  # seconds until the welcome (agents: a history)
    took: float | None = None  # None: the connection ended first


@dataclass
class Pending:
    id: str
    body: str
    conversation: int | None
    written: float  # when the user wrote it (first sent)
    retry_at: float = 0.0  # refused: not again before this


@dataclass
class Shown:
    seq: int
    body: str
    author: str
    note: bool


class ProtocolClient:
    """One browser tab: a widget (``VisitorClient``) or an inbox page
    (``AgentClient``). ``ports`` returns the server ports it may connect to
    (the live ones); it starts from the one at ``prefer`` and moves on to
    the next on each failure."""

    path = ""

    def __init__(
        self,
        name: str,
        cookie: str,
        ports: Callable[[], Sequence[int]],
        *,
        prefer: int = 0,
        host: str = "127.0.0.1",
        ping_every: float = 25.0,
        pong_timeout: float = 10.0,
        open_timeout: float = 10.0,
        backoff: float = 1.0,
        backoff_max: float = 30.0,
        retry_refused: float = 1.0,
        resync_target: Callable[[ProtocolClient], Awaitable[dict[int, int]]] | None = None,
    ):
        self.name = name
        self.cookie = cookie
        self.ports = ports
        self.prefer = prefer
        self.host = host
        self.ping_every = ping_every
        self.pong_timeout = pong_timeout
        self.open_timeout = open_timeout
        self.backoff = backoff
        self.backoff_max = backoff_max
        self.retry_refused = retry_refused
        self.resync_target = resync_target

        self.shown: dict[int, dict[int, Shown]] = {}  # conversation -> seq -> message
        self.last_seq: dict[int, int] = {}
        self.pending: dict[str, Pending] = {}  # in the order written
        self.sent: list[Pending] = []  # every message written, in order
        self.acked: dict[str, int] = {}  # client id -> seq
        self.acked_at: dict[str, float] = {}
        self.received_at: dict[tuple[int, int], float] = {}  # (conversation, seq) -> first seen
        self.events: list[Event] = []
        self.resyncs: list[Resync] = []
        self.counts: Counter = Counter()  # frames in and out, duplicates, errors...
        self.errors: list[dict] = []
        self.conflicts: list[tuple[int, int, str, str]] = []  # same seq, other body
        self.out_of_order: list[tuple[int, int, int]] = []  # (conversation, seq, after)

        self.ws = None
        self.port: int | None = None
        self.ready = False  # welcomed: messages may be sent
        self._attempt = 0
        self._next = prefer
        self._stopped = False
        self._task: asyncio.Task | None = None
        self._send_lock = asyncio.Lock()
        self._changed = asyncio.Event()
        self._helpers: set[asyncio.Task] = set()
        self._resync: Resync | None = None
        self._sent_here: set[str] = set()  # client ids sent on this connection
        self._progress: dict[int, list[tuple[float, int]]] = {}  # when each last seq came
        self._count = 0

    # -- For the test ----------------------------------------------------

    def start(self) -> ProtocolClient:
        self._task = asyncio.ensure_future(self._run())
        return self

    async def stop(self) -> None:
        self._stopped = True
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.ws.close(), 2)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        for task in list(self._helpers):
            task.cancel()

    @property
    def connected(self) -> bool:
        return self.ws is not None

    def write(self, body: str, conversation: int | None = None) -> str:
        """The user writes a message: pending until acknowledged; sent now
        if the connection is ready, else on the next welcome."""
        self._count += 1
        pending = Pending(f"{self.name}-{self._count:05d}", body, conversation, clock())
        self.pending[pending.id] = pending
        self.sent.append(pending)
        self._spawn(self._transmit())
        return pending.id

    def messages(self, conversation: int) -> list[tuple[int, str]]:
        """What the client shows of a conversation: (seq, body) in seq order."""
        shown = self.shown.get(conversation, {})
        return [(seq, shown[seq].body) for seq in sorted(shown)]

    async def wait_for(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Until ``predicate()`` holds (checked whenever something arrives)."""
        deadline = clock() + timeout
        while not predicate():
            left = deadline - clock()
            if left <= 0:
                return False
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(left, 0.5))
        return True

    def has(self, targets: dict[int, int]) -> bool:
        return all(self.last_seq.get(pk, 0) >= seq for pk, seq in targets.items())

    def losses_after(self, moment: float) -> list[Event]:
        """How the client learnt, after ``moment``, that a connection was gone."""
        return [e for e in self.events if e.at >= moment and e.kind in ("closed", "dead")]

    # -- Connection ------------------------------------------------------

    def _spawn(self, coroutine) -> None:
        task = asyncio.ensure_future(coroutine)
        self._helpers.add(task)
        task.add_done_callback(self._helpers.discard)

    def _choose(self) -> int:
        ports = list(self.ports())
        port = ports[self._next % len(ports)]
        return port

    async def _run(self) -> None:
        while not self._stopped:
            port = self._choose()
            dialled = clock()
            try:
                ws = await websockets.connect(
                    f"ws://{self.host}:{port}{self.path}",
                    origin=f"http://{self.host}:{port}",
                    additional_headers={"Cookie": self.cookie},
                    open_timeout=self.open_timeout,
                    ping_interval=None,  # the protocol's own ping, as in a browser
                    close_timeout=1,
                    max_queue=None,
                )
            except (OSError, TimeoutError, websockets.InvalidHandshake) as error:
                self.events.append(Event(clock(), "refused", port, repr(error)))
                self._next += 1
                await self._backoff()
                continue
            self.ws, self.port = ws, port
            opened = clock()
            self.events.append(Event(opened, "open", port))
            self.counts["connections"] += 1
            try:
                await self._session(ws, port, opened, opened - dialled)
            finally:
                self.ws, self.ready = None, False
                ws.transport.abort()  # nothing more to say on it, and no waiting
                self._changed.set()
            await self._backoff()

    async def _backoff(self) -> None:
        ceiling = min(self.backoff_max, self.backoff * 2**self._attempt)
        self._attempt += 1
        await asyncio.sleep(random.random() * ceiling)

    async def _session(self, ws, port: int, opened: float, handshake: float) -> None:
        self._resync = None
        self._sent_here = set()
        if self.resync_target is not None:
            self._resync = Resync(port, opened, handshake=handshake)
            self.resyncs.append(self._resync)
            self._spawn(self._measure(self._resync))
        await self._greet(ws)
        deadline = clock() + self.pong_timeout  # the welcome must come in time too
        next_ping = clock() + self.ping_every
        while not self._stopped:
            now = clock()
            wake = min(next_ping, deadline) if deadline else next_ping
            try:
                raw = await asyncio.wait_for(ws.recv(), max(0.0, wake - now))
            except TimeoutError:
                now = clock()
                if deadline and now >= deadline:
                    self.events.append(Event(now, "dead", port))
                    self.counts["dead"] += 1
                    return
                if now >= next_ping:
                    next_ping = now + self.ping_every
                    if self.ready and await self._send(ws, {"type": "ping"}):
                        self.counts["pings"] += 1
                        deadline = deadline or now + self.pong_timeout
                continue
            except ConnectionClosed as closed:
                code = closed.rcvd.code if closed.rcvd else None
                self.events.append(Event(clock(), "closed", port, str(code)))
                self.counts["closed"] += 1
                return
            deadline = None  # the server answers: alive
            self._attempt = 0
            try:
                frame = json.loads(raw)
            except (TypeError, ValueError):
                self.counts["unreadable"] += 1
                continue
            self.counts[f"in:{frame.get('type')}"] += 1
            await self._receive(ws, port, frame)
            self._changed.set()

    async def _measure(self, resync: Resync) -> None:
        resync.targets = targets = await self.resync_target(self)

        def current():
            return self._resync is resync and self.ws is not None

        def done():
            return resync.welcomed is not None and self.has(targets)

        while current() and not done():
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), 0.5)
        if current():
            # When it had them, not when the test learnt what to wait for.
            reached = max((self._reached(pk, seq) for pk, seq in targets.items()), default=0)
            resync.took = max(resync.welcomed, reached - resync.opened)

    def _reached(self, conversation: int, seq: int) -> float:
        """When the client first had ``seq`` of the conversation (0: always)."""
        for at, had in self._progress.get(conversation, ()):
            if had >= seq:
                return at
        return 0.0

    def _welcomed(self) -> None:
        if self._resync is not None and self._resync.welcomed is None:
            self._resync.welcomed = clock() - self._resync.opened

    async def _send(self, ws, frame: dict) -> bool:
        try:
            await asyncio.wait_for(ws.send(json.dumps(frame)), 5)
            return True
        except (ConnectionClosed, TimeoutError, OSError):
            return False

    async def _transmit(self) -> None:
        """Send, oldest first, the pending messages not yet sent on this
        connection, as far as it is ready for them (a welcome sends the
        rest). Nothing goes before a refused message is sent again: a message
        never overtakes an earlier one on a connection."""
        async with self._send_lock:
            ws = self.ws
            for pending in list(self.pending.values()):
                if ws is None or ws is not self.ws or pending.retry_at > clock():
                    return
                if pending.id in self._sent_here or not self._ready_for(pending.conversation):
                    continue
                frame = {"type": "message", "id": pending.id, "body": pending.body}
                frame.update(self._message_fields(pending))
                if not await self._send(ws, frame):
                    # Stalled or gone: a new connection sends it again, in order.
                    self.events.append(Event(clock(), "dead", self.port, "send failed"))
                    ws.transport.abort()
                    return
                self._sent_here.add(pending.id)
                self.counts["message_frames"] += 1

    async def _retry_later(self) -> None:
        await asyncio.sleep(self.retry_refused)
        await self._transmit()

    # -- Frames ----------------------------------------------------------

    def _show(self, message: dict) -> None:
        pk, seq = message["conversation"], message["seq"]
        shown = self.shown.setdefault(pk, {})
        if seq in shown:
            self.counts["duplicates"] += 1  # deduplicated on the seq
            if shown[seq].body != message["body"]:
                self.conflicts.append((pk, seq, shown[seq].body, message["body"]))
            return
        if seq < self.last_seq.get(pk, 0):
            self.out_of_order.append((pk, seq, self.last_seq[pk]))
        shown[seq] = Shown(seq, message["body"], message["author"], message["note"])
        self.received_at.setdefault((pk, seq), clock())
        if seq > self.last_seq.get(pk, 0):
            self.last_seq[pk] = seq
            self._progress.setdefault(pk, []).append((clock(), seq))

    async def _receive(self, ws, port: int, frame: dict) -> None:
        kind = frame.get("type")
        if kind == "ack":
            message = frame["message"]
            self.acked.setdefault(frame["id"], message["seq"])
            self.acked_at.setdefault(frame["id"], clock())
            if self.pending.pop(frame["id"], None) is None:
                self.counts["ack_again"] += 1
            self._show(message)
        elif kind == "message":
            self._show(frame["message"])
        elif kind == "error":
            self.errors.append(frame)
            self.counts[f"error:{frame.get('code')}"] += 1
            pending = self.pending.get(frame.get("id") or "")
            if pending is not None:
                pending.retry_at = clock() + self.retry_refused
                self._sent_here.discard(pending.id)
                self._spawn(self._retry_later())
        else:
            await self._receive_other(ws, port, frame)

    # What each side adds.

    async def _greet(self, ws) -> None:
        raise NotImplementedError

    def _ready_for(self, conversation: int | None) -> bool:
        return self.ready

    def _message_fields(self, pending: Pending) -> dict:
        return {}

    async def _receive_other(self, ws, port: int, frame: dict) -> None:
        pass


class VisitorClient(ProtocolClient):
    """The widget: ``hello`` with ``after`` on every connection; the
    conversation is the one the ``welcome`` (or the first ``ack``) names."""

    path = VISITOR_PATH

    def __init__(self, *args, chatflow: int | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.chatflow = chatflow
        self.conversation: int | None = None

    async def _greet(self, ws) -> None:
        after = self.last_seq.get(self.conversation, 0) if self.conversation else 0
        await self._send(ws, {"type": "hello", "after": after, "chatflow": self.chatflow})

    async def _receive_other(self, ws, port, frame):
        if frame["type"] == "welcome":
            self._welcomed()
            if frame.get("conversation"):
                self.conversation = frame["conversation"]["id"]
                self.last_seq.setdefault(self.conversation, 0)
            for message in frame["messages"]:
                self._show(message)
            self.ready = True
            self.events.append(Event(clock(), "ready", port))
            await self._transmit()

    def _show(self, message):
        if self.conversation is None:
            self.conversation = message["conversation"]
        super()._show(message)


class AgentClient(ProtocolClient):
    """An inbox page of one or more conversations: ``open`` with ``after``
    for each on every connection; a conversation's pending messages go once
    its ``history`` came."""

    path = AGENT_PATH

    def __init__(self, *args, conversations: Sequence[int] = (), **kwargs):
        super().__init__(*args, **kwargs)
        self.conversations = list(conversations)
        self.opened: set[int] = set()

    async def _greet(self, ws) -> None:
        self.opened = set()
        for pk in self.conversations:
            after = self.last_seq.get(pk, 0)
            await self._send(ws, {"type": "open", "conversation": pk, "after": after})

    def _ready_for(self, conversation):
        return conversation in self.opened

    def _message_fields(self, pending):
        return {"conversation": pending.conversation, "note": False}

    async def _receive_other(self, ws, port, frame):
        if frame["type"] == "history":
            self._welcomed()
            pk = frame["conversation"]["id"]
            for message in frame["messages"]:
                self._show(message)
            self.opened.add(pk)
            self.ready = self.opened >= set(self.conversations)
            if self.ready:
                self.events.append(Event(clock(), "ready", port))
            await self._transmit()


__all__ = [
    "AGENT_PATH",
    "VISITOR_PATH",
    "AgentClient",
    "Event",
    "Pending",
    "ProtocolClient",
    "Resync",
    "VisitorClient",
    "clock",
]
