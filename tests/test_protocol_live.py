"""docs/protocol.md, row by row, against real daphne processes.

Written from the document: every endpoint, frame, field, error code and
close code it lists gets a test that speaks to a real server process over
real HTTP (``http.client``) and real websockets (the ``websockets``
library), the way any other client would. Where the server disagrees with
the document the test says what the document says and is marked
``xfail(strict=True)``: fix the server (or the document), then drop the mark.

The servers (see ``tests/live_server.py``) share the test database file but
nothing else: what a test writes reaches their database, never their
sockets, so everything live is done through the sockets. "Nothing was sent"
is proven with a ping: the server handles a socket's frames in order, so
when the ``pong`` comes first, nothing came before it.

Two server processes, started once for the module:

* ``main``: the example site as configured;
* ``small``: ``LIVECHAT_MAX_SOCKETS=2`` and ``LIVECHAT_MAX_SOCKETS_PER_CLIENT=1``,
  for the "busy" close codes.

Each server compiles the widget config into its own cache, keyed by a
generation that only changes in that process: so each serves
``GET /livechat/config/`` in one test only (``small`` the conforming one,
``main`` the one that disagrees). Its rate limits live in that cache too and
outlive a test: a test that spends one budget does so from a client address
or an email address of its own. Mail the server sends is read from its
output (the example site's console email backend).
"""

from __future__ import annotations

import asyncio
import re
import time
import urllib.parse
import uuid
from types import SimpleNamespace

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth.models import Group
from django.db import connection
from django.utils import timezone

from tests.live_server import (
    Socket,
    open_socket,
    refused_status,
    request,
    server_env,
    start_servers,
    submit_form,
)
from tests.livechat_factories import add_members, make_agent, make_chatflow, make_inbox
from tests.sockets import session_cookie
from wagtail_livechat import identity, service
from wagtail_livechat.models import (
    AgentStatus,
    Chatflow,
    Contact,
    Conversation,
    Message,
    UrlRule,
    Visitor,
)

pytestmark = pytest.mark.django_db(transaction=True)

VISITOR = "/ws/livechat/visitor/"
AGENT = "/ws/livechat/agent/"

# The example site's limits (example_site/settings/base.py; the document
# names the frame budget and the frame size).
MESSAGES_PER_MINUTE = 30  # WAGTAIL_LIVECHAT_VISITOR_RATE_PER_MINUTE
FRAME_BUDGET = 240  # frames a minute
MAX_FRAME_BYTES = 16 * 1024
NEW_VISITORS_PER_ADDRESS = 20  # POST /livechat/visitor/ a minute, per client address
PAGE = 200  # messages in welcome / history

# Key sets the document lists.
WELCOME = {
    "type",
    "visitor",
    "online",
    "conversation",
    "contact",
    "identified",
    "owner",
    "survey",
    "messages",
}
AGENT_WELCOME = {"type", "user", "available", "inboxes"}
ACK = {"type", "id", "message"}
MESSAGE = {"seq", "conversation", "author", "name", "body", "note", "created"}
HISTORY = {"type", "conversation", "messages", "context", "survey"}
SUMMARY = {
    "id",
    "inbox",
    "inbox_name",
    "status",
    "assignee",
    "unread",
    "last_message",
    "updated",
    "visitor",
    "visitor_page",
    "labels",
}
TYPING = {"type", "conversation", "who", "on"}
VIEWERS = {"type", "conversation", "viewers"}
CONTEXT = {"type", "conversation", "context"}
VISITOR_PAGE = {"type", "conversation", "page"}
PAGE_FIELDS = {"url", "title", "id", "edit_url"}
VISIT = {"url", "title", "at"}  # a page added to the pages visited
VISITOR_CONTEXT = {"browser", "os", "device", "time_zone", "pages"}
ERROR = {"type", "code", "message"}


def db(fn, *args, **kwargs):
    return sync_to_async(fn)(*args, **kwargs)


def client_id() -> str:
    return f"c-{uuid.uuid4().hex}"


def address(name: str) -> str:
    """An email address of its own: the server's mail quota is per address,
    and its cache outlives a test."""
    return f"{name}.{uuid.uuid4().hex[:8]}@example.com"


def visitor_cookie(visitor: Visitor) -> str:
    return f"livechat_visitor={identity.sign(visitor.key)}"


# -- Servers ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def servers(django_db_setup, tmp_path_factory):
    database = connection.settings_dict["NAME"]
    if connection.vendor != "sqlite" or connection.is_in_memory_db():
        pytest.skip("the live protocol tests share the SQLite test database file")
    key = settings.SECRET_KEY
    main, small = start_servers(
        [
            server_env(database, key),
            server_env(
                database, key, LIVECHAT_MAX_SOCKETS="2", LIVECHAT_MAX_SOCKETS_PER_CLIENT="1"
            ),
        ],
        tmp_path_factory.mktemp("daphne"),
    )
    yield SimpleNamespace(main=main, small=small)
    main.stop()
    small.stop()


@pytest.fixture
def server(servers):
    return servers.main


class Live:
    """Sockets on a server, closed when the test ends."""

    def __init__(self, server):
        self.server = server
        self.opened: list[Socket] = []

    async def open(self, path, **kwargs) -> Socket:
        sock = await open_socket(self.server, path, **kwargs)
        self.opened.append(sock)
        return sock

    async def visitor(self, visitor=None, chatflow=None, after=0, page=None):
        """A visitor's socket after ``hello``: (socket, welcome)."""
        sock = await self.open(VISITOR, cookie=visitor_cookie(visitor) if visitor else None)
        hello = {"type": "hello", "after": after}
        if chatflow is not None:
            hello["chatflow"] = chatflow.pk
        if page is not None:
            hello["page"] = page
        await sock.send(hello)
        welcome = await sock.recv()
        assert welcome["type"] == "welcome", welcome
        return sock, welcome

    async def agent(self, user):
        """An agent's socket after ``hello``: (socket, agent_welcome)."""
        sock = await self.open(AGENT, cookie=await db(session_cookie, user))
        await sock.send({"type": "hello"})
        welcome = await sock.until("agent_welcome")
        return sock, welcome

    async def close(self):
        for sock in self.opened:
            await sock.close()


@pytest.fixture
async def live(server):
    sockets = Live(server)
    yield sockets
    await sockets.close()


# -- Data ------------------------------------------------------------------------------


def _team(name, username, first_name):
    agent = make_agent(username, first_name=first_name, last_name="Example")
    inbox = make_inbox(name, members=[agent])
    chatflow = make_chatflow(inbox, name=f"{name} chat")
    return SimpleNamespace(agent=agent, inbox=inbox, chatflow=chatflow)


@pytest.fixture
def sales():
    """An inbox with one agent (Ann) and a published chatflow."""
    return _team("Sales", "ann", "Ann")


@pytest.fixture
def support():
    """Another inbox, whose agent (Bob) is no member of Sales."""
    return _team("Support", "bob", "Bob")


@pytest.fixture
def visitor():
    return Visitor.objects.create()


def add_colleague(team, username="cleo", first_name="Cleo"):
    user = make_agent(username, first_name=first_name)
    add_members(team.inbox, user)
    return user


def conversation_with(visitor, team, count, notes=()):
    """A conversation of ``count`` messages written straight to the database
    (seq 1..count; those in ``notes`` are agents' internal notes)."""
    conversation = Conversation.objects.create(
        inbox=team.inbox,
        chatflow=team.chatflow,
        visitor=visitor,
        last_seq=count,
        last_message=f"message {count}",
    )
    Message.objects.bulk_create(
        Message(
            conversation=conversation,
            seq=seq,
            author=Message.Author.AGENT if seq in notes else Message.Author.VISITOR,
            body=f"message {seq}",
            note=seq in notes,
            sender=f"u{team.agent.pk}" if seq in notes else f"v{visitor.pk}",
            client_id=f"seed-{seq:06}",
        )
        for seq in range(1, count + 1)
    )
    return conversation


def confirmed_contact(visitor, email):
    """Give the visitor a contact whose address they have proven theirs."""
    visitor.contact, _created = Contact.objects.get_or_create(email=email)
    visitor.contact_confirmed_at = timezone.now()
    visitor.save(update_fields=["contact", "contact_confirmed_at"])


