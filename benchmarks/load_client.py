"""The load benchmark's clients: visitor tabs and agents over real websockets.

A worker is a process with one asyncio loop (the ``websockets`` library) that
holds its share of the sockets and obeys ``load.py`` over a pipe, step by
step: connect the visitors (each says hello; its first tab sends a warm-up
message, which starts the conversation), connect the agents (each opens every
conversation), run the timed load, close. Several workers split the sockets
when one process could not keep up.

Workers only log; ``load.py`` does the arithmetic. Each logs the time it
sent every timed message, and the time each of its sockets received one:
``time.monotonic()`` is the system's monotonic clock, the same in every
process of the machine, so a message sent by one worker and received by
another is timed correctly.

Bodies name their message: ``v<visitor>.<n>`` from a visitor, ``a<visitor>.<n>``
for the agent's answer to it.
"""

import asyncio
import gc
import json
import random
import resource
import time

import websockets

CONNECT_TIMEOUT = 60  # seconds; setting up thousands of sockets on a slow server
SETUP_CONCURRENCY = 32  # handshakes and warm-ups in flight at once
OPEN_WINDOW = 16  # conversations an agent is opening at once
PING_EVERY = 25  # seconds, as the widget and the inbox do


def dumps(frame: dict) -> str:
    return json.dumps(frame, separators=(",", ":"))


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Socket:
    """One websocket and what its reader is waiting for."""

    def __init__(self, ws, ident: int):
        self.ws = ws
        self.ident = ident  # unique among the run's sockets, for dedup
        self.waiting: dict = {}  # key -> future

    def expect(self, key):
        future = asyncio.get_running_loop().create_future()
        self.waiting[key] = future
        return future

    def resolve(self, key, value):
        future = self.waiting.pop(key, None)
        if future is not None and not future.done():
            future.set_result(value)


