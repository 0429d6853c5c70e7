"""Hostile input for the fuzz suite (``tests/test_fuzz.py``).

Seeded generators of websocket frames and of raw HTTP requests, and the
clients that send them to a real server and count what comes back. Every
choice is drawn from one ``random.Random``: a seed gives the same frames and
requests, in the same order, on every run.

The values are the ones that broke servers before: unpaired surrogates
spelled as JSON escapes (``"\\udfff"``: valid JSON, no valid text), NUL,
bidirectional overrides, characters outside the BMP, numbers no int or float
holds, nesting deeper than a parser's stack, binary and oversize frames; and
for HTTP, URLs that ``urlsplit`` refuses, full-text query syntax, foreign and
malformed hosts, methods, headers, bodies and encodings.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import time
import urllib.parse
from collections import Counter
from dataclasses import dataclass, field

import websockets
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

MAX_FRAME_BYTES = 16 * 1024  # WAGTAIL_LIVECHAT_MAX_FRAME_BYTES
CLOSE_TOO_BIG = 4009
CLOSE_RATE_LIMITED = 4008
# docs/protocol.md, "Close codes", and 1000: a normal closure (the server's
# answer to the client's own close).
DOCUMENTED_CLOSE_CODES = {1000, 4001, 4003, 4008, 4009, 4013, 4029}
DOCUMENTED_ERROR_CODES = {
    "bad_frame",
    "too_long",
    "rate_limited",
    "identify",
    "forbidden",
    "not_found",
    "invalid_email",
    "no_email",
    "unconfirmed",
}
SERVER_FRAME_TYPES = {
    "welcome",
    "agent_welcome",
    "ack",
    "message",
    "history",
    "conversation",
    "typing",
    "viewers",
    "context",
    "visitor_page",
    "contact",
    "availability",
    "closed",
    "transcript_sent",
    "busy",
    "error",
    "pong",
}


class Raw(str):
    """JSON text that goes into a frame as it is: tokens ``json.dumps``
    does not write (``NaN``, ``1e999``, 5,000 digits, deep nesting)."""


# -- Values ----------------------------------------------------------------------------

LONE_SURROGATES = ["\ud800", "\udfff", "\ud83d", "\udc00", "\udbff", "\ude00\ud83d"]
TEXTS = [
    "",
    " ",
    "\t\n\r",
    "\u00a0\u3000\u2007",
    "\x00",
    "a\x00b",
    "\x01\x1b[31m\x7f",
    "\u0085\u2028\u2029",
    "\u202e",
    "\u202eexe.txt\u202c",
    "\u2066\u2067\u2068\u2069\u200e\u200f",
    "\u200b\u200d\ufeff",
    "\U0001f600",
    "\U0010ffff",
    "\U0001d573\U0001d58a\U0001d591\U0001d591\U0001d594",
    "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466",
    "\U0001f1f3\U0001f1f1",
    "\ufffe\uffff\ufffd",
    "e\u0301" * 40,
    "Z\u0351\u0352\u0353\u0354" * 30,
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "' OR 1=1 --",
    '"; DROP TABLE wagtail_livechat_message; --',
    "%s%n%x%d",
    "{{ 7*7 }}{% debug %}",
    "${jndi:ldap://127.0.0.1/a}",
    "../../../../etc/passwd",
    "\\",
    '"',
    "'",
    "`",
    "null",
    "true",
    "0",
    "-1",
    "NaN",
    "Hello",
    "Can someone help me with my invoice?",
    "مرحبا، هل يمكنك مساعدتي؟",
    "שלום עולם",
    "你好，我需要帮助",
    "Ünïcödé ß ﬃ",
    "İstanbul ǅ ẞ",
]
URLS = [
    "http://127.0.0.1/",
    "https://127.0.0.1/pricing/",
    "http://127.0.0.1/about/?utm_source=x&a=%ZZ#frag",
    "http://localhost/",
    "http://[::1",
    "http://[::1]/",
    "http://[::1]:99999/",
    "http://[zz]/",
    "https://[::1/x",
    "http://a\uff03b/",
    "http://%ud800/",
    "http://a:b@[/",
    "javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "//example.com/",
    "http:///",
    "http://",
    "http://127.0.0.1:99999/",
    "http://user:pass@127.0.0.1/",
    "http://127.0.0.1/" + "a" * 2100,
    "http://127.0.0.1/\u202etxt.exe",
    "http://127.0.0.1/\x00",
    "http://127.0.0.1/\ud800",
    "http://127.0.0.1/\U0001f600",
    "HTTP://127.0.0.1/",
    " http://127.0.0.1/",
    "http://127.0.0.1/\t\n",
    "http://xn--/",
    "http://xn--80ak6aa92e.com/",
    "http://127.0.0.1/?" + "&".join(f"p{n}=v" for n in range(300)),
]
EMAILS = [
    "visitor@example.com",
    "VISITOR@EXAMPLE.COM",
    "a@b",
    "@",
    "a@",
    "a\x00@example.com",
    "x" * 250 + "@example.com",
    "ü@exämple.com",
    "a@[::1]",
    "a@example.com\n",
    "\ud800@example.com",
    '"a b"@example.com',
    "a@example.com, b@example.com",
    "a@example.com\r\nBcc: c@example.com",
]
NUMBERS: list = [
    0,
    1,
    -1,
    2,
    7,
    2**31 - 1,
    2**31,
    -(2**31),
    2**53 + 1,
    2**63,
    2**64,
    10**30,
    -(10**30),
    1.5,
    -0.0,
    1e308,
    0.1,
    Raw("1e999"),
    Raw("-1e999"),
    Raw("NaN"),
    Raw("Infinity"),
    Raw("-Infinity"),
    Raw("9" * 4301),  # past Python's 4,300 digits: int() refuses
    Raw("1" + "0" * 400),
    Raw("1E400"),
    Raw("-0"),
    Raw("1.0"),
]
LENGTHS = [1, 7, 8, 63, 64, 65, 254, 255, 256, 2047, 2048, 2049, 3999, 4000, 4001, 8000]
FILLERS = ["x", "é", "\U0001f600", "\u202e", " ", "\x00", "\u0301"]


def unicode_soup(rng: random.Random, length: int) -> str:
    """Code points from every plane, surrogates and NUL included."""
    out = []
    for _ in range(length):
        r = rng.random()
        if r < 0.3:
            out.append(chr(rng.randint(0x20, 0x7E)))
        elif r < 0.45:
            out.append(chr(rng.randint(0, 0x1F)))
        elif r < 0.6:
            out.append(chr(rng.randint(0xD800, 0xDFFF)))
        elif r < 0.8:
            out.append(chr(rng.randint(0x80, 0xFFFF)))
        else:
            out.append(chr(rng.randint(0x10000, 0x10FFFF)))
    return "".join(out)


def text(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.45:
        return rng.choice(TEXTS)
    if r < 0.65:  # a lone surrogate somewhere in ordinary text
        base = rng.choice(TEXTS[-8:])
        at = rng.randint(0, len(base))
        return base[:at] + rng.choice(LONE_SURROGATES) + base[at:]
    if r < 0.8:
        filler = rng.choice(FILLERS)
        # At most 12 KB: a frame past 16 KiB closes the socket (oversize
        # frames are made on purpose, and rarer).
        return filler * min(rng.choice(LENGTHS), 12_000 // len(filler.encode()))
    return unicode_soup(rng, rng.randint(1, 40))


def nested(rng: random.Random) -> Raw:
    depth = rng.choice([2, 10, 100, 999, 1000, 1001, 2000, 5000])
    if rng.random() < 0.5 or depth > 2000:  # (objects that deep are past 16 KiB)
        return Raw("[" * depth + "]" * depth)
    return Raw('{"a":' * depth + "1" + "}" * depth)


def value(rng: random.Random, depth: int = 0):
    r = rng.random()
    if r < 0.45:
        return text(rng)
    if r < 0.7:
        return rng.choice(NUMBERS)
    if r < 0.8:
        return rng.choice([True, False, None])
    if r < 0.88:
        return nested(rng)
    if depth > 2:
        return []
    if r < 0.94:
        return [value(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    return {text(rng): value(rng, depth + 1) for _ in range(rng.randint(0, 3))}


def encode(obj, rng: random.Random) -> str:
    """JSON text of ``obj``; ``Raw`` goes in as it is. A string with a lone
    surrogate is always escaped (a frame on the wire is UTF-8); others are
    escaped or not at random."""
    if isinstance(obj, Raw):
        return str(obj)
    if isinstance(obj, str):
        lone = re.search("[\ud800-\udfff]", obj) is not None
        return json.dumps(obj, ensure_ascii=lone or rng.random() < 0.5)
    if isinstance(obj, dict):
        items = [f"{encode(str(k), rng)}:{encode(v, rng)}" for k, v in obj.items()]
        return "{" + ",".join(items) + "}"
    if isinstance(obj, list):
        return "[" + ",".join(encode(v, rng) for v in obj) + "]"
    return json.dumps(obj)


# -- Websocket frames ------------------------------------------------------------------


@dataclass
class Context:
    """What the frames may name: the site's real objects, so that valid
    frames reach the service and the database."""

    origin: str
    chatflows: list[int]
    pages: list[int]
    conversations: list[int]
    users: list[int]


@dataclass
class Frame:
    kind: str  # valid / mutated / object / raw / fragmented / binary / oversize / flood
    data: str | bytes | list[str]
    closes: int | None = None  # the close code this frame must get


def client_id(rng: random.Random) -> str:
    return "fz-" + "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(12))


def _page_url(rng, ctx):
    path = rng.choice(["/", "/pricing/", "/about/", "/knowledge-base/", "/x/?q=1"])
    return ctx.origin + path


def valid_frame(rng: random.Random, side: str, ctx: Context) -> dict:
    conversation = rng.choice(ctx.conversations)
    body = rng.choice(TEXTS[-10:]) if rng.random() < 0.6 else text(rng)
    if side == "visitor":
        kind = rng.choice(
            ["hello", "message", "message", "message", "typing", "page", "email", "read"]
            + ["transcript", "ping"]
        )
        page = {"url": _page_url(rng, ctx), "title": rng.choice(TEXTS), "id": None}
        if rng.random() < 0.5:
            page["id"] = rng.choice(ctx.pages)
        return {
            "hello": {
                "type": "hello",
                "after": rng.choice([0, 0, 1, 3]),
                "chatflow": rng.choice(ctx.chatflows),
                "page": page,
            },
            "message": {"type": "message", "id": client_id(rng), "body": body},
            "typing": {"type": "typing", "on": rng.random() < 0.5},
            "page": {"type": "page", **page},
            "email": {
                "type": "email",
                "email": rng.choice(EMAILS),
                "subscribe": rng.random() < 0.5,
                "consent": rng.random() < 0.5,
            },
            "read": {"type": "read", "seq": rng.choice([0, 1, 2, 50])},
            "transcript": {"type": "transcript"},
            "ping": {"type": "ping"},
        }[kind]
    kind = rng.choice(
        ["hello", "open", "leave", "message", "message", "typing", "assign", "close"]
        + ["reopen", "read", "availability", "ping"]
    )
    return {
        "hello": {"type": "hello"},
        "open": {"type": "open", "conversation": conversation, "after": rng.choice([0, 1, 5])},
        "leave": {"type": "leave", "conversation": conversation},
        "message": {
            "type": "message",
            "conversation": conversation,
            "id": client_id(rng),
            "body": body,
            "note": rng.random() < 0.3,
        },
        "typing": {"type": "typing", "conversation": conversation, "on": rng.random() < 0.5},
        "assign": {
            "type": "assign",
            "conversation": conversation,
            "user": rng.choice([*ctx.users, None]),
        },
        "close": {"type": "close", "conversation": conversation},
        "reopen": {"type": "reopen", "conversation": conversation},
        "read": {"type": "read", "conversation": conversation, "seq": rng.choice([0, 1, 9])},
        "availability": {"type": "availability", "available": True},
        "ping": {"type": "ping"},
    }[kind]


FIELD_NAMES = [
    "type",
    "id",
    "body",
    "after",
    "chatflow",
    "page",
    "url",
    "title",
    "on",
    "email",
    "subscribe",
    "consent",
    "seq",
    "conversation",
    "note",
    "user",
    "available",
    "__proto__",
    "constructor",
    "\u202etype",
    "\ud800",
    "",
]
TYPES = [
    "hello",
    "message",
    "typing",
    "page",
    "email",
    "read",
    "transcript",
    "ping",
    "open",
    "leave",
    "assign",
    "close",
    "reopen",
    "availability",
    "pong",
    "welcome",
    "error",
    "HELLO",
    "ping ",
    "\u202eping",
    "ping\x00",
    "\udfff",
]


def mutate(frame: dict, rng: random.Random) -> dict:
    frame = dict(frame)
    for _ in range(rng.randint(1, 3)):
        r = rng.random()
        keys = list(frame)
        if r < 0.55 and keys:
            frame[rng.choice(keys)] = value(rng)
        elif r < 0.7 and len(keys) > 1:
            del frame[rng.choice([k for k in keys if k != "type"] or keys)]
        elif r < 0.8:
            frame["type"] = rng.choice(TYPES)
        elif r < 0.9:
            frame[rng.choice(FIELD_NAMES)] = value(rng)
        elif "page" in frame and isinstance(frame["page"], dict):
            page = dict(frame["page"])
            page[rng.choice(["url", "title", "id"])] = rng.choice(URLS + TEXTS[:12])
            frame["page"] = page
        else:
            frame["url"] = rng.choice(URLS)
    return frame


RAW_TEXTS = [
    "",
    " ",
    "\n",
    "null",
    "true",
    "0",
    '"ping"',
    "[]",
    '[{"type":"ping"}]',
    "{",
    "}",
    "{]",
    '{"type":"ping"',
    '{"type":"ping"}}',
    '{"type":"ping"} trailing',
    '{"type":"ping"}{"type":"ping"}',
    "{'type':'ping'}",
    '{"type":"ping",}',
    '{type:"ping"}',
    '\ufeff{"type":"ping"}',
    '{"type":"ping" /* comment */}',
    '{"type":"\\u0000"}',
    '{"type":"ping","type":"message"}',
    '{"type":"ping","\\ud800":1}',
    '{"type":"message","id":"abcdefgh","body":"\\ud83d"}',
    '{"type":"message","id":"abcdefgh","body":"\\udfff\\ud800"}',
    '{"type":"message","id":"abcdefgh\\ud800","body":"x"}',
    '{"type":"message","id":"abcdefgh","body":"\\u0000"}',
    '{"type":"hello","after":' + "9" * 5000 + "}",
    '{"type":"hello","after":1e999}',
    '{"type":"hello","after":NaN}',
    '{"type":"hello","after":-Infinity}',
    '{"type":"hello","after":0x10}',
    '{"type":"hello","after":01}',
    '{"type":"read","seq":1.0}',
    '{"type":"ping"' + " " * 10000 + "}",
    '{"\\u0074ype":"ping"}',
    '{"type":"p\\u0069ng"}',
    "\x00",
    "\x00" * 100,
    "\u202e" * 100,
]


def raw_text(rng: random.Random, side: str, ctx: Context) -> str:
    r = rng.random()
    if r < 0.5:
        return rng.choice(RAW_TEXTS)
    if r < 0.65:
        return str(nested(rng))
    if r < 0.85:  # a valid frame cut short
        whole = json.dumps(valid_frame(rng, side, ctx))
        return whole[: rng.randint(0, len(whole) - 1)]
    soup = unicode_soup(rng, rng.randint(1, 200))
    # On the wire a text frame is UTF-8: surrogates go as JSON escapes only.
    return re.sub("[\ud800-\udfff]", "\ufffd", soup)


def oversize(rng: random.Random) -> Frame:
    r = rng.random()
    if r < 0.4:
        body = "x" * rng.randint(MAX_FRAME_BYTES, MAX_FRAME_BYTES * 3)
    elif r < 0.7:  # fewer characters than the limit, more bytes
        body = "\U0001f600" * (MAX_FRAME_BYTES // 4 + 1)
    else:
        body = "\\ud800" * (MAX_FRAME_BYTES // 6 + 1)  # escapes: ASCII, 6 bytes each
        return Frame("oversize", '{"type":"message","id":"oversize-1","body":"' + body + '"}', 4009)
    data = json.dumps({"type": "message", "id": "oversize-1", "body": body}, ensure_ascii=False)
    if rng.random() < 0.3:  # in fragments, each small, together too large
        step = 1000
        return Frame("oversize", [data[i : i + step] for i in range(0, len(data), step)], 4009)
    return Frame("oversize", data, CLOSE_TOO_BIG)


def at_the_limit(rng: random.Random) -> Frame:
    """A frame of exactly the largest size allowed: answered, not closed."""
    head, tail = '{"type":"message","id":"limit-0001","body":"', '"}'
    filler = MAX_FRAME_BYTES - len(head) - len(tail)
    return Frame("limit", head + "x" * filler + tail)


def size(data: str | bytes | list[str]) -> int:
    """Bytes of a frame as the server counts them."""
    if isinstance(data, bytes):
        return len(data)
    text_ = "".join(data) if isinstance(data, list) else data
    return len(text_.encode("utf-8", "surrogatepass"))


def frame_for(rng: random.Random, side: str, ctx: Context) -> Frame:
    frame = _frame_for(rng, side, ctx)
    if frame.closes is None and size(frame.data) > MAX_FRAME_BYTES:
        # A long text or deep nesting made it too large: it closes too.
        return Frame("oversize", frame.data, CLOSE_TOO_BIG)
    return frame


def _frame_for(rng: random.Random, side: str, ctx: Context) -> Frame:
    r = rng.random()
    if r < 0.3:
        return Frame("valid", encode(valid_frame(rng, side, ctx), rng))
    if r < 0.7:
        return Frame("mutated", encode(mutate(valid_frame(rng, side, ctx), rng), rng))
    if r < 0.8:
        obj = {rng.choice(FIELD_NAMES): value(rng) for _ in range(rng.randint(0, 5))}
        return Frame("object", encode(obj, rng))
    if r < 0.97:
        return Frame("raw", raw_text(rng, side, ctx))
    if r < 0.985:
        whole = encode(mutate(valid_frame(rng, side, ctx), rng), rng)
        cut = sorted({rng.randint(0, len(whole)) for _ in range(3)})
        parts = [whole[a:b] for a, b in zip([0, *cut], [*cut, len(whole)], strict=True)]
        return Frame("fragmented", [p for p in parts if p] or [whole])
    if r < 0.995:
        return at_the_limit(rng)
    if r < 0.9975:
        data = rng.choice([b"", b'{"type":"ping"}', bytes(rng.randrange(256) for _ in range(64))])
        return Frame("binary", data, CLOSE_TOO_BIG)
    return oversize(rng)


@dataclass
class SocketPlan:
    role: str  # visitor / anonymous / agent / unauthenticated / outsider / flood
    frames: list[Frame]
    closes: int | None = None  # the close code the socket must get, whatever it sends
    cookie: str | None = None


def socket_plans(rng: random.Random, ctx: Context, cookies: dict[str, list[str]]):
    """Sockets to open, forever: each with its frames. ``cookies``: role ->
    cookies to pick from (visitor, agent, outsider)."""
    # One socket of each kind that must be closed comes first, whatever the
    # number of frames; the rest at random.
    prologue = [("flood", "visitor"), ("unauthenticated", "agent"), ("outsider", "agent")]
    while True:
        r = rng.random()
        if prologue:
            role, side = prologue.pop(0)
        elif r < 0.5:
            role, side = "visitor", "visitor"
        elif r < 0.62:
            role, side = "anonymous", "visitor"
        elif r < 0.92:
            role, side = "agent", "agent"
        elif r < 0.98:
            role, side = "unauthenticated", "agent"
        elif r < 0.995:
            role, side = "outsider", "agent"
        else:
            role, side = "flood", "visitor"
        cookie = {
            "visitor": lambda: rng.choice(cookies["visitor"]),
            "agent": lambda: rng.choice(cookies["agent"]),
            "outsider": lambda: rng.choice(cookies["outsider"]),
            "flood": lambda: rng.choice(cookies["visitor"]),
            "unauthenticated": lambda: rng.choice(
                [None, "sessionid=forged", "sessionid=; a=b", "=;;=;", "sessionid=" + "x" * 5000]
            ),
            "anonymous": lambda: rng.choice(
                [None, "livechat_visitor=forged", "livechat_visitor=" + "A" * 4000, "a"]
            ),
        }[role]()
        if role in ("unauthenticated", "outsider"):
            frames = [Frame("valid", json.dumps({"type": "hello"}))]
            closes = 4001 if role == "unauthenticated" else 4003
        elif role == "flood":
            # Past twice the visitor's budget (240 frames a minute): answered
            # rate_limited, then closed. The budget is counted per minute of
            # the clock: 1,000 frames are past twice it within one minute,
            # wherever a minute starts (they go out in well under one).
            frames = [Frame("flood", '{"type":"typing","on":false}') for _ in range(1000)]
            closes = CLOSE_RATE_LIMITED
        else:
            hello = valid_frame(rng, side, ctx) if side == "agent" else None
            if side == "visitor":
                hello = {"type": "hello", "after": 0, "chatflow": rng.choice(ctx.chatflows)}
            frames = [Frame("valid", json.dumps({**hello, "type": "hello"}))]
            frames += [frame_for(rng, side, ctx) for _ in range(rng.randint(40, 200))]
            closes = None
        yield SocketPlan(role, frames, closes, cookie)


@dataclass
class WsStats:
    frames_sent: Counter = field(default_factory=Counter)  # by kind
    sockets: Counter = field(default_factory=Counter)  # by role
    close_codes: Counter = field(default_factory=Counter)  # server's codes (None: no close frame)
    errors: Counter = field(default_factory=Counter)  # error codes received
    received: Counter = field(default_factory=Counter)  # frame types received
    refused: Counter = field(default_factory=Counter)  # handshake statuses
    problems: list = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.frames_sent.values())

    def problem(self, what: str) -> None:
        if len(self.problems) < 50:
            self.problems.append(what)


async def run_socket(url: str, origin: str, plan: SocketPlan, stats: WsStats) -> None:
    headers = {"Cookie": plan.cookie} if plan.cookie else {}
    try:
        ws = await websockets.connect(
            url,
            origin=origin,
            additional_headers=headers,
            max_size=None,
            compression=None,
            open_timeout=20,
            close_timeout=10,
            ping_interval=None,
        )
    except InvalidStatus as refused:
        stats.refused[refused.response.status_code] += 1
        return
    except (InvalidHandshake, OSError, TimeoutError) as failed:
        stats.problem(f"{plan.role}: could not connect: {failed!r}")
        return
    stats.sockets[plan.role] += 1
    pong = asyncio.Event()

    async def read():
        async for message in ws:
            if isinstance(message, bytes):
                stats.problem(f"{plan.role}: a binary frame from the server")
                continue
            try:
                frame = json.loads(message)
                kind = frame["type"]
            except (ValueError, KeyError, TypeError):
                stats.problem(f"{plan.role}: not a frame: {message[:200]!r}")
                continue
            stats.received[kind] += 1
            if kind not in SERVER_FRAME_TYPES:
                stats.problem(f"{plan.role}: unknown frame type {kind!r}")
            if kind == "error":
                stats.errors[frame.get("code")] += 1
                if frame.get("code") not in DOCUMENTED_ERROR_CODES:
                    stats.problem(f"{plan.role}: undocumented error {frame!r}")
            if kind == "pong":
                pong.set()

    reader = asyncio.ensure_future(read())
    expected = plan.closes
    last = None
    try:
        for frame in plan.frames:
            last = frame
            await ws.send(frame.data)  # a list: one message in fragments
            stats.frames_sent[frame.kind] += 1
            if frame.kind == "flood" and stats.frames_sent["flood"] % 50 == 0:
                await asyncio.sleep(0.02)  # a moment to read the close, if it came
            if frame.closes:
                expected = frame.closes
                break
        if expected is None:
            # Still open, and still answering: everything sent was handled.
            pong.clear()
            await ws.send('{"type":"ping"}')
            stats.frames_sent["ping"] += 1
            waiting = asyncio.ensure_future(pong.wait())
            await asyncio.wait([waiting, reader], timeout=30, return_when=asyncio.FIRST_COMPLETED)
            waiting.cancel()
            if not pong.is_set() and not reader.done():
                stats.problem(f"{plan.role}: no pong after its frames")
            await ws.close()
    except ConnectionClosed:
        pass
    try:
        await asyncio.wait_for(ws.wait_closed(), 30)
    except TimeoutError:
        stats.problem(f"{plan.role}: the server never closed (expected {expected})")
        ws.transport.abort()
    reader.cancel()
    rcvd = ws.protocol.close_rcvd
    code = rcvd.code if rcvd is not None else None
    stats.close_codes[code] += 1
    if code != (expected or 1000):
        sent = f"{last.kind} frame of {size(last.data)} bytes" if last else "nothing"
        stats.problem(
            f"{plan.role}: closed with {code}, expected {expected or 1000}, after a {sent}"
            f" ({ws.protocol.close_exc!r})"
        )


async def fuzz_websockets(ports: list[int], plans, target: int, concurrency: int, stats: WsStats):
    """Open sockets from ``plans``, ``concurrency`` at a time, spread over
    the servers on ``ports``, until ``target`` frames were sent."""

    async def worker(port):
        origin = f"http://127.0.0.1:{port}"
        while stats.total < target:
            plan = next(plans)
            side = "agent" if plan.role in ("agent", "unauthenticated", "outsider") else "visitor"
            await run_socket(f"ws://127.0.0.1:{port}/ws/livechat/{side}/", origin, plan, stats)

    await asyncio.gather(*(worker(ports[n % len(ports)]) for n in range(concurrency)))


# -- HTTP requests ---------------------------------------------------------------------


@dataclass
class HttpContext:
    port: int
    chatflows: list[int]  # knowledge-base chatflows first
    pages: list[int]
    tokens: list[str]  # valid confirmation tokens
    cookies: list[str]  # valid visitor and session cookies

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"


METHODS = ["GET"] * 10 + ["POST"] * 4 + ["HEAD", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE"]
ODD_METHODS = ["get", "CONNECT", "PROPFIND", "G\x00T", "X" * 300, "", "GET GET", "\u00c9T"]
VERSIONS = ["HTTP/1.0", "HTTP/0.9", "HTTP/2", "HTTP/1.1x", "HTTP/9.9", "", "http/1.1"]
HOSTS = [
    "evil.example",
    "",
    "127.0.0.1:abc",
    "[::1",
    "127.0.0.1:99999",
    "a" * 300,
    "127.0.0.1\x00",
    "ü.example",
    "127.0.0.1, evil.example",
    "127.0.0.1 evil.example",
    "localhost",
    "127.0.0.1.",
    "-127.0.0.1",
    "127.0.0.1:8000@evil.example",
]
SEARCH_WORDS = [
    '"',
    '"hello',
    '"""',
    'x"y"z',
    "a'b",
    "((",
    "NEAR(a b)",
    "a OR",
    "OR AND NOT",
    "a*",
    "*",
    "^a",
    "a:b",
    "col:value",
    "-a",
    "+a",
    "a -",
    "\\\\",
    "%_",
    "password",
    "reset password",
    "billing",
    "%",
    "' OR '1'='1",
    "a\u202eb",
]
CONTENT_TYPES = [
    "application/x-www-form-urlencoded",
    "application/x-www-form-urlencoded; charset=utf-16",
    "application/x-www-form-urlencoded; charset=nope",
    "multipart/form-data",
    "multipart/form-data; boundary=zz",
    "multipart/form-data; boundary=",
    "multipart/form-data; boundary=" + "b" * 300,
    "application/json",
    "text/plain; charset=\x00",
    "text/html; charset=ebcdic",
    "*/*",
    ";;;",
]