def home_page():
    """The default site's home page. The migrations create one, but a
    transactional test before this one may have flushed it away."""
    from wagtail.models import Locale, Page, Site

    site = Site.objects.filter(is_default_site=True).select_related("root_page").first()
    if site is not None:
        return site.root_page
    from example_site.home.models import HomePage

    Locale.objects.get_or_create(language_code="en")
    root = Page.get_first_root_node() or Page.add_root(instance=Page(title="Root", slug="root"))
    home = root.add_child(instance=HomePage(title="Home", slug="home"))
    Site.objects.create(hostname="localhost", root_page=home, is_default_site=True)
    return home


async def say(sock, body="Hello", frame_id=None, **fields):
    """Send a message; return the server's answer to it (``ack`` or ``error``)."""
    frame_id = frame_id or client_id()
    await sock.send({"type": "message", "id": frame_id, "body": body, **fields})
    while True:
        frame = await sock.recv()
        if frame["type"] in ("ack", "error") and frame.get("id") == frame_id:
            return frame


async def start_conversation(live, team, visitor, body="Hello"):
    """A visitor's socket with a conversation: (socket, its first ack)."""
    sock, _welcome = await live.visitor(visitor, team.chatflow)
    ack = await say(sock, body)
    assert ack["type"] == "ack", ack
    return sock, ack


async def open_conversation(sock, pk, after=0):
    """``open`` as an agent: the history, any further messages, the viewers."""
    await sock.send({"type": "open", "conversation": pk, "after": after})
    history = await sock.until("history")
    more = []
    while (frame := await sock.recv())["type"] != "viewers":
        if frame["type"] == "message":
            more.append(frame)
    return history, more, frame


def assert_message(message, **expected):
    assert set(message) == MESSAGE, message
    assert message["author"] in ("visitor", "agent", "system")
    assert isinstance(message["seq"], int) and isinstance(message["created"], str)
    for key, value in expected.items():
        assert message[key] == value, (key, message)


def assert_error(frame, code, frame_id=None):
    assert frame["type"] == "error" and frame["code"] == code, frame
    assert set(frame) == (ERROR | {"id"} if frame_id else ERROR), frame
    assert isinstance(frame["message"], str) and frame["message"]
    if frame_id:
        assert frame["id"] == frame_id


def stored(conversation_id, seq):
    return Message.objects.filter(conversation_id=conversation_id, seq=seq).first()


# == HTTP endpoints ====================================================================


def test_config_endpoint(servers, sales, visitor):
    """GET /livechat/config/: null or the chatflow (with ``online`` and, for a
    returning visitor, ``resume``); 400 invalid / unknown_page; never stored."""
    server = servers.small  # the one test that asks this server for the config
    UrlRule.objects.create(
        chatflow=sales.chatflow, kind="exclude", operator="begins_with", value="/private/"
    )
    sales.chatflow.save_revision().publish()
    returning = Visitor.objects.create()
    conversation_with(returning, sales, 1)
    page = home_page()

    def ask(cookie=None, **params):
        params.setdefault("url", f"{server.origin}/pricing/")
        query = urllib.parse.urlencode(params)
        response = request(
            server,
            "GET",
            f"/livechat/config/?{query}",
            headers={"Cookie": cookie} if cookie else {},
        )
        assert response.headers["Cache-Control"] == "no-store", (params, response.headers)
        assert response.headers["Content-Type"] == "application/json"
        return response

    answer = ask()
    assert answer.status == 200
    chatflow = answer.json()["chatflow"]
    assert chatflow["id"] == sales.chatflow.pk
    assert isinstance(chatflow["online"], bool)
    full = ask(page=page.pk, device="mobile", lang="en-GB", ref="https://example.com/", visits=3)
    assert full.status == 200 and full.json()["chatflow"]["id"] == sales.chatflow.pk

    longest = f"{server.origin}/" + "x" * (2048 - len(server.origin) - 1)
    assert ask(url=longest).status == 200

    excluded = ask(url=f"{server.origin}/private/notes/")
    assert excluded.status == 200 and excluded.json() == {"chatflow": None}

    assert ask(visitor_cookie(visitor)).json()["chatflow"]["resume"] is False
    assert ask(visitor_cookie(returning)).json()["chatflow"]["resume"] is True

    for params in (
        {"url": ""},
        {"url": "javascript:alert(1)"},
        {"url": longest + "x"},
        {"device": "fridge"},
        {"lang": "not a language"},
        {"visits": "many"},
        {"page": "home"},
    ):
        response = ask(**params)
        assert response.status == 400, params
        body = response.json()
        assert body["error"] == "invalid" and set(body) == {"error", "fields"}, body
    missing = request(server, "GET", "/livechat/config/")
    assert missing.status == 400 and missing.json()["error"] == "invalid"
    assert missing.headers["Cache-Control"] == "no-store"
    unknown = ask(page=2_000_000)
    assert unknown.status == 400 and unknown.json() == {"error": "unknown_page"}


def test_config_answer_has_resume_only_with_the_visitor_cookie(server, sales):
    # The one test that asks the main server for the config.
    response = request(server, "GET", f"/livechat/config/?url={server.origin}/")
    assert "resume" not in response.json()["chatflow"]


def test_post_visitor_gives_an_identity_once(server):
    created = request(server, "POST", "/livechat/visitor/", headers={"Origin": server.origin})
    assert created.status == 201 and created.json() == {"visitor": True}
    cookie = created.cookies()["livechat_visitor"]
    key = identity.unsign(cookie)
    assert Visitor.objects.filter(key=key).exists()

    again = request(
        server,
        "POST",
        "/livechat/visitor/",
        headers={"Origin": server.origin, "Cookie": f"livechat_visitor={cookie}"},
    )
    assert again.status == 200 and again.json() == {"visitor": True}
    assert "livechat_visitor" not in again.cookies()
    assert Visitor.objects.count() == 1

    forged = request(
        server,
        "POST",
        "/livechat/visitor/",
        headers={"Origin": server.origin, "Cookie": f"livechat_visitor={cookie[:-2]}xx"},
    )
    assert forged.status == 201 and forged.json() == {"visitor": True}
    assert forged.headers["Content-Type"] == "application/json"
    assert identity.unsign(forged.cookies()["livechat_visitor"]) not in (None, key)


async def test_the_identity_cookie_opens_a_visitor_socket(server, live):
    created = await db(
        request, server, "POST", "/livechat/visitor/", headers={"Origin": server.origin}
    )
    cookie = created.cookies()["livechat_visitor"]
    sock = await live.open(VISITOR, cookie=f"livechat_visitor={cookie}")
    await sock.send({"type": "hello", "after": 0})
    assert (await sock.recv())["visitor"] is True
    forged = await live.open(VISITOR, cookie=f"livechat_visitor={cookie[:-2]}xx")
    await forged.send({"type": "hello", "after": 0})
    assert (await forged.recv())["visitor"] is False  # read-only, as without a cookie


def test_post_visitor_refuses_a_foreign_origin(server):
    other_port = server.origin.rsplit(":", 1)[0] + ":1"
    for origin in (
        None,
        "http://evil.example",
        "null",
        other_port,
        server.origin.replace("http://", "https://"),
    ):
        headers = {"Origin": origin} if origin else {}
        response = request(server, "POST", "/livechat/visitor/", headers=headers)
        assert response.status == 403, origin
        assert response.json() == {"error": "forbidden_origin"}
        assert "livechat_visitor" not in response.cookies()
    assert Visitor.objects.count() == 0


def test_post_visitor_is_rate_limited_per_client_address(server):
    # From an address of its own (127.0.0.0/8 is all loopback): the other
    # tests' budget, 127.0.0.1's, is left alone.
    def start(source):
        return request(
            server, "POST", "/livechat/visitor/", headers={"Origin": server.origin}, source=source
        )

    codes = [start("127.0.0.9").status for _ in range(NEW_VISITORS_PER_ADDRESS)]
    assert codes == [201] * NEW_VISITORS_PER_ADDRESS
    refused = start("127.0.0.9")
    assert refused.status == 429 and refused.json() == {"error": "rate_limited"}
    assert start("127.0.0.10").status == 201  # another address, another budget


