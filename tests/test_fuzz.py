"""Hostile input against a real daphne process, and a fuzz run of it.

First, one regression test per input that once broke the server (found by an
adversarial run against the demo): a config ``url`` that ``urlsplit``
refuses, a search with a double quote, unpaired surrogates and NUL in
frames, a page URL that does not parse, frames too large or binary, and the
requests Django itself refuses (a foreign Host, too many fields, a POST
without its trailing slash).

Then the fuzz run (``test_fuzz_run``): seeded, so every run sends the same
frames and requests (``LIVECHAT_FUZZ_SEED`` picks another seed). At least
10,000 websocket frames over many sockets, visitors' and agents' (unicode
edge cases, huge numbers, deep nesting, fragments, binary and oversize
frames, floods), and 10,000 raw HTTP requests to every public endpoint (bad
query strings, methods, hosts, headers, bodies, encodings), all at once,
while in each server process a visitor and an agent talk beside it, one
message every 0.2 s. It passes with no 5xx answer, no traceback in the
servers' logs, no socket closed but with a documented code, and every
message of the conversations acknowledged and delivered.

The servers are the example site (``example_site.settings.dev``, ``DEBUG``
off, as ``make demo`` runs it) on the test database (see
``tests/live_server.py``), two processes (``LIVECHAT_FUZZ_SERVERS``) to
share the work; their output goes to files this module reads.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import time
from types import SimpleNamespace

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.management import call_command
from django.db import connection

from tests import hostile
from tests.live_server import open_socket, request, server_env, start_servers
from tests.livechat_factories import add_members, make_agent, make_chatflow, make_inbox
from tests.sockets import session_cookie
from wagtail_livechat import identity
from wagtail_livechat.models import Chatflow, Contact, Conversation, Inbox, Message, Visitor

pytestmark = pytest.mark.django_db(transaction=True)

SEED = int(os.environ.get("LIVECHAT_FUZZ_SEED", "20261125"))
WS_FRAMES = int(os.environ.get("LIVECHAT_FUZZ_FRAMES", "10000"))
HTTP_REQUESTS = int(os.environ.get("LIVECHAT_FUZZ_REQUESTS", "10000"))
FUZZ_SERVERS = int(os.environ.get("LIVECHAT_FUZZ_SERVERS", "2"))
WS_CONCURRENCY = 24
HTTP_CONCURRENCY = 12

VISITOR = "/ws/livechat/visitor/"
AGENT = "/ws/livechat/agent/"


# -- The server ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def servers(django_db_setup, tmp_path_factory):
    """Server processes of the example site, the same each: the regression
    tests use the first, the fuzz run all (a process runs Django's views on
    one thread, so two share the work on a machine of two cores)."""
    database = connection.settings_dict["NAME"]
    if connection.vendor != "sqlite" or connection.is_in_memory_db():
        pytest.skip("the fuzz suite shares the SQLite test database file")
    env = server_env(
        database,
        settings.SECRET_KEY,
        # The conversation beside the fuzzing writes 150 messages a minute
        # from one visitor, and many fuzzing sockets come from this one
        # address.
        LIVECHAT_RATE_PER_MINUTE="100000",
        LIVECHAT_MAX_SOCKETS_PER_CLIENT="1000",
    )
    started = start_servers([env] * FUZZ_SERVERS, tmp_path_factory.mktemp("daphne-fuzz"))
    yield started
    for live in started:
        live.stop()


@pytest.fixture
def server(servers):
    return servers[0]


class Log:
    """What the servers wrote during one test."""

    def __init__(self, servers):
        self.servers = servers
        self.starts = [server.log.stat().st_size for server in servers]

    def text(self) -> str:
        texts = []
        for server, start in zip(self.servers, self.starts, strict=True):
            with server.log.open("rb") as f:
                f.seek(start)
                texts.append(f.read().decode("utf-8", "replace"))
        return "\n".join(texts)

    def assert_clean(self):
        text = self.text()
        assert "Traceback" not in text, text[text.find("Traceback") - 2000 :][:6000]
        assert "Exception inside application" not in text


@pytest.fixture
def log(servers):
    watched = Log(servers)
    yield watched
    assert all(server.process.poll() is None for server in servers), "a server died"
    watched.assert_clean()


def db(fn, *args, **kwargs):
    return sync_to_async(fn)(*args, **kwargs)


# -- Data ------------------------------------------------------------------------------


@pytest.fixture
def site():
    """The demo (pages, a knowledge base, inboxes, the published "Website
    chat"), and a visitor with a cookie."""
    from wagtail.models import Locale, Page

    Locale.objects.get_or_create(language_code="en")
    if Page.get_first_root_node() is None:  # a transactional test flushed it away
        Page.add_root(instance=Page(title="Root", slug="root"))
    call_command("load_demo", stdout=open(os.devnull, "w"))  # noqa: SIM115
    from example_site.home.models import HomePage

    chatflow = Chatflow.objects.get(name="Website chat")
    visitor = Visitor.objects.create()
    agent = make_agent("ann", first_name="Ann")
    add_members(chatflow.inbox, agent)
    return SimpleNamespace(
        home=HomePage.objects.get(),
        chatflow=chatflow,
        visitor=visitor,
        cookie=f"livechat_visitor={identity.sign(visitor.key)}",
        agent=agent,
    )


def visitor_cookie(visitor) -> str:
    return f"livechat_visitor={identity.sign(visitor.key)}"


# == Regression tests, one per input that broke the server ==============================


@pytest.mark.parametrize(
    "url",
    ["http://[::1", "http://[::1/x", "https://[zz/", "http://a\uff03b/", "http://a:b@[/"],
)
def test_config_url_that_does_not_parse_is_a_400(server, log, site, url):
    """226 of 10,000 malformed requests once answered 500: ``ValueError:
    Invalid IPv6 URL`` from parsing the page URL."""
    for params in ({"url": url}, {"url": url, "page": site.home.pk}):
        query = "&".join(
            f"{k}={hostile.percent(str(v), random.Random(0))}" for k, v in params.items()
        )
        response = request(server, "GET", f"/livechat/config/?{query}")
        assert response.status == 400, response.body
        assert response.json()["error"] == "invalid"


@pytest.mark.parametrize(
    "q", ['"hello', '""', '"""', 'x"y"z', "a'b", "NEAR(a b)", "a OR", "a*", "^a", "a:b", "\\\\"]
)
def test_search_takes_quotes_and_query_syntax_as_words(server, log, site, q):
    """22 of 10,000 once answered 500: ``OperationalError: unterminated
    string`` from the database search backend."""
    from urllib.parse import urlencode

    response = request(
        server, "GET", "/livechat/search/?" + urlencode({"chatflow": site.chatflow.pk, "q": q})
    )
    assert response.status == 200, response.body
    assert isinstance(response.json()["results"], list)


# JSON escapes of unpaired surrogates: valid JSON, valid UTF-8 on the wire,
# no valid text once parsed.
SURROGATES = ["\\udfff", "\\ud83d", "\\ud800", "a\\ud83db", "\\ude00\\ud83d"]


async def answer_to(sock, text):
    await sock.send(text)
    return await sock.until("error")


@pytest.mark.parametrize("escape", SURROGATES)
async def test_unpaired_surrogates_are_bad_frames_on_the_visitor_socket(server, log, site, escape):
    sock = await open_socket(server, VISITOR, cookie=site.cookie)
    try:
        await sock.send({"type": "hello", "chatflow": site.chatflow.pk})
        await sock.until("welcome")
        for text in (
            f'{{"type":"message","id":"surrogate-1","body":"{escape}"}}',
            f'{{"type":"page","url":"http://127.0.0.1/","title":"{escape}","id":null}}',
            f'{{"type":"page","url":"http://127.0.0.1/{escape}","title":"","id":null}}',
            f'{{"type":"hello","page":{{"url":"http://127.0.0.1/","title":"{escape}"}}}}',
            f'{{"type":"email","email":"a{escape}@example.com"}}',
            f'{{"type":"{escape}"}}',
        ):
            error = await answer_to(sock, text)
            assert error["code"] == "bad_frame", (text, error)
        # The socket lives on, and the next message is stored.
        await sock.send({"type": "message", "id": "surrogate-2", "body": "Hello \U0001f600"})
        ack = await sock.until("ack")
        assert ack["message"]["body"] == "Hello \U0001f600"
    finally:
        await sock.close()


@pytest.mark.parametrize("escape", SURROGATES)
async def test_unpaired_surrogates_are_bad_frames_on_the_agent_socket(server, log, site, escape):
    conversation = await db(
        Conversation.objects.create,
        inbox=site.chatflow.inbox,
        chatflow=site.chatflow,
        visitor=site.visitor,
    )
    sock = await open_socket(server, AGENT, cookie=await db(session_cookie, site.agent))
    try:
        await sock.send({"type": "hello"})
        await sock.until("agent_welcome")
        text = (
            f'{{"type":"message","conversation":{conversation.pk},'
            f'"id":"surrogate-3","body":"{escape}"}}'
        )
        error = await answer_to(sock, text)
        assert (error["code"], error["id"]) == ("bad_frame", "surrogate-3")
        await sock.send(
            {"type": "message", "conversation": conversation.pk, "id": "agent-ok-1", "body": "Hi"}
        )
        assert (await sock.until("ack"))["message"]["body"] == "Hi"
    finally:
        await sock.close()
    assert await db(lambda: list(Message.objects.values_list("body", flat=True))) == ["Hi"]


@pytest.mark.parametrize(
    "page",
    [
        {"url": "http://[::1", "title": "", "id": None},
        {"url": "http://a\uff03b/", "title": "", "id": None},
        {"url": "http://127.0.0.1/\x00", "title": "", "id": None},
        {"url": "http://127.0.0.1/", "title": "a\x00b", "id": None},
    ],
)
async def test_nul_and_page_urls_that_do_not_parse_are_bad_frames(server, log, site, page):
    """The service reads a page URL's host: ``http://[::1`` crashed the
    socket there; PostgreSQL takes no NUL in text."""
    sock = await open_socket(server, VISITOR, cookie=site.cookie)
    try:
        await sock.send({"type": "hello", "chatflow": site.chatflow.pk, "page": page})
        assert (await sock.recv())["code"] == "bad_frame"
        await sock.send({"type": "page", **page})
        assert (await sock.recv())["code"] == "bad_frame"
        assert await sock.barrier() == []
    finally:
        await sock.close()


def oversize_frames():
    body = "x" * hostile.MAX_FRAME_BYTES
    text = json.dumps({"type": "message", "id": "too-big-01", "body": body})
    emoji = json.dumps(
        {"type": "message", "id": "too-big-02", "body": "\U0001f600" * 4100}, ensure_ascii=False
    )
    return {
        "text": text,
        "four-byte characters": emoji,  # 4,100 characters, 16,400 bytes and more
        "fragments": [text[i : i + 1000] for i in range(0, len(text), 1000)],
        "binary": b'{"type":"ping"}',
        "empty binary": b"",
    }


@pytest.mark.parametrize("kind", list(oversize_frames()))
async def test_oversize_and_binary_frames_close_with_4009(server, log, site, kind):
    """Daphne refuses to send 1009; 4009 is the documented code."""
    sock = await open_socket(server, VISITOR, cookie=site.cookie)
    await sock.send({"type": "hello", "chatflow": site.chatflow.pk})
    await sock.until("welcome")
    await sock.ws.send(oversize_frames()[kind])
    code, frames = await sock.close_code()
    assert code == 4009
    assert frames == []


async def test_a_frame_of_the_largest_size_allowed_is_answered(server, log, site):
    sock = await open_socket(server, VISITOR, cookie=site.cookie)
    try:
        frame = hostile.at_the_limit(random.Random(0)).data
        assert len(frame.encode()) == hostile.MAX_FRAME_BYTES
        await sock.send(frame)
        error = await sock.until("error")
        assert error["code"] == "too_long"
    finally:
        await sock.close()


def raw_http(server, data: bytes) -> bytes:
    import socket

    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        s.sendall(data)
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
    return answer


UTF16_FORM = b"Content-Type: application/x-www-form-urlencoded; charset=utf-16\r\nContent-Length: 3"
TOO_MANY_FIELDS = b"&".join(b"f%d=1" % n for n in range(1100))  # DATA_UPLOAD_MAX_NUMBER_FIELDS
REFUSED = {
    "a foreign host": (b"GET /livechat/config/?url=http://x/ HTTP/1.1\r\nHost: evil.example", 400),
    "a malformed host": (b"GET /livechat/config/?url=http://x/ HTTP/1.1\r\nHost: [::1", 400),
    "too many fields": (b"GET /livechat/config/?" + TOO_MANY_FIELDS + b" HTTP/1.1", 400),
    "a POST without its slash": (b"POST /livechat/visitor HTTP/1.1\r\nContent-Length: 0", 301),
    "a PUT without its slash": (b"PUT /livechat/search HTTP/1.1\r\nContent-Length: 0", 301),
    # Django refuses the form, then refuses it again in the error views.
    "a UTF-16 form to a view that checks the CSRF token": (
        b"POST /livechat/confirm/abc/ HTTP/1.1\r\n" + UTF16_FORM,
        400,
    ),
    "a UTF-16 form to a page that is not there": (b"POST /nowhere/ HTTP/1.1\r\n" + UTF16_FORM, 400),
}


@pytest.mark.parametrize("what", list(REFUSED))
def test_requests_django_refuses_are_not_500s_nor_tracebacks(server, log, what):
    """Django's own refusals: the demo (DEBUG off, as ``make demo`` runs it)
    answers them as a client's error, and its log says so in one line, not
    with a traceback (example_site/settings/dev.py)."""
    head, status = REFUSED[what]
    if b"\r\nHost:" not in head:
        head += f"\r\nHost: 127.0.0.1:{server.port}".encode()
    body = b"a=b" if UTF16_FORM in head else b""
    answer = raw_http(server, head + b"\r\nConnection: close\r\n\r\n" + body)
    assert answer.split(b" ", 2)[1] == str(status).encode(), (what, answer[:300])


# == The fuzz run ======================================================================


def fuzz_data():
    """The demo, agents and visitors for the fuzzing sockets, and a team of
    its own for the conversation beside it (which the fuzzing agents, not
    members of its inbox, may not touch)."""
    from wagtail.models import Locale, Page

    Locale.objects.get_or_create(language_code="en")
    if Page.get_first_root_node() is None:
        Page.add_root(instance=Page(title="Root", slug="root"))
    call_command("load_demo", stdout=open(os.devnull, "w"))  # noqa: SIM115
    sales, support = Inbox.objects.get(name="Sales"), Inbox.objects.get(name="Support")
    agents = [make_agent(f"fuzz{n}", first_name=f"Fuzz{n}") for n in range(4)]
    add_members(sales, *agents)
    add_members(support, *agents[:2])
    outsider = make_agent("outsider")  # admin access, no inbox: 4003
    chatflows = [Chatflow.objects.get(name="Website chat").pk]
    chatflows.append(make_chatflow(support, name="Support chat").pk)
    visitors = [Visitor.objects.create() for _ in range(20)]
    conversations = [
        Conversation.objects.create(
            inbox=sales if n % 2 else support,
            chatflow_id=chatflows[n % 2],
            visitor=visitor,
        ).pk
        for n, visitor in enumerate(visitors[:10])
    ]
    side_agent = make_agent("sidecar", first_name="Side")
    side_inbox = make_inbox("Sidecar", members=[side_agent])
    side_chatflow = make_chatflow(side_inbox, name="Sidecar chat")
    side_visitors = [Visitor.objects.create() for _ in range(FUZZ_SERVERS)]
    contact = Contact.objects.create(email="fuzz@example.com")
    from example_site.home.models import HomePage

    pages = list(
        HomePage.objects.get().get_descendants(inclusive=True).values_list("pk", flat=True)
    )
    agent_cookies = [session_cookie(a) for a in agents]
    return SimpleNamespace(
        chatflows=chatflows + [side_chatflow.pk],
        pages=pages,
        conversations=conversations,
        users=[a.pk for a in agents] + [outsider.pk, side_agent.pk],
        cookies={
            "visitor": [visitor_cookie(v) for v in visitors],
            "agent": agent_cookies,
            "outsider": [session_cookie(outsider)],
        },
        tokens=[identity.confirmation_token(v.pk, contact.pk) for v in visitors[:3]],
        side=SimpleNamespace(
            chatflow=side_chatflow.pk,
            visitors=[visitor_cookie(v) for v in side_visitors],
            agent=session_cookie(side_agent),
        ),
    )


def cpu_seconds(pid: int) -> float:
    """CPU time a process used so far (Linux), to tell a slow run from a
    busy machine."""
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()  # noqa: SIM115
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_fuzz_run(servers, log):
    data = fuzz_data()
    ports = [server.port for server in servers]
    rng = random.Random(SEED)
    ctx = hostile.Context(
        origin=servers[0].origin,
        chatflows=data.chatflows,
        pages=data.pages,
        # And ids of conversations that are not there (or not theirs).
        conversations=data.conversations + [1, 2**31 - 1],
        users=data.users,
    )
    http_ctx = hostile.HttpContext(
        port=servers[0].port,
        chatflows=data.chatflows,
        pages=data.pages,
        tokens=data.tokens,
        cookies=data.cookies["visitor"][:2] + data.cookies["agent"][:1],
    )
    ws, http = hostile.WsStats(), hostile.HttpStats()
    sides = [hostile.SidecarStats() for _ in servers]

    async def run():
        stop = asyncio.Event()
        # A conversation beside the fuzzing in each process (each has its
        # own channel layer).
        talking = [
            asyncio.ensure_future(
                hostile.sidecar(port, data.side.chatflow, cookie, data.side.agent, stop, side)
            )
            for port, cookie, side in zip(ports, data.side.visitors, sides, strict=True)
        ]
        await asyncio.sleep(1)  # the conversations are under way before the fuzzing starts
        plans = hostile.socket_plans(random.Random(rng.random()), ctx, data.cookies)
        await asyncio.gather(
            hostile.fuzz_websockets(ports, plans, WS_FRAMES, WS_CONCURRENCY, ws),
            hostile.fuzz_http(
                ports, http_ctx, random.Random(rng.random()), HTTP_REQUESTS, HTTP_CONCURRENCY, http
            ),
        )
        stop.set()
        await asyncio.gather(*talking)

    started, cpu = time.monotonic(), time.process_time()
    server_cpu = sum(cpu_seconds(server.process.pid) for server in servers)
    asyncio.run(run())
    duration = time.monotonic() - started
    server_cpu = sum(cpu_seconds(server.process.pid) for server in servers) - server_cpu
    cpu = time.process_time() - cpu

    server_log = log.text()
    latencies = sorted(t for side in sides for t in side.latencies) or [0.0]
    summary = {
        "seed": SEED,
        "servers": len(servers),
        "duration_s": round(duration, 1),
        "cpu_s": {"server": round(server_cpu, 1), "clients": round(cpu, 1)},
        "ws_frames": ws.total,
        "ws_frames_by_kind": dict(ws.frames_sent),
        "ws_sockets": dict(ws.sockets),
        "ws_close_codes": {str(k): v for k, v in ws.close_codes.items()},
        "ws_error_codes": dict(ws.errors),
        "ws_handshakes_refused": dict(ws.refused),
        "http_requests": http.sent,
        "http_statuses": {str(k): v for k, v in sorted(http.statuses.items(), key=str)},
        "http_5xx": len(http.server_errors),
        "http_unanswered": dict(http.unanswered.most_common(10)),
        "tracebacks": server_log.count("Traceback"),
        "problems": ws.problems[:10]
        + [problem for side in sides for problem in side.problems][:5]
        + [repr(s[:200]) for s in http.unanswered_samples[:3]],
        "sidecar": {
            "sent": [side.sent for side in sides],
            "acked": [side.acked for side in sides],
            "delivered": [side.delivered for side in sides],
            "p50_ms": round(1000 * latencies[len(latencies) // 2]),
            "max_ms": round(1000 * latencies[-1]),
        },
    }
    print("\nfuzz run:", json.dumps(summary, indent=1))

    assert ws.total >= WS_FRAMES
    assert http.sent >= HTTP_REQUESTS
    for kind in ("valid", "mutated", "raw", "fragmented", "binary", "oversize", "flood", "limit"):
        assert ws.frames_sent[kind], f"no {kind} frames were sent"
    assert http.server_errors == [], http.server_errors[:5]
    assert summary["tracebacks"] == 0, server_log[server_log.find("Traceback") - 500 :][:5000]
    assert set(ws.close_codes) <= hostile.DOCUMENTED_CLOSE_CODES, ws.close_codes
    assert ws.problems == [], ws.problems[:20]
    for side in sides:
        assert side.problems == [], side.problems[:10]
        assert side.sent >= 20 and side.delivered == side.sent, side.missing
        assert side.acked == side.sent