def qs_value(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.3:
        return rng.choice(URLS)
    if r < 0.5:
        return rng.choice(SEARCH_WORDS)
    if r < 0.7:
        number = rng.choice(NUMBERS)
        return str(number)
    if r < 0.9:
        return text(rng)
    return rng.choice(["", "1", "desktop", "mobile", "en", "pt-BR", "x" * 5000])


def percent(value_: str, rng: random.Random) -> str:
    """Percent-encoded; lone surrogates become the bytes of their UTF-8
    spelling (``%ED%A0%80``), which is no UTF-8."""
    encoded = urllib.parse.quote(value_, safe="", errors="surrogatepass")
    if rng.random() < 0.1:
        encoded += rng.choice(["%", "%Z", "%zz", "%ff%fe", "%00", "%C0%AF", "+%2B", "&&", "=="])
    return encoded


def query_string(rng: random.Random, path: str, ctx: HttpContext) -> str:
    if "config" in path:
        params = {"url": rng.choice(URLS[:4]) if rng.random() < 0.4 else qs_value(rng)}
        for name in ("page", "device", "lang", "ref", "visits"):
            if rng.random() < 0.4:
                params[name] = qs_value(rng)
        if rng.random() < 0.3:
            params["page"] = str(rng.choice(ctx.pages))
    elif "search" in path:
        params = {
            "chatflow": str(rng.choice(ctx.chatflows[:1] * 3 + ctx.chatflows))
            if rng.random() < 0.8
            else qs_value(rng),
            "q": rng.choice(SEARCH_WORDS) if rng.random() < 0.6 else qs_value(rng),
        }
    else:
        params = {text(rng): qs_value(rng) for _ in range(rng.randint(0, 3))}
    if rng.random() < 0.1:
        name = rng.choice(list(params) or ["x"])
        return "&".join(f"{percent(name, rng)}={percent(qs_value(rng), rng)}" for _ in range(3))
    if rng.random() < 0.01:
        return "&".join(f"f{n}=1" for n in range(1100))  # past DATA_UPLOAD_MAX_NUMBER_FIELDS
    return "&".join(f"{percent(k, rng)}={percent(v, rng)}" for k, v in params.items())


# The widget's endpoints most, then Django's and Wagtail's answers around them.
PATH_WEIGHTS = [
    ("/livechat/config/", 30),
    ("/livechat/search/", 18),
    ("/livechat/visitor/", 14),
    ("/livechat/confirm/{}/", 14),
    ("/livechat/config", 3),
    ("/livechat/visitor", 3),
    ("/livechat/search", 2),
    ("/ws/livechat/visitor/", 3),
    ("/ws/livechat/agent/", 3),
    ("/", 3),
    ("/pricing/", 2),
    ("/does-not-exist/", 2),
    ("/admin/login/", 2),
]
PATHS = [p for p, _w in PATH_WEIGHTS]


def target(rng: random.Random, ctx: HttpContext) -> tuple[str, bytes]:
    """(the path it is about, the request target as sent)."""
    path = rng.choices(PATHS, weights=[w for _p, w in PATH_WEIGHTS])[0]
    if "{}" in path:
        token = (
            rng.choice(ctx.tokens)
            if rng.random() < 0.4
            else percent(
                rng.choice(
                    ["abc", "a" * 5000, ":", "..", "\ud800", "x:y:z", "%", text(rng), "-_.~"]
                ),
                rng,
            )
        )
        path = path.format(token)
    r = rng.random()
    if r < 0.8:
        sent = path.encode() + b"?" + query_string(rng, path, ctx).encode()
    elif r < 0.85:
        sent = path.encode()
    elif r < 0.88:
        sent = f"http://{ctx.host}{path}?url=http://[::1".encode()
    elif r < 0.9:
        sent = b"*"
    elif r < 0.93:  # raw bytes no client should send unescaped
        sent = (
            path.encode() + b"?url=" + rng.choice([b"\xff\xfe", b"\xed\xa0\x80", b"\x00", b"a b"])
        )
    elif r < 0.95:
        sent = path.encode() + b"/" + b"a" * rng.choice([5000, 20000, 70000])
    elif r < 0.97:
        sent = b"/livechat/%2e%2e/%2e%2e/etc/passwd"
    else:
        sent = path.encode() + b"#frag?x"
    return path, sent


def body_for(rng: random.Random) -> tuple[bytes, str | None]:
    r = rng.random()
    if r < 0.2:
        return b"", None
    if r < 0.4:
        fields = {text(rng): qs_value(rng) for _ in range(rng.randint(1, 4))}
        form = "&".join(f"{percent(k, rng)}={percent(v, rng)}" for k, v in fields.items())
        return form.encode(), "application/x-www-form-urlencoded"
    if r < 0.55:
        return encode({"url": rng.choice(URLS), "q": text(rng)}, rng).encode(), "application/json"
    if r < 0.7:
        return bytes(rng.randrange(256) for _ in range(rng.randint(1, 2048))), None
    if r < 0.8:
        part = (
            b'--zz\r\nContent-Disposition: form-data; name="a"; filename="../x"\r\n'
            b"Content-Type: text/plain\r\n\r\n" + text(rng).encode("utf-8", "surrogatepass")
        )
        tail = rng.choice([b"\r\n--zz--\r\n", b"", b"\r\n--zz", b"--"])
        return part + tail, "multipart/form-data; boundary=zz"
    if r < 0.97:
        csrf = "csrfmiddlewaretoken=" + "a" * rng.choice([0, 32, 64, 100])
        return csrf.encode(), "application/x-www-form-urlencoded"
    if r < 0.999:
        return b"x=" + b"y" * rng.choice([100_000, 300_000]), "application/x-www-form-urlencoded"
    return b"x=" + b"y" * 3_000_000, "application/x-www-form-urlencoded"  # past 2.5 MB


def http_request(rng: random.Random, ctx: HttpContext) -> tuple[str, bytes]:
    """(a label, the bytes of one request) ending with ``Connection: close``."""
    path, sent = target(rng, ctx)
    method = rng.choice(METHODS) if rng.random() < 0.95 else rng.choice(ODD_METHODS)
    version = "HTTP/1.1" if rng.random() < 0.95 else rng.choice(VERSIONS)
    headers: list[tuple[bytes, bytes]] = []
    r = rng.random()
    if r < 0.85:
        headers.append((b"Host", ctx.host.encode()))
    elif r < 0.97:
        headers.append((b"Host", rng.choice(HOSTS).encode("utf-8", "surrogatepass")))
    elif r < 0.99:
        headers += [(b"Host", ctx.host.encode()), (b"Host", b"evil.example")]
    # (else no Host at all)
    if rng.random() < 0.5:
        origin = rng.choice(
            [f"http://{ctx.host}"] * 4 + ["http://evil.example", "null", "http://[::1", "", "\x7f"]
        )
        headers.append((b"Origin", origin.encode()))
    if rng.random() < 0.4:
        cookie = rng.choice(
            [
                *ctx.cookies,
                "livechat_visitor=forged",
                "livechat_visitor=" + "x" * 5000,
                "sessionid=\x7f; csrftoken=" + "a" * 64,
                "=;;;==; a",
                'livechat_visitor="\\"',
            ]
        )
        headers.append((b"Cookie", cookie.encode("latin-1", "replace")))
    if rng.random() < 0.2:
        forwarded = rng.choice(
            ["1.2.3.4, ::1", "not-an-ip", "999.999.999.999", "", "a" * 1000, "::ffff:1.2.3.4"]
        )
        headers.append((b"X-Forwarded-For", forwarded.encode()))
    if rng.random() < 0.2:
        language = rng.choice(["*", "zz-ZZ;q=2", "en;q=abc", "x" * 500, "nl, de;q=0.5", "\xff"])
        headers.append((b"Accept-Language", language.encode("latin-1")))
    if rng.random() < 0.1:
        headers.append(
            rng.choice(
                [
                    (b"X-Odd", "h\u00e9\U0001f600".encode()),  # UTF-8, not latin-1
                    (b"X-Nul", b"a\x00b"),
                    (b"Bad Header", b"x"),
                    (b"X-Long", b"a" * rng.choice([8000, 20000, 70000])),
                    (b"", b"empty name"),
                    (b"X-Fold", b"a\r\n folded"),
                    (b"Upgrade", b"websocket"),
                    (b"Sec-WebSocket-Version", b"99"),
                    (b"Range", b"bytes=9-1"),
                    (b"If-Modified-Since", b"yesterday"),
                    (b"Expect", b"100-continue"),
                ]
            )
        )
    if rng.random() < 0.03:
        headers += [(f"X-Many-{n}".encode(), b"1") for n in range(rng.choice([100, 600]))]
    body, content_type = b"", None
    if method not in ("GET", "HEAD") or rng.random() < 0.05:
        body, content_type = body_for(rng)
    if rng.random() < 0.1:
        content_type = rng.choice(CONTENT_TYPES)
    if content_type:
        headers.append((b"Content-Type", content_type.encode("latin-1")))
    r = rng.random()
    if r < 0.05 and body:
        # Chunked, sometimes with a broken chunk size.
        size = b"%x" % len(body) if rng.random() < 0.7 else b"zz"
        headers.append((b"Transfer-Encoding", b"chunked"))
        body = size + b"\r\n" + body + b"\r\n0\r\n\r\n"
    elif r < 0.08 and len(body) >= 2:
        # A length that says less than the body (the rest looks like a
        # second request), or one that is no length at all.
        headers.append(
            (b"Content-Length", rng.choice([b"0", b"-1", b"abc", b"1, 2", b"0x0", b"0, 0"]))
        )
    elif body or method in ("POST", "PUT", "PATCH"):
        headers.append((b"Content-Length", str(len(body)).encode()))
    headers.append((b"Connection", b"close"))
    head = method.encode("utf-8", "surrogatepass") + b" " + sent
    if version:
        head += b" " + version.encode()
    lines = [head] + [name + b": " + value_ for name, value_ in headers]
    label = f"{method[:10]} {path}"
    return label, b"\r\n".join(lines) + b"\r\n\r\n" + body


STATUS_LINE = re.compile(rb"(?m)^HTTP/\d\.\d (\d{3})")
TWISTED_MAX_HEAD = 16384  # twisted.web.http.HTTPChannel: MAX_LENGTH, totalHeadersSize


@dataclass
class HttpStats:
    statuses: Counter = field(default_factory=Counter)
    server_errors: list = field(default_factory=list)  # (label, first bytes of the request)
    unanswered: Counter = field(default_factory=Counter)  # label -> requests with no answer
    unanswered_samples: list = field(default_factory=list)
    sent: int = 0


async def send_http(port: int, label: str, data: bytes, stats: HttpStats) -> None:
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 20)
    except (OSError, TimeoutError) as failed:
        stats.unanswered[f"connect: {failed!r}"] += 1
        return
    answer = b""
    try:
        writer.write(data)
        await writer.drain()
        stats.sent += 1
        answer = await asyncio.wait_for(reader.read(-1), 30)
    except (OSError, TimeoutError):
        pass  # the server may hang up before reading all of a bad request
    finally:
        writer.close()
    # (Past any "100 Continue".)
    statuses = [int(s) for s in STATUS_LINE.findall(answer) if not s.startswith(b"1")]
    if not statuses:
        head = data.split(b"\r\n\r\n", 1)[0]
        if len(head) > TWISTED_MAX_HEAD or max(map(len, head.split(b"\r\n"))) > TWISTED_MAX_HEAD:
            # Twisted hangs up on a request line or head past 16 KiB; the
            # application never sees it.
            stats.statuses["dropped: head too long"] += 1
        else:
            stats.unanswered[label] += 1
            stats.statuses["none"] += 1
            if len(stats.unanswered_samples) < 20:
                stats.unanswered_samples.append(data[:600])
    for status in statuses[:1]:
        stats.statuses[status] += 1
    if any(status >= 500 for status in statuses):
        stats.server_errors.append((label, statuses, data[:300]))