def test_knowledge_base_search(server, sales):
    from example_site.home.models import ArticlePage, KnowledgeBasePage, StandardPage

    home = home_page()
    kb = home.add_child(instance=KnowledgeBasePage(title="Help", slug="help"))
    kb.add_child(
        instance=ArticlePage(title="Resetting your password", slug="reset", body="<p>x</p>")
    )
    kb.add_child(instance=ArticlePage(title="Invoices", slug="invoices", body="<p>y</p>"))
    home.add_child(instance=StandardPage(title="Password policy", slug="policy"))
    chatflow = make_chatflow(
        sales.inbox,
        name="Help chat",
        chat_type=Chatflow.ChatType.KNOWLEDGE_BASE,
        knowledge_base_root=kb,
    )

    def search(**params):
        return request(server, "GET", f"/livechat/search/?{urllib.parse.urlencode(params)}")

    found = search(chatflow=chatflow.pk, q="password")
    assert found.status == 200
    body = found.json()
    assert set(body) == {"results"}
    assert [set(r) for r in body["results"]] == [{"title", "url"}]
    assert body["results"][0]["title"] == "Resetting your password"
    assert body["results"][0]["url"].endswith("/help/reset/")
    assert search(chatflow=chatflow.pk, q="pa").status == 200  # 2 characters
    assert search(chatflow=chatflow.pk, q="p" * 200).status == 200

    for params in ({"chatflow": chatflow.pk, "q": "p"}, {"chatflow": chatflow.pk, "q": "p" * 201}):
        response = search(**params)
        assert response.status == 400 and response.json()["error"] == "invalid"
    for pk in (sales.chatflow.pk, 2_000_000):  # no knowledge base; no chatflow
        response = search(chatflow=pk, q="password")
        assert response.status == 404 and response.json() == {"error": "unknown_chatflow"}


def confirm_path(token: str) -> str:
    return f"/livechat/confirm/{token}/"


async def test_a_typed_address_is_confirmed_through_the_mailed_link(server, live, sales, visitor):
    sock, _ack = await start_conversation(live, sales, visitor)
    typed = address("ann")
    await sock.send({"type": "email", "email": typed, "subscribe": True, "consent": True})
    assert await sock.recv() == {"type": "contact", "email": typed, "confirmed": False}
    await sock.send({"type": "transcript"})
    assert_error(await sock.recv(), "unconfirmed")

    mail = await asyncio.to_thread(server.mail_to, typed)
    path = re.search(r"/livechat/confirm/[^/\s]+/", mail).group(0)
    # Following the link (as a mail scanner does) only shows a button...
    page = await asyncio.to_thread(request, server, "GET", path)
    assert page.status == 200 and b"<form" in page.body
    await db(visitor.refresh_from_db)
    assert visitor.contact_confirmed_at is None
    # ...which confirms.
    confirmed = await asyncio.to_thread(submit_form, server, path, {})
    assert confirmed.status == 200
    await db(visitor.refresh_from_db)
    assert visitor.contact_confirmed_at is not None

    await sock.send({"type": "transcript"})
    assert await sock.recv() == {"type": "transcript_sent"}
    _sock, welcome = await live.visitor(visitor, sales.chatflow, after=1)
    assert welcome["contact"] is True


async def confirm_by_link(server, typed):
    mail = await asyncio.to_thread(server.mail_to, typed)
    path = re.search(r"/livechat/confirm/[^/\s]+/", mail).group(0)
    assert (await asyncio.to_thread(submit_form, server, path, {})).status == 200


async def test_typing_a_confirmed_address_again_on_the_same_socket(server, live, sales, visitor):
    sock, _ack = await start_conversation(live, sales, visitor)
    typed = address("ann")
    await sock.send({"type": "email", "email": typed, "subscribe": False, "consent": True})
    assert (await sock.recv())["confirmed"] is False
    await confirm_by_link(server, typed)

    await sock.send({"type": "email", "email": typed, "subscribe": False, "consent": True})
    answer = await sock.recv()
    await db(visitor.refresh_from_db)
    assert visitor.contact_confirmed_at is not None, "the visitor is unconfirmed again"
    assert answer == {"type": "contact", "email": typed, "confirmed": True}


def test_a_forged_or_expired_confirmation_link_is_400(server, sales, visitor):
    from unittest import mock

    from django.core import signing

    contact = Contact.objects.create(email=address("ann"))
    token = identity.confirmation_token(visitor.pk, contact.pk)
    assert request(server, "GET", confirm_path(token)).status == 200
    three_days_ago = int(time.time()) - 3 * 24 * 3600 - 60
    with mock.patch.object(
        signing.TimestampSigner, "timestamp", lambda self: signing.b62_encode(three_days_ago)
    ):
        expired = identity.confirmation_token(visitor.pk, contact.pk)
    for bad in (token[:-3] + "abc", expired, "x" * 300):
        response = request(server, "GET", confirm_path(bad))
        assert response.status == 400, bad
        # Posted with the CSRF token of a genuine link's page.
        response = submit_form(server, confirm_path(token), {}, action=confirm_path(bad))
        assert response.status == 400, bad
    visitor.refresh_from_db()
    assert visitor.contact_id is None and visitor.contact_confirmed_at is None


async def test_at_most_3_chat_mails_an_hour_reach_one_address(live, sales):
    shared = address("shared")
    proven = await db(Visitor.objects.create)
    await db(confirmed_contact, proven, shared)
    sock, _ack = await start_conversation(live, sales, proven)
    # Typed again by the visitor who confirmed it: no mail, no quota spent.
    for _ in range(3):
        await sock.send({"type": "email", "email": shared, "subscribe": False, "consent": True})
        assert (await sock.recv())["confirmed"] is True
    await sock.send({"type": "transcript"})
    assert await sock.recv() == {"type": "transcript_sent"}  # 1 mail
    # Two other visitors type it: a confirmation mail each (3 mails).
    for _ in range(2):
        other, _welcome = await live.visitor(await db(Visitor.objects.create), sales.chatflow)
        await other.send({"type": "email", "email": shared, "subscribe": False, "consent": True})
        assert (await other.recv())["confirmed"] is False
    # The address's quota is spent: the visitor's second transcript is refused.
    await sock.send({"type": "transcript"})
    assert_error(await sock.recv(), "rate_limited")


# == Websockets: who may connect =======================================================


async def test_both_sockets_refuse_a_foreign_origin_before_the_handshake(server, sales):
    cookie = await db(session_cookie, sales.agent)
    for path in (VISITOR, AGENT):
        for origin in (None, "http://evil.example", server.origin.rsplit(":", 1)[0] + ":1"):
            status = await refused_status(server, path, origin=origin, cookie=cookie)
            assert status == 403, (path, origin)
        assert await refused_status(server, path, cookie=cookie) is None  # own origin


def _login(server, username, password):
    """Log in at /admin/login/ as a browser does: the session cookie."""
    response = submit_form(server, "/admin/login/", {"username": username, "password": password})
    assert response.status == 302, response.body[:500]
    return f"sessionid={response.cookies()['sessionid']}"


async def test_agents_log_in_through_the_admin_login(server, live, sales):
    from django.contrib.auth.hashers import PBKDF2PasswordHasher

    # A hash the server's default hashers read (the tests' own is MD5).
    hasher = PBKDF2PasswordHasher()
    sales.agent.password = hasher.encode("s3cret-pw", hasher.salt(), iterations=1000)
    await db(sales.agent.save, update_fields=["password"])
    cookie = await db(_login, server, "ann", "s3cret-pw")
    sock = await live.open(AGENT, cookie=cookie)
    await sock.send({"type": "hello"})
    welcome = await sock.recv()
    assert welcome["type"] == "agent_welcome"
    assert welcome["user"]["id"] == sales.agent.pk


async def test_an_agent_socket_without_a_logged_in_user_closes_4001(live):
    for cookie in (None, "sessionid=not-a-session"):
        sock = await live.open(AGENT, cookie=cookie)
        assert (await sock.close_code())[0] == 4001


async def test_an_agent_socket_of_a_user_who_may_not_use_the_inbox_closes_4003(live, sales):
    def users():
        nobody = make_agent("nobody")  # admin access, no inbox
        no_admin = make_agent("clerk")
        no_admin.user_permissions.clear()
        add_members(sales.inbox, no_admin)  # a member without admin access
        return nobody, no_admin

    for user in await db(users):
        sock = await live.open(AGENT, cookie=await db(session_cookie, user))
        assert (await sock.close_code())[0] == 4003, user.username


async def test_an_inactive_user_may_not_connect(live, sales):
    sales.agent.is_active = False
    await db(sales.agent.save)
    sock = await live.open(AGENT, cookie=await db(session_cookie, sales.agent))
    assert (await sock.close_code())[0] in (4001, 4003)


