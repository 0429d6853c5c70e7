"""The ``label`` frame and the visitor's context over the websockets:
labels fan out to the inbox's agents and are refused to others; the
visitor's browser, time zone and pages are stored from their first message
on, never before."""

import pytest

from tests.livechat_factories import add_members, make_agent, make_chatflow, make_inbox
from tests.sockets import agent_socket, connect, db, receive_until
from wagtail_livechat import identity
from wagtail_livechat.models import Conversation, ConversationLabel, Visitor

pytestmark = [pytest.mark.django_db(transaction=True)]

FIREFOX = b"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0"


@pytest.fixture
def setup(db):
    agent = make_agent("alex", first_name="Alex")
    inbox = make_inbox(members=[agent])
    return agent, inbox, make_chatflow(inbox), Visitor.objects.create()


async def visitor_socket(visitor, chatflow, url="http://testserver/pricing/"):
    cookie = f"livechat_visitor={identity.sign(visitor.key)}" if visitor else None
    ws, connected, _ = await connect(
        "/ws/livechat/visitor/", cookie, headers=[(b"user-agent", FIREFOX)]
    )
    assert connected
    page = {"url": url, "title": "Pricing", "id": None}
    await ws.send_json_to({"type": "hello", "after": 0, "chatflow": chatflow.pk, "page": page})
    assert (await ws.receive_json_from())["type"] == "welcome"
    return ws


async def started(setup, tz="Europe/Amsterdam"):
    _agent, _inbox, chatflow, visitor = setup
    ws = await visitor_socket(visitor, chatflow)
    await ws.send_json_to({"type": "message", "id": "client-0001", "body": "Hi", "tz": tz})
    await receive_until(ws, "ack")
    return ws, await db(Conversation.objects.get)


# -- Labels ---------------------------------------------------------------------


async def test_labels_fan_out_to_the_inboxs_agents(setup):
    agent, inbox, _chatflow, _visitor = setup
    colleague = await db(make_agent, "sam")
    await db(add_members, inbox, colleague)
    ws, conversation = await started(setup)
    a, _ = await agent_socket(agent)
    b, _ = await agent_socket(colleague)
    frame = {
        "type": "label",
        "conversation": conversation.pk,
        "label": " VIP  Customer",
        "add": True,
    }
    await a.send_json_to(frame)
    answer, _ = await receive_until(a, "conversation")
    assert answer["conversation"]["labels"] == ["vip customer"]
    told, _ = await receive_until(b, "conversation")
    assert told["conversation"]["id"] == conversation.pk
    assert told["conversation"]["labels"] == ["vip customer"]
    await b.send_json_to({**frame, "label": "vip customer", "add": False})
    answer, _ = await receive_until(b, "conversation")
    assert answer["conversation"]["labels"] == []
    assert await db(ConversationLabel.objects.count) == 0
    # The visitor hears nothing of labels.
    await ws.send_json_to({"type": "ping"})
    _pong, others = await receive_until(ws, "pong")
    assert others == []
    for socket in (ws, a, b):
        await socket.disconnect()


async def test_an_agent_of_another_inbox_may_not_label(setup):
    ws, conversation = await started(setup)
    outsider = await db(make_agent, "bea")
    await db(make_inbox, "Support", members=[outsider])
    bea, _ = await agent_socket(outsider)
    await bea.send_json_to(
        {"type": "label", "conversation": conversation.pk, "label": "mine", "add": True}
    )
    error = await bea.receive_json_from()
    assert error["type"] == "error" and error["code"] == "forbidden"
    assert await db(ConversationLabel.objects.count) == 0
    await ws.disconnect()
    await bea.disconnect()


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ({"label": "x", "add": "yes"}, "bad_frame"),
        ({"label": 42, "add": True}, "bad_frame"),
        ({"add": True}, "bad_frame"),
        ({"label": "   ", "add": True}, "bad_frame"),
        ({"label": "x" * 41, "add": True}, "too_long"),
        ({"label": "x" * 101, "add": True}, "too_long"),
        ({"label": "a\x00b", "add": True}, "bad_frame"),
    ],
)
async def test_bad_label_frames_get_clear_errors(setup, frame, code):
    agent, *_ = setup
    ws, conversation = await started(setup)
    a, _ = await agent_socket(agent)
    await a.send_json_to({"type": "label", "conversation": conversation.pk, **frame})
    error = await a.receive_json_from()
    assert error["type"] == "error" and error["code"] == code, error
    await ws.disconnect()
    await a.disconnect()