class Worker:
    def __init__(self):
        self.tabs: dict[int, list[Socket]] = {}  # visitor -> its tabs, the sender first
        self.agents: list[tuple[int, Socket]] = []  # (agent number, socket)
        self.conversation: dict[int, int] = {}  # visitor -> conversation
        self.answerer: dict[int, int] = {}  # conversation -> agent number
        self.visitor_of: dict[int, int] = {}  # conversation -> visitor
        self.sent: dict[str, float] = {}  # body -> when it was sent
        self.received: list[tuple[str, str, int, float]] = []  # (body, "agent"/"tab", socket, when)
        self.recording = False
        self.answer_until = 0.0
        self.errors: dict[str, int] = {}
        self.readers: list[asyncio.Task] = []
        self.lag = 0.0  # how late the latest send of the run was, at worst
        self.acked = 0  # answers the server acknowledged during the run
        self.limit = asyncio.Semaphore(SETUP_CONCURRENCY)

    def error(self, what: str):
        self.errors[what] = self.errors.get(what, 0) + 1

    async def connect(self, url: str, origin: str, cookie: str, ident: int) -> Socket:
        ws = await websockets.connect(
            url,
            origin=origin,
            additional_headers={"Cookie": cookie},
            compression=None,  # daphne does not negotiate it anyway
            ping_interval=None,  # the protocol's own pings, below
            open_timeout=CONNECT_TIMEOUT,
            max_queue=None,  # the reader keeps up; never push back on the server
        )
        return Socket(ws, ident)

    # -- Reading -------------------------------------------------------------

    async def read_visitor(self, sock: Socket, sender: bool):
        """``sender``: the tab that sends the visitor's messages (their ack
        carries them; a ``message`` frame of its own is a duplicate)."""
        try:
            async for text in sock.ws:
                now = time.monotonic()
                frame = json.loads(text)
                kind = frame["type"]
                if kind == "message":
                    if self.recording:
                        body = frame["message"]["body"]
                        receiver = "sender" if sender and body[0] == "v" else "tab"
                        self.received.append((body, receiver, sock.ident, now))
                elif kind == "ack":
                    sock.resolve(frame["id"], frame["message"]["conversation"])
                elif kind == "welcome":
                    sock.resolve("welcome", frame)
                elif kind in ("busy", "error"):
                    self.error(f"visitor {kind} {frame.get('code', '')}".strip())
                    sock.resolve("welcome", frame)
        except websockets.ConnectionClosed as closed:
            self.closed("visitor", closed)

    async def read_agent(self, number: int, sock: Socket):
        try:
            async for text in sock.ws:
                now = time.monotonic()
                frame = json.loads(text)
                kind = frame["type"]
                if kind == "message":
                    message = frame["message"]
                    body = message["body"]
                    if self.recording:
                        self.received.append((body, "agent", sock.ident, now))
                    if (
                        body[0] == "v"
                        and now < self.answer_until
                        and self.answerer.get(message["conversation"]) == number
                    ):
                        await self.answer(sock, message["conversation"], body)
                elif kind == "ack":
                    self.acked += self.recording
                elif kind == "history":
                    sock.resolve(frame["conversation"]["id"], True)
                elif kind == "agent_welcome":
                    sock.resolve("welcome", frame)
                elif kind == "error":
                    self.error(f"agent error {frame.get('code')}")
                    if frame.get("code") in ("not_found", "forbidden"):
                        sock.resolve(frame.get("conversation"), False)
        except websockets.ConnectionClosed as closed:
            self.closed("agent", closed)

    def closed(self, who: str, closed):
        if not self.closing:
            code = closed.rcvd.code if closed.rcvd else "no close frame"
            self.error(f"{who} socket closed ({code})")

    closing = False

    async def answer(self, sock: Socket, conversation: int, body: str):
        reply = "a" + body[1:]
        self.sent[reply] = time.monotonic()
        await sock.ws.send(
            dumps(
                {
                    "type": "message",
                    "conversation": conversation,
                    "id": f"load-{self.run_id}-" + reply.replace(".", "-"),
                    "body": reply,
                }
            )
        )

    # -- Steps ---------------------------------------------------------------

    async def add_visitors(self, visitors: list[dict], chatflow, warm: bool) -> dict:
        """Connect every tab, say hello, and (``warm``) send the warm-up
        message that starts each conversation; returns their ids."""

        async def one(spec):
            visitor = spec["visitor"]
            async with self.limit:
                try:
                    tabs = []
                    for url, origin, ident in spec["tabs"]:
                        sock = await self.connect(url, origin, spec["cookie"], ident)
                        reader = self.read_visitor(sock, sender=not tabs)
                        tabs.append(sock)
                        self.readers.append(asyncio.ensure_future(reader))
                        welcome = sock.expect("welcome")
                        await sock.ws.send(dumps(hello(chatflow)))
                        frame = await asyncio.wait_for(welcome, CONNECT_TIMEOUT)
                        if frame["type"] != "welcome":
                            self.error(f"visitor got {frame['type']} for hello")
                            return
                    self.tabs[visitor] = tabs
                    if warm:
                        client_id = f"load-warm-{visitor}"
                        ack = tabs[0].expect(client_id)
                        await tabs[0].ws.send(
                            dumps({"type": "message", "id": client_id, "body": "warm-up"})
                        )
                        self.conversation[visitor] = await asyncio.wait_for(ack, CONNECT_TIMEOUT)
                except (OSError, TimeoutError, websockets.WebSocketException) as error:
                    self.error(f"visitor setup: {type(error).__name__}")

        await asyncio.gather(*(one(spec) for spec in visitors))
        return {"conversations": self.conversation, "errors": self.take_errors()}

    async def add_agents(self, agents: list[dict], conversations: dict[int, int]) -> dict:
        """Connect the agents; each opens every conversation. ``conversations``
        maps each conversation to the agent who answers it."""
        self.answerer = conversations

        async def one(spec):
            try:
                sock = await self.connect(
                    spec["url"], spec["origin"], spec["cookie"], spec["ident"]
                )
                self.agents.append((spec["agent"], sock))
                self.readers.append(asyncio.ensure_future(self.read_agent(spec["agent"], sock)))
                welcome = sock.expect("welcome")
                await sock.ws.send(dumps({"type": "hello"}))
                await asyncio.wait_for(welcome, CONNECT_TIMEOUT)
                window = asyncio.Semaphore(OPEN_WINDOW)

                async def open_one(conversation):
                    async with window:
                        opened = sock.expect(conversation)
                        await sock.ws.send(dumps({"type": "open", "conversation": conversation}))
                        if not await asyncio.wait_for(opened, CONNECT_TIMEOUT):
                            self.error("agent could not open a conversation")

                await asyncio.gather(*(open_one(c) for c in conversations))
            except (OSError, TimeoutError, websockets.WebSocketException) as error:
                self.error(f"agent setup: {type(error).__name__}")

        await asyncio.gather(*(one(spec) for spec in agents))
        return {"errors": self.take_errors()}

    run_id = ""

    async def run(
        self, run: str, start: float, duration: float, rate: float, drain: float, probe
    ) -> dict:
        """From ``start`` (monotonic) for ``duration`` seconds, every visitor
        sends ``rate`` messages a second from its first tab (its first at a
        random moment of the first interval); the agents answer until shortly
        after, and everything that arrives until ``drain`` seconds after the
        end is logged. ``run`` goes into every client id: the agents are the
        same users from run to run, and the server would take a reused id
        for a resend (acknowledged again, stored and delivered never)."""
        self.run_id = run
        end = start + duration
        self.answer_until = end + 0.5
        interval = 1 / rate

        async def talk(visitor, sock):
            due = start + random.uniform(0, interval)
            n = 0
            while due < end:
                await asyncio.sleep(due - time.monotonic())
                body = f"v{visitor}.{n}"
                self.sent[body] = now = time.monotonic()
                self.lag = max(self.lag, now - due)
                frame = {"type": "message", "id": f"load-{run}-{visitor}-{n}", "body": body}
                await sock.ws.send(dumps(frame))
                n += 1
                due += interval

        async def ping(sock):
            due = start + random.uniform(0, PING_EVERY)
            while due < end:
                await asyncio.sleep(due - time.monotonic())
                await sock.ws.send('{"type":"ping"}')
                due += PING_EVERY

        sockets = [s for tabs in self.tabs.values() for s in tabs] + [s for _, s in self.agents]
        await asyncio.sleep(start - time.monotonic())
        self.recording = True
        # The log grows by a tuple a frame: no collector pauses in the client
        # (what it allocates meanwhile holds no cycles).
        gc.collect()
        gc.disable()
        cpu = cpu_seconds()
        tasks = [talk(v, tabs[0]) for v, tabs in self.tabs.items()]
        tasks += [ping(s) for s in sockets]
        newcomer = (
            asyncio.ensure_future(new_visitor(probe, start + duration / 2)) if probe else None
        )
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, Exception):
                self.error(f"sending: {type(outcome).__name__}")
        await asyncio.sleep(end + drain - time.monotonic())
        self.recording = False
        gc.enable()
        cpu = cpu_seconds() - cpu
        return {
            "sent": self.sent,
            "received": self.received,
            "cpu": cpu,
            "lag": self.lag,
            "acked": self.acked,
            "probe": await newcomer if newcomer else None,
            "errors": self.take_errors(),
        }

    def take_errors(self) -> dict:
        errors, self.errors = self.errors, {}
        return errors

    async def close(self):
        self.closing = True
        sockets = [s for tabs in self.tabs.values() for s in tabs] + [s for _, s in self.agents]
        await asyncio.gather(*(s.ws.close() for s in sockets), return_exceptions=True)
        for reader in self.readers:
            reader.cancel()