async def test_membership_through_a_group_and_superusers_in_every_inbox(live, sales, support):
    def users():
        group = Group.objects.create(name="Sales team")
        member = make_agent("dana")
        member.groups.add(group)
        sales.inbox.groups.add(group)
        sales.inbox.save()
        root = make_agent("root", superuser=True)
        return member, root

    member, root = await db(users)
    _sock, welcome = await live.agent(member)
    assert welcome["inboxes"] == [{"id": sales.inbox.pk, "name": "Sales"}]
    _sock, welcome = await live.agent(root)
    assert sorted(i["id"] for i in welcome["inboxes"]) == [sales.inbox.pk, support.inbox.pk]


async def test_an_agent_who_loses_the_last_membership_is_closed_4003(live, sales):
    sock, _welcome = await live.agent(sales.agent)
    await db(sales.inbox.users.remove, sales.agent)
    await db(sales.inbox.save)
    # The change was made in this process: the server learns it on the
    # next ping ("also follows inbox membership changes").
    await sock.send({"type": "ping"})
    assert (await sock.close_code())[0] == 4003


# == Frames from the visitor ===========================================================


async def test_without_identity_the_visitor_socket_is_read_only(live, sales):
    sock, welcome = await live.visitor(None, sales.chatflow)
    assert set(welcome) == WELCOME
    assert welcome["visitor"] is False
    assert welcome["conversation"] is None and welcome["contact"] is False
    assert welcome["messages"] == [] and isinstance(welcome["online"], bool)

    answer = await say(sock, "Hello", "anon-0001")
    assert_error(answer, "identify", "anon-0001")
    await sock.send(
        {"type": "email", "email": "a@example.com", "subscribe": False, "consent": True}
    )
    assert_error(await sock.recv(), "identify")
    await sock.send({"type": "transcript"})
    assert_error(await sock.recv(), "identify")
    for frame in (
        {"type": "typing", "on": True},
        {"type": "page", "url": "http://127.0.0.1/a/", "title": "A", "id": None},
        {"type": "read", "seq": 1},
    ):
        await sock.send(frame)
    assert await sock.barrier() == []
    assert await db(Message.objects.count) == 0


async def test_welcome_of_an_identified_visitor(live, sales, visitor):
    await db(AgentStatus.objects.create, user=sales.agent, available=False)
    sock, welcome = await live.visitor(visitor, sales.chatflow)
    assert set(welcome) == WELCOME
    assert welcome["visitor"] is True and welcome["conversation"] is None
    assert welcome["contact"] is False and welcome["messages"] == []
    assert welcome["online"] is False  # Ann, the one member, is away

    agent, _ = await live.agent(sales.agent)
    await agent.send({"type": "availability", "available": True})
    assert await agent.recv() == {"type": "availability", "available": True}
    _sock, welcome = await live.visitor(visitor, sales.chatflow)
    assert welcome["online"] is True  # no office hours: always open, and Ann is available

    ack = await say(sock, "Hello")
    _sock, welcome = await live.visitor(visitor, sales.chatflow)
    assert welcome["conversation"] == {"id": ack["message"]["conversation"], "status": "open"}
    assert welcome["messages"] == [ack["message"]]


async def test_message_is_stored_then_acknowledged_then_fanned_out(live, sales, support, visitor):
    agent, _ = await live.agent(sales.agent)
    stranger, _ = await live.agent(support.agent)
    sock, _welcome = await live.visitor(visitor, sales.chatflow)

    await sock.send({"type": "message", "id": "first-message", "body": "  Hello there  "})
    ack = await sock.recv()
    # The ack is the answer, nothing before it; and what it acknowledges is
    # already the record.
    assert set(ack) == ACK and ack["type"] == "ack" and ack["id"] == "first-message"
    message = ack["message"]
    assert_message(message, seq=1, author="visitor", body="Hello there", note=False)
    row = await db(stored, message["conversation"], 1)
    assert row is not None and row.body == "Hello there" and row.client_id == "first-message"

    # Agents of the inbox hear of the new conversation, unasked.
    update = await agent.until("conversation")
    assert update["conversation"]["id"] == message["conversation"]
    assert {"id", "inbox"} <= set(update["conversation"]) <= SUMMARY
    assert update["conversation"]["inbox"] == sales.inbox.pk
    # ...the agent viewing it gets the messages...
    _history, _more, _viewers = await open_conversation(agent, message["conversation"])
    ack2 = await say(sock, "Anyone?")
    assert (await agent.until("message"))["message"] == ack2["message"]
    # ...and another inbox's agent gets nothing of it.
    assert await stranger.barrier() == []


async def test_agents_viewing_get_the_message_and_what_it_changed_in_one_frame(
    live, sales, visitor
):
    sock, ack = await start_conversation(live, sales, visitor)
    pk = ack["message"]["conversation"]
    agent, _ = await live.agent(sales.agent)
    await open_conversation(agent, pk)
    second = await say(sock, "Anyone?")
    frames = await agent.barrier()
    assert [f["type"] for f in frames] == ["message"], frames
    assert frames[0]["message"] == second["message"]
    delta = frames[0]["conversation"]
    assert {"id", "inbox"} <= set(delta) <= SUMMARY and delta["id"] == pk


async def test_resending_the_same_id_stores_nothing_new_and_returns_the_same_ack(
    live, sales, visitor
):
    sock, first = await start_conversation(live, sales, visitor)
    agent, _ = await live.agent(sales.agent)
    await open_conversation(agent, first["message"]["conversation"])

    again = await say(sock, "Hello", first["id"])
    assert again == first
    # After a reconnect too, even with another body.
    sock2, _welcome = await live.visitor(visitor, sales.chatflow, after=1)
    assert await say(sock2, "Hello (edited)", first["id"]) == first
    assert await db(Message.objects.count) == 1
    assert await agent.barrier() == []  # nothing new for the agent either


async def test_a_resend_after_a_lost_ack_is_answered_with_the_stored_message(live, sales, visitor):
    sock, first = await start_conversation(live, sales, visitor)
    pk = first["message"]["conversation"]
    await sock.send({"type": "message", "id": "lost-ack-01", "body": "Are you there?"})
    # Stored, but the widget never reads the ack: the connection drops.
    deadline = time.monotonic() + 5
    while await db(stored, pk, 2) is None:
        assert time.monotonic() < deadline, "the message was never stored"
        await asyncio.sleep(0.02)
    await sock.close()

    sock, welcome = await live.visitor(visitor, sales.chatflow, after=1)
    assert [m["body"] for m in welcome["messages"]] == ["Are you there?"]
    again = await say(sock, "Are you there?", "lost-ack-01")
    assert again["type"] == "ack" and again["message"] == welcome["messages"][0]
    assert await db(Message.objects.filter(conversation_id=pk).count) == 2


async def test_message_validation(live, sales, visitor):
    sock, _ack = await start_conversation(live, sales, visitor)
    checks = [
        ("", "bad_frame"),
        ("     ", "bad_frame"),
        ("a\x00b", "bad_frame"),
        ("x" * 4001, "too_long"),
    ]
    for body, code in checks:
        frame_id = client_id()
        assert_error(await say(sock, body, frame_id), code, frame_id)
    frame_id = client_id()
    await sock.send({"type": "message", "id": frame_id})  # no body
    assert_error(await sock.recv(), "bad_frame", frame_id)
    for bad_id in ("short", "x" * 65, "has space-in-it", 12345678, None):
        await sock.send({"type": "message", "id": bad_id, "body": "Hi"})
        frame = await sock.recv()
        assert frame["type"] == "error" and frame["code"] == "bad_frame", frame
    assert (await say(sock, "x" * 4000))["type"] == "ack"
    ids = [str(uuid.uuid4()), "A" * 64, "abc_DEF-"]  # a UUID, 64 and 8 characters
    for frame_id in ids:
        assert (await say(sock, "ok", frame_id))["type"] == "ack"
    assert await db(Message.objects.count) == 5