# -- Visitor context ------------------------------------------------------------


async def test_the_context_is_stored_when_the_conversation_starts(setup):
    agent, _inbox, _chatflow, _visitor = setup
    ws, conversation = await started(setup)
    assert (conversation.browser, conversation.os, conversation.device) == (
        "Firefox 121",
        "Windows 10",
        "desktop",
    )
    assert conversation.time_zone == "Europe/Amsterdam"
    assert [p["url"] for p in conversation.pages] == ["http://testserver/pricing/"]
    # Later messages change none of it.
    await ws.send_json_to({"type": "message", "id": "client-0002", "body": "!", "tz": "Asia/Tokyo"})
    await receive_until(ws, "ack")
    await db(conversation.refresh_from_db)
    assert conversation.time_zone == "Europe/Amsterdam"
    # The agent opening it gets it.
    a, _ = await agent_socket(agent)
    await a.send_json_to({"type": "open", "conversation": conversation.pk})
    history, _ = await receive_until(a, "history")
    visitor = history["context"]["visitor"]
    assert visitor["browser"] == "Firefox 121" and visitor["time_zone"] == "Europe/Amsterdam"
    assert visitor["pages"][0]["title"] == "Pricing"
    await ws.disconnect()
    await a.disconnect()


async def test_nothing_is_stored_before_the_visitor_chats(setup):
    _agent, _inbox, chatflow, _visitor = setup
    ws = await visitor_socket(None, chatflow)  # no identity yet: the widget was only opened
    await ws.send_json_to({"type": "page", "url": "http://testserver/about/", "title": "About"})
    await ws.send_json_to({"type": "ping"})
    await receive_until(ws, "pong")
    assert await db(Conversation.objects.count) == 0
    assert await db(lambda: Visitor.objects.exclude(page_url="").count()) == 0
    await ws.disconnect()


@pytest.mark.parametrize("tz", ["Not/AZone", "../../etc/passwd", "", None])
async def test_an_unknown_time_zone_is_ignored(setup, tz):
    ws, conversation = await started(setup, tz=tz)
    assert conversation.time_zone == ""
    await ws.disconnect()


async def test_a_time_zone_that_is_no_text_is_refused(setup):
    _agent, _inbox, chatflow, visitor = setup
    ws = await visitor_socket(visitor, chatflow)
    await ws.send_json_to({"type": "message", "id": "client-0001", "body": "Hi", "tz": 1})
    error = await ws.receive_json_from()
    assert error["code"] == "bad_frame" and error["id"] == "client-0001"
    await ws.send_json_to({"type": "message", "id": "client-0002", "body": "Hi", "tz": "x" * 65})
    error = await ws.receive_json_from()
    assert error["code"] == "too_long"
    await ws.disconnect()


async def test_pages_visited_while_open_reach_the_agent_and_are_bounded(setup):
    agent, *_ = setup
    ws, conversation = await started(setup)
    a, _ = await agent_socket(agent)
    await a.send_json_to({"type": "open", "conversation": conversation.pk})
    await receive_until(a, "history")
    await ws.send_json_to({"type": "page", "url": "http://testserver/about/", "title": "About"})
    frame, _ = await receive_until(a, "visitor_page")
    assert frame["visit"]["url"] == "http://testserver/about/"
    assert frame["visit"]["title"] == "About" and frame["visit"]["at"]
    # The same page again (a reload, a reconnect) is no new visit.
    await ws.send_json_to({"type": "page", "url": "http://testserver/about/", "title": "About"})
    frame, _ = await receive_until(a, "visitor_page")
    assert "visit" not in frame
    for i in range(25):
        await ws.send_json_to({"type": "page", "url": f"http://testserver/p{i}/", "title": ""})
        await receive_until(a, "visitor_page")
    await db(conversation.refresh_from_db)
    assert len(conversation.pages) == 20
    assert conversation.pages[-1]["url"] == "http://testserver/p24/"
    # A closed conversation keeps what it had.
    await db(Conversation.objects.filter(pk=conversation.pk).update, status="closed")
    await ws.send_json_to({"type": "page", "url": "http://testserver/later/", "title": ""})
    await ws.send_json_to({"type": "ping"})
    await receive_until(ws, "pong")
    await db(conversation.refresh_from_db)
    assert conversation.pages[-1]["url"] == "http://testserver/p24/"
    await ws.disconnect()
    await a.disconnect()