async def fuzz_http(
    ports: list[int], ctx: HttpContext, rng: random.Random, count: int, concurrency: int, stats
):
    """``count`` requests, ``concurrency`` at a time, spread over the
    servers on ``ports`` (the Host they name is the first's: any port of
    127.0.0.1 is this site)."""
    requests = iter([http_request(rng, ctx) for _ in range(count)])

    async def worker(port):
        for label, data in requests:
            await send_http(port, label, data, stats)

    await asyncio.gather(*(worker(ports[n % len(ports)]) for n in range(concurrency)))


# -- A conversation beside it all ------------------------------------------------------


@dataclass
class SidecarStats:
    sent: int = 0
    acked: int = 0
    delivered: int = 0
    latencies: list = field(default_factory=list)
    problems: list = field(default_factory=list)
    missing: list = field(default_factory=list)


async def sidecar(
    port: int,
    chatflow: int,
    visitor_cookie: str,
    agent_cookie: str,
    stop: asyncio.Event,
    stats: SidecarStats,
    every: float = 0.2,
):
    """A visitor and an agent who take turns writing, one message every
    ``every`` seconds, until ``stop``: every message must be acknowledged
    to its sender and delivered to the other."""
    origin = f"http://127.0.0.1:{port}"

    async def connect(path, cookie):
        return await websockets.connect(
            f"ws://127.0.0.1:{port}{path}",
            origin=origin,
            additional_headers={"Cookie": cookie},
            compression=None,
            open_timeout=20,
            ping_interval=None,
            max_size=None,
        )

    async def until(ws, kind, **match):
        while True:
            frame = json.loads(await asyncio.wait_for(ws.recv(), 20))
            if frame["type"] == kind and all(frame.get(k) == v for k, v in match.items()):
                return frame

    visitor = await connect("/ws/livechat/visitor/", visitor_cookie)
    await visitor.send(json.dumps({"type": "hello", "chatflow": chatflow}))
    await until(visitor, "welcome")
    await visitor.send(json.dumps({"type": "message", "id": "side-start", "body": "Hello?"}))
    conversation = (await until(visitor, "ack", id="side-start"))["message"]["conversation"]
    agent = await connect("/ws/livechat/agent/", agent_cookie)
    await agent.send(json.dumps({"type": "hello"}))
    await until(agent, "agent_welcome")
    await agent.send(json.dumps({"type": "open", "conversation": conversation}))
    await until(agent, "history")

    sent_at: dict[str, float] = {}  # body -> when
    acks: set[str] = set()
    got: set[str] = set()

    async def read(ws, side):
        try:
            async for message in ws:
                frame = json.loads(message)
                if frame["type"] == "ack":
                    acks.add(frame["id"])
                elif frame["type"] == "message":
                    body = frame["message"]["body"]
                    if frame["message"]["conversation"] != conversation:
                        continue
                    if body.startswith(f"to-{side}-") and body not in got:
                        got.add(body)
                        stats.latencies.append(time.monotonic() - sent_at[body])
                elif frame["type"] == "error":
                    stats.problems.append(f"{side} got {frame!r}")
        except ConnectionClosed as closed:
            if not stop.is_set():
                stats.problems.append(f"{side} socket closed: {closed!r}")

    readers = [
        asyncio.ensure_future(read(visitor, "visitor")),
        asyncio.ensure_future(read(agent, "agent")),
    ]
    n = 0
    next_at = time.monotonic()
    while not stop.is_set():
        n += 1
        to_agent = n % 2 == 1
        body = f"to-{'agent' if to_agent else 'visitor'}-{n:05}"
        # Ids of this conversation's own: the same agent writes in each
        # process, and an id they sent before is a resend.
        frame_id = f"side-{port}-{n:06}"
        frame = {"type": "message", "id": frame_id, "body": body}
        if not to_agent:
            frame["conversation"] = conversation
        sent_at[body] = time.monotonic()
        await (visitor if to_agent else agent).send(json.dumps(frame))
        stats.sent += 1
        next_at += every
        await asyncio.sleep(max(0.0, next_at - time.monotonic()))
    deadline = time.monotonic() + 20
    while len(got) < stats.sent and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    stats.delivered = len(got)
    stats.acked = len([a for a in acks if a.startswith(f"side-{port}-")])
    stats.missing = sorted(set(sent_at) - got)[:20]
    for ws in (visitor, agent):
        await ws.close()
    for reader in readers:
        reader.cancel()