async def test_every_error_answering_a_message_frame_carries_its_id(live, sales, visitor):
    vsock, ack = await start_conversation(live, sales, visitor)
    pk = ack["message"]["conversation"]
    ann, _ = await live.agent(sales.agent)
    frames = [
        (ann, {"type": "message", "id": "agent-msg-01", "body": "Hi"}),  # no conversation
        (
            ann,
            {"type": "message", "conversation": pk, "id": "agent-msg-02", "body": "Hi", "note": 1},
        ),
        (vsock, {"type": "message", "id": "short", "body": "Hi"}),  # an invalid id
    ]
    without = []
    for sock, frame in frames:
        await sock.send(frame)
        answers = [f for f in await sock.barrier() if f["type"] == "error"]
        assert answers and answers[0]["code"] == "bad_frame", (frame, answers)
        if answers[0].get("id") != frame["id"]:
            without.append((frame, answers[0]))
    assert without == []


async def test_typing_reaches_the_agents_viewing(live, sales, visitor):
    sock, ack = await start_conversation(live, sales, visitor)
    pk = ack["message"]["conversation"]
    viewing, _ = await live.agent(sales.agent)
    await open_conversation(viewing, pk)
    not_viewing, _ = await live.agent(await db(add_colleague, sales))

    await sock.send({"type": "typing", "on": True})
    assert await sock.barrier() == []  # no answer
    assert await viewing.until("typing") == {
        "type": "typing",
        "conversation": pk,
        "who": "visitor",
        "on": True,
    }
    await sock.send({"type": "typing", "on": False})
    assert (await viewing.until("typing"))["on"] is False
    await sock.barrier()
    assert [f for f in await not_viewing.barrier() if f["type"] == "typing"] == []


async def test_page_frame_reaches_the_agents_viewing(live, sales, visitor):
    sock, ack = await start_conversation(live, sales, visitor)
    pk = ack["message"]["conversation"]
    agent, _ = await live.agent(sales.agent)
    history, _more, _viewers = await open_conversation(agent, pk)
    not_viewing, _ = await live.agent(await db(add_colleague, sales))

    await sock.send(
        {"type": "page", "url": "http://127.0.0.1/pricing/", "title": "Pricing", "id": None}
    )
    assert await sock.barrier() == []
    frame = await agent.until("visitor_page")
    assert set(frame) == VISITOR_PAGE | {"visit"} and frame["conversation"] == pk
    assert set(frame["page"]) == PAGE_FIELDS
    assert set(frame["visit"]) == VISIT and frame["visit"]["url"] == frame["page"]["url"]
    assert frame["page"]["url"] == "http://127.0.0.1/pricing/"
    assert frame["page"]["title"] == "Pricing"
    assert [f for f in await not_viewing.barrier() if f["type"] == "visitor_page"] == []


async def test_hello_page_is_the_visitors_page(live, sales, visitor):
    page = {"url": "http://127.0.0.1/contact/", "title": "Contact us", "id": None}
    sock, ack = await start_conversation(live, sales, visitor)
    agent, _ = await live.agent(sales.agent)
    await open_conversation(agent, ack["message"]["conversation"])
    await live.visitor(visitor, sales.chatflow, after=1, page=page)
    frame = await agent.until("visitor_page")
    assert frame["page"]["url"] == page["url"] and frame["page"]["title"] == "Contact us"


async def test_email_frame(live, sales, visitor):
    sock, ack = await start_conversation(live, sales, visitor)
    pk = ack["message"]["conversation"]
    agent, _ = await live.agent(sales.agent)
    await open_conversation(agent, pk)
    not_viewing, _ = await live.agent(await db(add_colleague, sales))

    typed = address("Ann")
    await sock.send({"type": "email", "email": typed, "subscribe": True, "consent": True})
    contact = await sock.recv()
    assert contact["type"] == "contact"
    assert contact["email"].lower() == typed.lower()
    # The agents viewing get the new context (and the inbox the summary).
    frame = await agent.until("context")
    assert set(frame) == CONTEXT and frame["conversation"] == pk
    assert frame["context"]["contact"]["email"] == typed.lower()
    # An agent of the inbox who is not viewing it gets the summary only.
    seen = await not_viewing.barrier()
    assert [f["type"] for f in seen] == ["conversation"]
    assert seen[0]["conversation"]["id"] == pk
    _sock, welcome = await live.visitor(visitor, sales.chatflow, after=1)
    assert welcome["contact"] is True

    await sock.send(
        {"type": "email", "email": "not an address", "subscribe": False, "consent": False}
    )
    assert_error(await sock.recv(), "invalid_email")
    await sock.send({"type": "email", "email": "a" * 250 + "@example.com"})
    assert_error(await sock.recv(), "too_long")


async def test_contact_frame_carries_the_email_as_stored(live, sales, visitor):
    sock, _welcome = await live.visitor(visitor, sales.chatflow)
    await sock.send(
        {"type": "email", "email": (typed := address("Ann")), "subscribe": False, "consent": True}
    )
    assert (await sock.recv())["email"] == typed.lower()


async def test_contact_frame_says_whether_this_visitor_confirmed_the_address(live, sales, visitor):
    sock, _welcome = await live.visitor(visitor, sales.chatflow)
    typed = address("ann")
    await sock.send({"type": "email", "email": typed, "subscribe": False, "consent": True})
    assert await sock.recv() == {"type": "contact", "email": typed, "confirmed": False}

    proven = await db(Visitor.objects.create)
    known = address("bob")
    await db(confirmed_contact, proven, known)
    sock, welcome = await live.visitor(proven, sales.chatflow)
    assert welcome["contact"] is True
    await sock.send({"type": "email", "email": known, "subscribe": False, "consent": True})
    assert await sock.recv() == {"type": "contact", "email": known, "confirmed": True}


async def test_read_frame_has_no_answer(live, sales, visitor):
    sock, ack = await start_conversation(live, sales, visitor)
    await sock.send({"type": "read", "seq": ack["message"]["seq"]})
    assert await sock.barrier() == []
    conversation = await db(Conversation.objects.get, pk=ack["message"]["conversation"])
    assert conversation.visitor_read_seq == 1


async def test_transcript_answers(live, sales):
    def visitors():
        no_email = Visitor.objects.create()
        no_conversation = Visitor.objects.create()
        confirmed_contact(no_conversation, address("nobody"))
        chatting = Visitor.objects.create()
        confirmed_contact(chatting, address("ann"))
        return no_email, no_conversation, chatting

    no_email, no_conversation, chatting = await db(visitors)
    sock, _welcome = await live.visitor(no_email, sales.chatflow)
    await sock.send({"type": "transcript"})
    assert_error(await sock.recv(), "no_email")
    sock, _welcome = await live.visitor(no_conversation, sales.chatflow)
    await sock.send({"type": "transcript"})
    assert_error(await sock.recv(), "not_found")

    sock, _ack = await start_conversation(live, sales, chatting)
    for _ in range(2):
        await sock.send({"type": "transcript"})
        assert await sock.recv() == {"type": "transcript_sent"}
    await sock.send({"type": "transcript"})
    assert_error(await sock.recv(), "rate_limited")
    assert await sock.barrier() == []


async def test_ping_answers_pong_after_what_is_missing(live, sales, visitor):
    sock, ack = await start_conversation(live, sales, visitor)
    pk = ack["message"]["conversation"]
    assert await sock.barrier() == []
    # Written where the server hears nothing of it: only the record knows.
    await db(service.post_agent_message, sales.agent, pk, client_id="agent-0001", body="Hi!")
    await sock.send({"type": "ping"})
    missing = await sock.recv()
    assert missing["type"] == "message"
    assert_message(missing["message"], seq=2, author="agent", body="Hi!")
    assert await sock.recv() == {"type": "pong"}
    assert await sock.barrier() == []  # once


async def test_seqs_are_gapless_and_in_order_when_both_sides_write_at_once(live, sales, visitor):
    vsock, ack = await start_conversation(live, sales, visitor)
    pk = ack["message"]["conversation"]
    ann, _ = await live.agent(sales.agent)
    await open_conversation(ann, pk)

    async def burst(sock, prefix, **extra):
        ids = [f"{prefix}-{i:04}" for i in range(10)]
        for frame_id in ids:
            await sock.send({"type": "message", "id": frame_id, "body": frame_id, **extra})
        acks, seen = {}, []
        while len(acks) < len(ids):
            frame = await sock.recv()
            if frame["type"] == "ack":
                acks[frame["id"]] = frame["message"]["seq"]
            if frame["type"] in ("ack", "message"):
                seen.append(frame.get("message")["seq"])
        return [acks[i] for i in ids], seen

    (visitor_acks, visitor_seen), (agent_acks, agent_seen) = await asyncio.gather(
        burst(vsock, "visitor"), burst(ann, "agent", conversation=pk)
    )
    # A socket's own messages are numbered in the order it sent them...
    assert visitor_acks == sorted(visitor_acks) and agent_acks == sorted(agent_acks)
    # ...all of them once, with no gap...
    assert sorted(visitor_acks + agent_acks) == list(range(2, 22))
    seqs = await db(
        lambda: list(Message.objects.filter(conversation_id=pk).values_list("seq", flat=True))
    )
    assert sorted(seqs) == list(range(1, 22))
    # ...and each socket gets them in seq order.
    assert visitor_seen == sorted(visitor_seen) and agent_seen == sorted(agent_seen)