def hello(chatflow) -> dict:
    return {
        "type": "hello",
        "after": 0,
        "chatflow": chatflow,
        "page": {"url": "http://127.0.0.1/pricing/", "title": "Pricing", "id": None},
    }


async def new_visitor(spec: dict, at: float) -> dict:
    """What a visitor who comes along at the height of the load gets: how
    long the handshake, the welcome and the ack of a first message take
    (milliseconds), or what refused them."""
    await asyncio.sleep(at - time.monotonic())
    got: dict = {}
    begin = time.monotonic()

    def since():
        return round((time.monotonic() - begin) * 1000, 1)

    try:
        async with websockets.connect(
            spec["url"],
            origin=spec["origin"],
            additional_headers={"Cookie": spec["cookie"]},
            compression=None,
            ping_interval=None,
            open_timeout=30,
        ) as ws:
            got["connected_ms"] = since()
            await ws.send(dumps(hello(spec["chatflow"])))
            frame = json.loads(await asyncio.wait_for(ws.recv(), 30))
            got[f"{frame['type']}_ms"] = since()
            if frame["type"] != "welcome":
                return got
            frame = {"type": "message", "id": "load-newcomer", "body": "hello?"}
            await ws.send(dumps(frame))
            while True:
                frame = json.loads(await asyncio.wait_for(ws.recv(), 30))
                if frame["type"] in ("ack", "error"):
                    got[f"{frame['type']}_ms"] = since()
                    return got
    except (OSError, TimeoutError, websockets.WebSocketException) as error:
        got["failed"] = f"{type(error).__name__} after {since()} ms"
        return got


def main(pipe):
    """A worker process: obey ``load.py``'s commands until ``close``."""
    asyncio.run(serve(pipe))


async def serve(pipe):
    worker = Worker()
    while True:
        command, kwargs = await asyncio.to_thread(pipe.recv)
        if command == "close":
            await worker.close()
            pipe.send(None)
            return
        pipe.send(await getattr(worker, command)(**kwargs))