# == Attachments =======================================================================


def multipart(fields: dict, file: tuple[str, str, bytes]) -> tuple[str, bytes]:
    """A multipart/form-data body as a browser's FormData sends it."""
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    filename, content_type, content = file
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        f"Content-Type: {content_type}\r\n\r\n".encode()
        + content
        + b"\r\n"
    )
    return f"multipart/form-data; boundary={boundary}", b"".join(
        parts
    ) + f"--{boundary}--\r\n".encode()


async def test_a_visitor_uploads_an_image_and_everyone_of_the_conversation_gets_it(
    server, live, sales, support, visitor
):
    from tests.attachment_files import PDF, image

    sock, ack = await start_conversation(live, sales, visitor)
    pk = ack["message"]["conversation"]
    ann, _ = await live.agent(sales.agent)
    await open_conversation(ann, pk)
    content = image(size=(32, 24))
    content_type, body = multipart(
        {"id": "upload-0001", "conversation": pk, "body": "this one"},
        ("../shot.png", "application/x-made-up", content),
    )
    headers = {"Origin": server.origin, "Cookie": visitor_cookie(visitor)}
    sent = await db(
        request,
        server,
        "POST",
        "/livechat/attachments/",
        headers={**headers, "Content-Type": content_type},
        body=body,
    )
    assert sent.status == 201, sent.body
    message = sent.json()["message"]
    assert set(message) == MESSAGE | {"attachment"}
    assert_message({k: v for k, v in message.items() if k != "attachment"}, seq=2, body="this one")
    attachment = message["attachment"]
    assert attachment == {
        "name": "shot.png",
        "size": len(content),
        "kind": "image",
        "type": "image/png",
        "url": attachment["url"],
        "width": 32,
        "height": 24,
    }
    # A message like any other: to the visitor's socket and to the agent viewing it.
    assert (await sock.until("message"))["message"] == message
    frame = await ann.until("message")
    assert frame["message"] == message and frame["conversation"]["last_message"]

    # Downloads: the visitor and the agent; the image inline, nosniff always.
    for cookie in (visitor_cookie(visitor), await db(session_cookie, sales.agent)):
        got = await db(request, server, "GET", attachment["url"], headers={"Cookie": cookie})
        assert got.status == 200 and got.body == content
        assert got.headers["Content-Type"] == "image/png"
        assert got.headers["Content-Disposition"].startswith("inline")
        assert got.headers["X-Content-Type-Options"] == "nosniff"
    # Nobody else: another inbox's agent, another visitor, nobody at all.
    stranger = await db(Visitor.objects.create)
    for cookie in (await db(session_cookie, support.agent), visitor_cookie(stranger), ""):
        got = await db(request, server, "GET", attachment["url"], headers={"Cookie": cookie})
        assert got.status == 403 and got.json()["error"] == "forbidden"

    # A document is only ever a download; a foreign origin stores nothing.
    content_type, body = multipart(
        {"id": "upload-0002", "conversation": pk}, ("invoice.pdf", "text/html", PDF)
    )
    sent = await db(
        request,
        server,
        "POST",
        "/livechat/attachments/",
        headers={**headers, "Content-Type": content_type},
        body=body,
    )
    url = sent.json()["message"]["attachment"]["url"]
    got = await db(request, server, "GET", url, headers={"Cookie": visitor_cookie(visitor)})
    assert got.headers["Content-Disposition"] == 'attachment; filename="invoice.pdf"'
    refused = await db(
        request,
        server,
        "POST",
        "/livechat/attachments/",
        headers={**headers, "Origin": "http://evil.example", "Content-Type": content_type},
        body=body,
    )
    assert refused.status == 403 and refused.json()["error"] == "forbidden_origin"
    await db(lambda: Conversation.objects.filter(pk=pk).delete())  # its files go too


# == Paging ============================================================================


async def test_welcome_pages_a_long_history_oldest_first(live, sales, visitor):
    notes = {5, 250}
    await db(conversation_with, visitor, sales, 450, notes)
    sock, welcome = await live.visitor(visitor, sales.chatflow)
    seqs = [m["seq"] for m in welcome["messages"]]
    assert len(seqs) <= PAGE and seqs == sorted(seqs) and seqs[0] == 1
    rest = []
    while (frame := await sock.recv())["type"] == "message":
        rest.append(frame["message"]["seq"])
        if rest[-1] == 450:
            break
    every = [s for s in range(1, 451) if s not in notes]  # notes are gaps for a visitor
    assert seqs + rest == every
    assert await sock.barrier() == []

    _sock, welcome = await live.visitor(visitor, sales.chatflow, after=440)
    assert [m["seq"] for m in welcome["messages"]] == list(range(441, 451))


async def test_history_pages_a_long_conversation_oldest_first(live, sales, visitor):
    conversation = await db(conversation_with, visitor, sales, 450, {5, 250})
    agent, _ = await live.agent(sales.agent)
    history, more, viewers = await open_conversation(agent, conversation.pk)
    seqs = [m["seq"] for m in history["messages"]]
    assert seqs == list(range(1, PAGE + 1))  # notes included, for agents
    assert [m["message"]["seq"] for m in more] == list(range(PAGE + 1, 451))
    assert viewers == {"type": "viewers", "conversation": conversation.pk, "viewers": []}
    notes = [m for m in history["messages"] if m["note"]]
    assert [m["seq"] for m in notes] == [5]

    history, more, _viewers = await open_conversation(agent, conversation.pk, after=445)
    assert [m["seq"] for m in history["messages"]] == list(range(446, 451)) and more == []


# == Frames from the agent =============================================================


async def test_agent_welcome(live, sales, support):
    await db(AgentStatus.objects.create, user=sales.agent, available=True)
    _sock, welcome = await live.agent(sales.agent)
    assert set(welcome) == AGENT_WELCOME
    assert welcome["user"] == {"id": sales.agent.pk, "name": "Ann Example"}
    assert welcome["available"] is True
    assert welcome["inboxes"] == [{"id": sales.inbox.pk, "name": "Sales"}]


async def test_availability(live, sales):
    sock, welcome = await live.agent(sales.agent)
    for available in (True, False, True):
        await sock.send({"type": "availability", "available": available})
        assert await sock.recv() == {"type": "availability", "available": available}
    _sock, welcome = await live.agent(sales.agent)
    assert welcome["available"] is True


async def test_open_answers_history_then_viewers_and_leave_tells_the_others(live, sales, visitor):
    _vsock, ack = await start_conversation(live, sales, visitor)
    pk = ack["message"]["conversation"]
    cleo = await db(add_colleague, sales)
    ann, _ = await live.agent(sales.agent)

    history, more, viewers = await open_conversation(ann, pk)
    assert set(history) == HISTORY
    assert set(history["conversation"]) == SUMMARY
    assert history["conversation"]["id"] == pk and history["conversation"]["status"] == "open"
    assert history["messages"] == [ack["message"]]
    context = history["context"]
    assert {"page", "visitor", "contact", "earlier", "members"} <= set(context)
    assert set(context["visitor"]) == VISITOR_CONTEXT
    assert {m["id"] for m in context["members"]} == {sales.agent.pk, cleo.pk}
    assert more == [] and viewers == {"type": "viewers", "conversation": pk, "viewers": []}

    cleo_sock, _ = await live.agent(cleo)
    _history, _more, first = await open_conversation(cleo_sock, pk)
    assert first["viewers"] == []
    # Ann, viewing, answers the newcomer with her own viewers frame, and
    # Cleo learns Ann is there.
    assert await ann.until("viewers") == {
        "type": "viewers",
        "conversation": pk,
        "viewers": [{"id": cleo.pk, "name": "Cleo"}],
    }
    here = await cleo_sock.until("viewers")
    assert set(here) == VIEWERS
    assert here["viewers"] == [{"id": sales.agent.pk, "name": "Ann"}]

    await cleo_sock.send({"type": "leave", "conversation": pk})
    assert await cleo_sock.barrier() == []
    assert await ann.until("viewers") == {"type": "viewers", "conversation": pk, "viewers": []}


async def test_agent_message_and_note(live, sales, visitor):
    vsock, ack = await start_conversation(live, sales, visitor)
    pk = ack["message"]["conversation"]
    cleo = await db(add_colleague, sales)
    ann, _ = await live.agent(sales.agent)
    other, _ = await live.agent(cleo)
    await open_conversation(ann, pk)
    await open_conversation(other, pk)
    await ann.until("viewers")

    answer = await say(ann, "  Hi, how can I help?  ", conversation=pk)
    assert set(answer) == ACK and answer["type"] == "ack"
    message = answer["message"]
    assert_message(message, seq=2, author="agent", body="Hi, how can I help?", note=False)
    assert (await db(stored, pk, 2)).body == "Hi, how can I help?"
    assert await vsock.until("message") == {"type": "message", "message": message}
    assert (await other.until("message"))["message"] == message

    note = await say(ann, "Upsell?", conversation=pk, note=True)
    assert_message(note["message"], seq=3, author="agent", note=True)
    assert (await other.until("message"))["message"] == note["message"]
    assert await vsock.barrier() == []  # never to the visitor
    assert await say(ann, "Upsell?", note["id"], conversation=pk, note=True) == note

    # The visitor sees a gap in the seqs, never in the messages.
    reply = await say(vsock, "Thanks")
    assert reply["message"]["seq"] == 4
    _sock, welcome = await live.visitor(visitor, sales.chatflow)
    assert [m["seq"] for m in welcome["messages"]] == [1, 2, 4]


async def test_agent_typing(live, sales, visitor):
    vsock, ack = await start_conversation(live, sales, visitor)
    pk = ack["message"]["conversation"]
    cleo = await db(add_colleague, sales)
    ann, _ = await live.agent(sales.agent)
    other, _ = await live.agent(cleo)
    await open_conversation(ann, pk)
    await open_conversation(other, pk)

    await ann.send({"type": "typing", "conversation": pk, "on": True})
    assert [f for f in await ann.barrier() if f["type"] == "typing"] == []
    to_visitor = await vsock.until("typing")
    assert to_visitor == {"type": "typing", "conversation": pk, "who": "agent", "on": True}
    to_agent = await other.until("typing")
    assert set(to_agent) == TYPING and to_agent["who"] == "Ann" and to_agent["on"] is True


async def test_assign(live, sales, visitor):
    _vsock, ack = await start_conversation(live, sales, visitor)
    pk = ack["message"]["conversation"]
    cleo = await db(add_colleague, sales)
    outsider = await db(make_agent, "otto")
    ann, _ = await live.agent(sales.agent)

    await ann.send({"type": "assign", "conversation": pk, "user": cleo.pk})
    frame = await ann.until("conversation", timeout=5)
    while frame["conversation"].get("assignee") is None:
        frame = await ann.until("conversation")
    assert set(frame) == {"type", "conversation"} and set(frame["conversation"]) == SUMMARY
    assert frame["conversation"]["assignee"] == {"id": cleo.pk, "name": "Cleo"}

    await ann.send({"type": "assign", "conversation": pk, "user": None})
    frame = await ann.until("conversation")
    while frame["conversation"].get("assignee") is not None:
        frame = await ann.until("conversation")
    assert frame["conversation"]["assignee"] is None

    await ann.send({"type": "assign", "conversation": pk, "user": outsider.pk})
    assert_error(await ann.until("error"), "bad_frame")
    assert (await db(Conversation.objects.get, pk=pk)).assignee_id is None


async def test_label(live, sales, visitor):
    vsock, ack = await start_conversation(live, sales, visitor)
    pk = ack["message"]["conversation"]
    ann, _ = await live.agent(sales.agent)
    cleo_sock, _ = await live.agent(await db(add_colleague, sales))
    otto = await db(make_agent, "otto")
    await db(make_inbox, "Elsewhere", members=[otto])
    otto_sock, _ = await live.agent(otto)

    await ann.send({"type": "label", "conversation": pk, "label": "Refund", "add": True})
    frame = await ann.until("conversation")
    while not frame["conversation"].get("labels"):
        frame = await ann.until("conversation")
    assert set(frame["conversation"]) == SUMMARY and frame["conversation"]["labels"] == ["refund"]
    frame = await cleo_sock.until("conversation")
    while not frame["conversation"].get("labels"):
        frame = await cleo_sock.until("conversation")
    assert frame["conversation"]["labels"] == ["refund"]

    await otto_sock.send({"type": "label", "conversation": pk, "label": "x", "add": True})
    assert_error(await otto_sock.until("error"), "forbidden")
    await ann.send({"type": "label", "conversation": pk, "label": "x" * 41, "add": True})
    assert_error(await ann.until("error"), "too_long")
    assert await vsock.barrier() == []  # labels are the agents' business


async def test_close_and_reopen(live, sales, visitor):
    vsock, ack = await start_conversation(live, sales, visitor)
    pk = ack["message"]["conversation"]
    ann, _ = await live.agent(sales.agent)

    await ann.send({"type": "close", "conversation": pk})
    frame = await ann.until("conversation")
    while frame["conversation"]["status"] != "closed":
        frame = await ann.until("conversation")
    assert set(frame["conversation"]) == SUMMARY
    assert await vsock.until("closed") == {"type": "closed", "conversation": pk}

    await ann.send({"type": "reopen", "conversation": pk})
    frame = await ann.until("conversation")
    while frame["conversation"]["status"] != "open":
        frame = await ann.until("conversation")
    assert set(frame["conversation"]) == SUMMARY


async def test_read_is_written_later_and_comes_back_as_unread(live, sales, visitor):
    vsock, ack = await start_conversation(live, sales, visitor)
    pk = ack["message"]["conversation"]
    last = (await say(vsock, "Second"))["message"]["seq"]
    ann, _ = await live.agent(sales.agent)
    history, _more, _viewers = await open_conversation(ann, pk)
    assert history["conversation"]["unread"] == 2

    await ann.send({"type": "read", "conversation": pk, "seq": last})
    assert [f for f in await ann.barrier() if f["type"] != "conversation"] == []
    frame = await ann.until("conversation", timeout=3)
    while "unread" not in frame["conversation"] or frame["conversation"]["unread"] != 0:
        frame = await ann.until("conversation", timeout=3)
    summary = frame["conversation"]
    assert summary["id"] == pk and summary["inbox"] == sales.inbox.pk
    assert set(summary) <= SUMMARY


async def test_agent_ping_repairs_what_the_record_holds(live, sales, visitor):
    _vsock, ack = await start_conversation(live, sales, visitor)
    pk = ack["message"]["conversation"]
    ann, _ = await live.agent(sales.agent)
    await open_conversation(ann, pk)
    assert [f for f in await ann.barrier() if f["type"] == "message"] == []
    cleo = await db(add_colleague, sales)
    await db(service.post_agent_message, cleo, pk, client_id="cleo-0001", body="On it")
    await ann.send({"type": "ping"})
    frames = []
    while (frame := await ann.recv())["type"] != "pong":
        frames.append(frame)
    assert [f["message"]["body"] for f in frames if f["type"] == "message"] == ["On it"]


async def test_agent_ping_follows_a_new_membership(live, sales, support, visitor):
    bob, _ = await live.agent(support.agent)
    await db(add_members, sales.inbox, support.agent)  # made here: the server hears nothing
    assert await bob.barrier() == []  # this ping reads the memberships again
    _vsock, ack = await start_conversation(live, sales, visitor)
    update = await bob.until("conversation")
    assert update["conversation"]["id"] == ack["message"]["conversation"]


async def test_unasked_conversation_frames_for_every_conversation_of_the_inboxes(
    live, sales, support
):
    ann, _ = await live.agent(sales.agent)
    bob, _ = await live.agent(support.agent)
    first = await db(Visitor.objects.create)
    second = await db(Visitor.objects.create)
    _s1, ack1 = await start_conversation(live, sales, first)
    _s2, ack2 = await start_conversation(live, sales, second, body="Me too")
    seen = set()
    while len(seen) < 2:
        seen.add((await ann.until("conversation"))["conversation"]["id"])
    assert seen == {ack1["message"]["conversation"], ack2["message"]["conversation"]}
    assert await bob.barrier() == []


# == not_found and forbidden ===========================================================


AGENT_FRAMES = [
    {"type": "open"},
    {"type": "message", "id": "named-0001", "body": "Hi", "note": False},
    {"type": "typing", "on": True},
    {"type": "assign", "user": None},
    {"type": "close"},
    {"type": "reopen"},
    {"type": "read", "seq": 1},
]


async def test_frames_naming_a_conversation_not_found_or_forbidden(live, sales, support, visitor):
    _vsock, ack = await start_conversation(live, sales, visitor)
    theirs = ack["message"]["conversation"]
    bob, _ = await live.agent(support.agent)
    for frame in AGENT_FRAMES:
        for pk, code in ((2_000_000, "not_found"), (theirs, "forbidden")):
            await bob.send({**frame, "conversation": pk})
            answer = await bob.recv()
            assert_error(answer, code, frame.get("id"))
    assert await bob.barrier() == []


async def test_leaving_a_conversation_not_opened_is_a_no_op(live, sales):
    ann, _ = await live.agent(sales.agent)
    await ann.send({"type": "leave", "conversation": 2_000_000})
    assert await ann.barrier() == []


# == Error codes =======================================================================


async def test_bad_frames(live, sales, visitor):
    vsock, _ack = await start_conversation(live, sales, visitor)
    ann, _ = await live.agent(sales.agent)
    bad = [
        "not json",
        "[1, 2]",
        "42",
        '"text"',
        "{}",
        '{"type": "nonsense"}',
        '{"type": 7}',
    ]
    for sock, extra in (
        (
            vsock,
            [
                '{"type": "typing", "on": "yes"}',
                '{"type": "read"}',
                '{"type": "hello", "after": -1}',
            ],
        ),
        (
            ann,
            [
                '{"type": "open"}',
                '{"type": "open", "conversation": "one"}',
                '{"type": "read", "conversation": 1}',
            ],
        ),
    ):
        for text in bad + extra:
            await sock.send(text)
            assert_error(await sock.recv(), "bad_frame")
        assert await sock.barrier() == []  # an error never closes the socket


# A lone surrogate escaped in the JSON text: valid UTF-8 on the wire.
SURROGATE = "a \\ud800 b"


async def test_unpaired_surrogates_in_a_message_are_bad_frames(live, sales, visitor):
    vsock, ack = await start_conversation(live, sales, visitor)
    pk = ack["message"]["conversation"]
    ann, _ = await live.agent(sales.agent)
    for sock, conversation in ((vsock, ""), (ann, f', "conversation": {pk}')):
        await sock.send(
            f'{{"type": "message", "id": "surrogate-01", "body": "{SURROGATE}"{conversation}}}'
        )
        assert_error(await sock.recv(), "bad_frame", "surrogate-01")
        assert await sock.barrier() == []  # and the socket stays open
    assert await db(Message.objects.count) == 1


async def test_unpaired_surrogates_in_a_page_title_are_bad_frames(live, sales, visitor):
    vsock, _ack = await start_conversation(live, sales, visitor)
    await vsock.send(
        f'{{"type": "page", "url": "http://127.0.0.1/", "title": "{SURROGATE}", "id": null}}'
    )
    assert_error(await vsock.recv(), "bad_frame")
    assert await vsock.barrier() == []


async def test_a_missing_field_is_a_bad_frame(live, sales, visitor):
    """Only the fields the doc marks optional may be left out (note,
    subscribe and consent read as false; hello's after, chatflow and page,
    open's after)."""
    vsock, ack = await start_conversation(live, sales, visitor)
    pk = ack["message"]["conversation"]
    ann, _ = await live.agent(sales.agent)
    frames = [
        (ann, {"type": "availability"}),
        (ann, {"type": "assign", "conversation": pk}),
        (ann, {"type": "typing", "conversation": pk}),
        (vsock, {"type": "typing"}),
    ]
    accepted = []
    for sock, frame in frames:
        await sock.send(frame)
        answers = [f for f in await sock.barrier() if f["type"] not in ("conversation", "message")]
        if not answers or answers[0].get("code") != "bad_frame":
            accepted.append((frame, answers))
    assert accepted == []


async def test_too_long_fields(live, sales, visitor):
    vsock, _ack = await start_conversation(live, sales, visitor)
    await vsock.send(
        {"type": "page", "url": "http://127.0.0.1/" + "x" * 2048, "title": "", "id": None}
    )
    assert_error(await vsock.recv(), "too_long")
    await vsock.send({"type": "page", "url": "http://127.0.0.1/", "title": "t" * 256, "id": None})
    assert_error(await vsock.recv(), "too_long")
    assert await vsock.barrier() == []


async def test_visitor_past_the_message_rate_is_refused_then_closed_4008(live, sales, visitor):
    sock, _welcome = await live.visitor(visitor, sales.chatflow)
    ids = [f"rate-{i:04}" for i in range(3 * MESSAGES_PER_MINUTE + 1)]
    for frame_id in ids:
        await sock.send({"type": "message", "id": frame_id, "body": "spam"})
    code, frames = await sock.close_code()
    answers = [(f["type"], f.get("code")) for f in frames]
    assert answers[:MESSAGES_PER_MINUTE] == [("ack", None)] * MESSAGES_PER_MINUTE
    refusals = answers[MESSAGES_PER_MINUTE:]
    assert refusals and set(refusals) == {("error", "rate_limited")}
    assert all(f["id"] == i for f, i in zip(frames, ids, strict=False))
    assert code == 4008
    # A resend of an acknowledged message is no new message: never throttled.
    sock2, _welcome = await live.visitor(visitor, sales.chatflow)
    assert (await say(sock2, "spam", ids[0]))["type"] == "ack"
    assert await db(Message.objects.count) == MESSAGES_PER_MINUTE


async def test_a_socket_past_its_frame_budget_is_refused_then_closed_4008(live):
    # The budget is counted per clock minute (this machine's monotonic clock,
    # which the server reads too): start well inside one.
    left = 60 - time.monotonic() % 60
    if left < 5:
        await asyncio.sleep(left + 0.1)
    sock = await live.open(VISITOR)
    for _ in range(2 * FRAME_BUDGET + 1):
        await sock.send('{"type": "ping"}')
    code, frames = await sock.close_code()
    assert frames[:FRAME_BUDGET] == [{"type": "pong"}] * FRAME_BUDGET
    assert len(frames) == 2 * FRAME_BUDGET
    for frame in frames[FRAME_BUDGET:]:
        assert_error(frame, "rate_limited")
    assert code == 4008


async def test_a_frame_too_large_or_binary_closes_4009(live, sales):
    def ping(size):
        """A ping frame of ``size`` bytes."""
        head, tail = '{"type": "ping", "pad": "', '"}'
        return head + "x" * (size - len(head) - len(tail)) + tail

    sock = await live.open(VISITOR)
    await sock.send(ping(MAX_FRAME_BYTES))  # the largest frame accepted
    assert await sock.recv() == {"type": "pong"}
    await sock.send(ping(MAX_FRAME_BYTES + 1))
    assert await sock.close_code() == (4009, [])

    sock = await live.open(AGENT, cookie=await db(session_cookie, sales.agent))
    await sock.send(b'{"type": "hello"}')
    assert await sock.close_code() == (4009, [])


async def test_a_full_server_answers_busy_and_closes_4013_or_4029(servers):
    small = servers.small  # at most 2 sockets, 1 per client address
    opened = []
    try:
        first = await open_socket(small, VISITOR, source="127.0.0.1")
        opened.append(first)
        assert await first.barrier() == []
        # The same client address again: 4029.
        again = await open_socket(small, VISITOR, source="127.0.0.1")
        opened.append(again)
        assert await again.close_code() == (4029, [{"type": "busy"}])
        second = await open_socket(small, VISITOR, source="127.0.0.2")
        opened.append(second)
        assert await second.barrier() == []
        # The process is full: 4013, whoever asks.
        third = await open_socket(small, AGENT, source="127.0.0.3")
        opened.append(third)
        assert await third.close_code() == (4013, [{"type": "busy"}])
    finally:
        for sock in opened:
            await sock.close()
