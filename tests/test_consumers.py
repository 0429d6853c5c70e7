"""The websocket protocol, end to end through the ASGI stack (origin check,
auth, routing) with Channels' WebsocketCommunicator."""

import asyncio
import json
import re
import time
from unittest import mock

import pytest
from django.core import mail
from django.test import override_settings
from wagtail.models import Locale, Page, Site

from tests.livechat_factories import add_members, make_agent, make_chatflow, make_inbox
from tests.sockets import (
    agent_socket,
    connect,
    db,
    receive_until,
    session_cookie,
    visitor_socket,
)
from wagtail_livechat import service, tasks
from wagtail_livechat.models import Contact, Conversation, Message, Visitor

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture
def setup(db):
    agent = make_agent("alex", first_name="Alex")
    inbox = make_inbox(members=[agent])
    chatflow = make_chatflow(inbox)
    visitor = Visitor.objects.create()
    return agent, inbox, chatflow, visitor


def store_silently(conversation, agent, body):
    """Store an agent message and tell nobody, as if the channel layer lost
    the event."""
    with mock.patch.object(service, "fan_out"):
        service.post_agent_message(
            agent, conversation.pk, client_id=f"quiet-{body[:8]}", body=body, note=False
        )


async def test_visitor_message_reaches_agent_and_is_stored_before_ack(setup):
    agent, inbox, chatflow, visitor = setup
    agent_ws, welcome = await agent_socket(agent)
    assert welcome["inboxes"] == [{"id": inbox.pk, "name": "Sales"}]
    ws, welcome = await visitor_socket(visitor, chatflow)
    assert (
        welcome["visitor"] is True and welcome["conversation"] is None and welcome["online"] is True
    )

    await ws.send_json_to({"type": "message", "id": "client-0001", "body": "Hello <b>there</b>"})
    ack = await ws.receive_json_from()
    assert ack["type"] == "ack" and ack["id"] == "client-0001"
    assert ack["message"]["seq"] == 1 and ack["message"]["body"] == "Hello <b>there</b>"
    stored = await db(lambda: list(Message.objects.values_list("body", "seq", "client_id")))
    assert stored == [("Hello <b>there</b>", 1, "client-0001")]

    update, _ = await receive_until(agent_ws, "conversation")
    assert update["conversation"]["unread"] == 1
    assert update["conversation"]["last_message"] == "Hello <b>there</b>"
    assert update["conversation"]["visitor_page"]["url"] == "http://testserver/pricing/"
    await ws.disconnect()
    await agent_ws.disconnect()


async def test_agent_reply_reaches_visitor_and_notes_do_not(setup):
    agent, inbox, chatflow, visitor = setup
    ws, _ = await visitor_socket(visitor, chatflow)
    await ws.send_json_to({"type": "message", "id": "client-0001", "body": "Hi"})
    await receive_until(ws, "ack")
    conversation = await db(lambda: Conversation.objects.get())

    agent_ws, _ = await agent_socket(agent)
    await agent_ws.send_json_to({"type": "open", "conversation": conversation.pk, "after": 0})
    history, _ = await receive_until(agent_ws, "history")
    assert [m["body"] for m in history["messages"]] == ["Hi"]
    assert history["context"]["page"]["url"] == "http://testserver/pricing/"

    await agent_ws.send_json_to(
        {
            "type": "message",
            "conversation": conversation.pk,
            "id": "agent-note-1",
            "body": "VIP",
            "note": True,
        }
    )
    ack, _ = await receive_until(agent_ws, "ack")
    assert ack["message"]["note"] is True
    await agent_ws.send_json_to(
        {"type": "message", "conversation": conversation.pk, "id": "agent-rep-1", "body": "Hello!"}
    )
    await receive_until(agent_ws, "ack")

    frame, skipped = await receive_until(ws, "message")
    assert frame["message"]["body"] == "Hello!" and frame["message"]["author"] == "agent"
    assert frame["message"]["name"] == "Alex"
    assert all(f.get("message", {}).get("body") != "VIP" for f in skipped)
    conversation = await db(lambda: Conversation.objects.get())
    assert conversation.assignee_id == agent.pk  # answering assigns
    await ws.disconnect()
    await agent_ws.disconnect()


async def test_resend_with_same_client_id_creates_no_duplicate(setup):
    _agent, _inbox, chatflow, visitor = setup
    ws, _ = await visitor_socket(visitor, chatflow)
    await ws.send_json_to({"type": "message", "id": "client-dupe", "body": "Once"})
    first, _ = await receive_until(ws, "ack")
    await ws.disconnect()

    ws, _ = await visitor_socket(visitor, chatflow, after=0)
    await ws.send_json_to({"type": "message", "id": "client-dupe", "body": "Once"})
    second, _ = await receive_until(ws, "ack")
    assert second["message"]["seq"] == first["message"]["seq"]
    assert await db(lambda: Message.objects.count()) == 1
    await ws.disconnect()


async def test_reconnect_resyncs_everything_after_last_seen(setup):
    agent, _inbox, chatflow, visitor = setup
    ws, _ = await visitor_socket(visitor, chatflow)
    for i in range(3):
        await ws.send_json_to({"type": "message", "id": f"client-{i:04}", "body": f"m{i}"})
        await receive_until(ws, "ack")
    await ws.disconnect()
    conversation = await db(lambda: Conversation.objects.get())
    # While the visitor is away, an agent answers twice.

    for i in range(2):
        await db(
            service.post_agent_message,
            agent,
            conversation.pk,
            client_id=f"agent-{i:04}",
            body=f"a{i}",
        )

    ws, welcome = await visitor_socket(visitor, chatflow, after=2)
    assert [(m["seq"], m["body"]) for m in welcome["messages"]] == [(3, "m2"), (4, "a0"), (5, "a1")]
    assert welcome["conversation"]["id"] == conversation.pk
    await ws.disconnect()


async def test_ping_repairs_a_lost_notification(setup):
    agent, _inbox, chatflow, visitor = setup
    ws, _ = await visitor_socket(visitor, chatflow)
    await ws.send_json_to({"type": "message", "id": "client-0001", "body": "Hi"})
    await receive_until(ws, "ack")
    conversation = await db(lambda: Conversation.objects.get())
    # Store an agent message without any notification, as if Redis dropped it.
    await db(store_silently, conversation, agent, "lost?")
    await ws.send_json_to({"type": "ping"})
    frame, _ = await receive_until(ws, "message")
    assert frame["message"]["body"] == "lost?"
    await receive_until(ws, "pong")
    await ws.disconnect()


async def test_a_ping_rejoins_forgotten_groups_when_a_gap_shows_events_were_lost(setup):
    """A restarted Redis forgets every group. The agent's ping rejoins its
    inbox groups every time, and its open conversations' groups (thousands,
    for some agents) only once a gap shows that events went missing."""
    from channels.layers import get_channel_layer

    agent, _inbox, chatflow, visitor = setup
    ws, _ = await visitor_socket(visitor, chatflow)
    await ws.send_json_to({"type": "message", "id": "client-0001", "body": "Hi"})
    await receive_until(ws, "ack")
    conversation = await db(lambda: Conversation.objects.get())
    agent_ws, _ = await agent_socket(agent)
    await agent_ws.send_json_to({"type": "open", "conversation": conversation.pk, "after": 0})
    await receive_until(agent_ws, "history")
    group = service.conversation_group(conversation.pk)
    layer = get_channel_layer()

    # Nothing missed: the ping leaves the conversation's group alone.
    added = []
    real_add = layer.group_add

    async def spy(name, channel):
        added.append(name)
        await real_add(name, channel)

    with mock.patch.object(layer, "group_add", spy):
        await agent_ws.send_json_to({"type": "ping"})
        await receive_until(agent_ws, "pong")
    assert added and group not in added

    # What a restarted Redis does: every group forgotten.
    if hasattr(layer, "groups"):
        layer.groups.clear()  # the in-memory layer
    else:  # channels-redis: its group keys (a flush would drop the sockets' reads too)
        for index in range(layer.ring_size):
            connection = layer.connection(index)
            keys = await connection.keys(layer._group_key("*"))
            if keys:
                await connection.delete(*keys)
    await ws.send_json_to({"type": "message", "id": "client-0002", "body": "Anyone?"})
    await receive_until(ws, "ack")
    assert await agent_ws.receive_nothing(timeout=0.3)
    await agent_ws.send_json_to({"type": "ping"})
    frame, _ = await receive_until(agent_ws, "message")  # the gap, repaired
    assert frame["message"]["body"] == "Anyone?"
    await receive_until(agent_ws, "pong")
    # And the group is joined again: the next message comes live.
    await ws.send_json_to({"type": "message", "id": "client-0003", "body": "Hello?"})
    frame, _ = await receive_until(agent_ws, "message")
    assert frame["message"]["body"] == "Hello?"
    await ws.disconnect()
    await agent_ws.disconnect()


async def test_message_without_identity_is_refused(setup):
    _agent, _inbox, chatflow, _visitor = setup
    ws, welcome = await visitor_socket(None, chatflow)
    assert welcome["visitor"] is False
    await ws.send_json_to({"type": "message", "id": "client-0001", "body": "Hi"})
    error = await ws.receive_json_from()
    assert error == {
        "type": "error",
        "code": "identify",
        "message": error["message"],
        "id": "client-0001",
    }
    assert await db(lambda: Message.objects.count()) == 0
    await ws.disconnect()


async def test_forged_cookie_is_anonymous(setup):
    _agent, _inbox, chatflow, visitor = setup
    ws, connected, _ = await connect(
        "/ws/livechat/visitor/", f"livechat_visitor={visitor.key}:forged"
    )
    await ws.send_json_to({"type": "hello", "chatflow": chatflow.pk})
    welcome = await ws.receive_json_from()
    assert welcome["visitor"] is False
    await ws.disconnect()


async def test_visitor_sees_only_their_own_conversation(setup):
    agent, _inbox, chatflow, visitor = setup
    other = await db(Visitor.objects.create)
    ws, _ = await visitor_socket(visitor, chatflow)
    await ws.send_json_to({"type": "message", "id": "client-mine", "body": "mine"})
    await receive_until(ws, "ack")
    other_ws, welcome = await visitor_socket(other, chatflow)
    assert welcome["conversation"] is None and welcome["messages"] == []
    await other_ws.send_json_to({"type": "message", "id": "client-other", "body": "theirs"})
    ack, _ = await receive_until(other_ws, "ack")
    assert (
        ack["message"]["conversation"]
        != (await db(lambda: Conversation.objects.get(visitor=visitor))).pk
    )
    # The first visitor is told nothing of the other's message.
    assert await ws.receive_nothing(timeout=0.5)
    await ws.disconnect()
    await other_ws.disconnect()


async def test_bad_frames_get_error_frames_not_a_crash(setup):
    _agent, _inbox, chatflow, visitor = setup
    ws, _ = await visitor_socket(visitor, chatflow)
    for text in [
        "nope",
        "[]",
        json.dumps({"type": "assign", "conversation": 1, "user": 1}),
        json.dumps({"type": "message", "id": "client-0001", "body": "x" * 5000}),
    ]:
        await ws.send_to(text_data=text)
        frame = await ws.receive_json_from()
        assert frame["type"] == "error"
    await ws.send_json_to({"type": "ping"})
    assert (await ws.receive_json_from())["type"] == "pong"
    await ws.disconnect()


async def test_oversized_frame_closes_with_4009(setup):
    _agent, _inbox, chatflow, visitor = setup
    ws, _ = await visitor_socket(visitor, chatflow)
    await ws.send_to(text_data="x" * (17 * 1024))
    assert await ws.receive_output() == {"type": "websocket.close", "code": 4009}


@override_settings(WAGTAIL_LIVECHAT_VISITOR_RATE_PER_MINUTE=3)
async def test_visitor_rate_limit(setup):
    _agent, _inbox, chatflow, visitor = setup
    ws, _ = await visitor_socket(visitor, chatflow)
    codes = []
    for i in range(5):
        await ws.send_json_to({"type": "message", "id": f"client-{i:04}", "body": "spam"})
        frame, _ = await receive_until_any(ws, {"ack", "error"})
        codes.append(frame.get("code", "ack"))
    assert codes == ["ack", "ack", "ack", "rate_limited", "rate_limited"]
    assert await db(lambda: Message.objects.count()) == 3
    await ws.disconnect()


async def receive_until_any(ws, kinds):
    others = []
    while True:
        frame = await ws.receive_json_from()
        if frame["type"] in kinds:
            return frame, others
        others.append(frame)


@pytest.mark.parametrize(
    "origin",
    [
        b"http://evil.example",
        b"https://testserver",  # another scheme
        b"http://testserver:9999",  # another port
        b"http://127.0.0.1:8000",  # the site's own, but not the address this socket came to
        b"null",
    ],
)
async def test_foreign_origin_is_refused(setup, origin):
    for path in ("/ws/livechat/visitor/", "/ws/livechat/agent/"):
        _ws, connected, _ = await connect(path, origin=(b"origin", origin))
        assert connected is False, (path, origin)


async def test_the_sites_own_origin_is_allowed_scheme_host_and_port(setup):
    with override_settings(WAGTAIL_LIVECHAT_ALLOWED_ORIGINS=[]):
        headers = [(b"host", b"127.0.0.1:8000")]
        ws, connected, _ = await connect(
            "/ws/livechat/visitor/", origin=(b"origin", b"http://127.0.0.1:8000"), headers=headers
        )
        assert connected
        await ws.disconnect()
        _ws, connected, _ = await connect(
            "/ws/livechat/visitor/", origin=(b"origin", b"http://127.0.0.1:9999"), headers=headers
        )
        assert connected is False


async def test_anonymous_agent_socket_is_closed_4001(setup):
    ws, connected, _ = await connect("/ws/livechat/agent/")
    assert connected
    assert await ws.receive_output() == {"type": "websocket.close", "code": 4001}


async def test_user_without_inbox_is_closed_4003(setup):
    outsider = await db(make_agent, "outsider")
    ws, connected, _ = await connect("/ws/livechat/agent/", await db(session_cookie, outsider))
    assert await ws.receive_output() == {"type": "websocket.close", "code": 4003}


async def test_agent_cannot_reach_another_inbox(setup):
    agent, _inbox, chatflow, visitor = setup
    ws, _ = await visitor_socket(visitor, chatflow)
    await ws.send_json_to({"type": "message", "id": "client-0001", "body": "Hi"})
    await receive_until(ws, "ack")
    conversation = await db(lambda: Conversation.objects.get())
    other = await db(make_agent, "bea")
    await db(make_inbox, "Support", members=[other])
    bea_ws, _ = await agent_socket(other)
    for frame in [
        {"type": "open", "conversation": conversation.pk},
        {"type": "message", "conversation": conversation.pk, "id": "bea-00001", "body": "sneaky"},
        {"type": "assign", "conversation": conversation.pk, "user": other.pk},
        {"type": "close", "conversation": conversation.pk},
        {"type": "typing", "conversation": conversation.pk, "on": True},
    ]:
        await bea_ws.send_json_to(frame)
        error = await bea_ws.receive_json_from()
        assert error["type"] == "error" and error["code"] == "forbidden", frame
    assert await db(lambda: Message.objects.count()) == 1
    await ws.disconnect()
    await bea_ws.disconnect()


async def test_assign_close_reopen_and_visitor_reopens(setup):
    agent, inbox, chatflow, visitor = setup
    colleague = await db(make_agent, "sam")
    await db(add_members, inbox, colleague)
    ws, _ = await visitor_socket(visitor, chatflow)
    await ws.send_json_to({"type": "message", "id": "client-0001", "body": "Hi"})
    await receive_until(ws, "ack")
    conversation = await db(lambda: Conversation.objects.get())
    agent_ws, _ = await agent_socket(agent)

    await agent_ws.send_json_to(
        {"type": "assign", "conversation": conversation.pk, "user": colleague.pk}
    )
    frame, _ = await receive_until(agent_ws, "conversation")
    assert frame["conversation"]["assignee"]["id"] == colleague.pk
    outsider = await db(make_agent, "zed")
    await agent_ws.send_json_to(
        {"type": "assign", "conversation": conversation.pk, "user": outsider.pk}
    )
    error, _ = await receive_until(agent_ws, "error")
    assert error["code"] == "bad_frame"

    await agent_ws.send_json_to({"type": "close", "conversation": conversation.pk})
    frame, _ = await receive_until(agent_ws, "conversation")
    assert frame["conversation"]["status"] == "closed"
    closed, _ = await receive_until(ws, "closed")
    assert closed["conversation"] == conversation.pk

    await ws.send_json_to({"type": "message", "id": "client-0002", "body": "One more thing"})
    await receive_until(ws, "ack")
    assert (await db(lambda: Conversation.objects.get())).status == "open"
    await agent_ws.send_json_to({"type": "close", "conversation": conversation.pk})
    await agent_ws.send_json_to({"type": "reopen", "conversation": conversation.pk})
    frame = None
    while frame is None or frame["conversation"]["status"] != "open":
        frame, _ = await receive_until(agent_ws, "conversation")
    await ws.disconnect()
    await agent_ws.disconnect()


async def test_typing_both_ways_and_viewers(setup):
    agent, inbox, chatflow, visitor = setup
    colleague = await db(make_agent, "sam", first_name="Sam")
    await db(add_members, inbox, colleague)
    ws, _ = await visitor_socket(visitor, chatflow)
    await ws.send_json_to({"type": "message", "id": "client-0001", "body": "Hi"})
    await receive_until(ws, "ack")
    conversation = await db(lambda: Conversation.objects.get())
    a, _ = await agent_socket(agent)
    b, _ = await agent_socket(colleague)
    await a.send_json_to({"type": "open", "conversation": conversation.pk})
    await receive_until(a, "history")
    assert (await receive_until(a, "viewers"))[0]["viewers"] == []
    await b.send_json_to({"type": "open", "conversation": conversation.pk})
    await receive_until(b, "history")
    assert (await receive_until(b, "viewers"))[0]["viewers"] == []
    viewers, _ = await receive_until(a, "viewers")
    assert {v["id"] for v in viewers["viewers"]} == {colleague.pk}
    viewers, _ = await receive_until(b, "viewers")  # a answered b's join
    assert {v["id"] for v in viewers["viewers"]} == {agent.pk}

    await ws.send_json_to({"type": "typing", "on": True})
    typing, _ = await receive_until(a, "typing")
    assert typing == {
        "type": "typing",
        "conversation": conversation.pk,
        "who": "visitor",
        "on": True,
    }
    await a.send_json_to({"type": "typing", "conversation": conversation.pk, "on": True})
    typing, _ = await receive_until(ws, "typing")
    assert typing["who"] == "agent" and typing["on"] is True

    await b.send_json_to({"type": "leave", "conversation": conversation.pk})
    viewers, _ = await receive_until(a, "viewers")
    assert viewers["viewers"] == []
    for socket in (ws, a, b):
        await socket.disconnect()


def site_home():
    """A home page served at / (transactional tests flush what migrations made)."""
    Locale.objects.get_or_create(language_code="en")
    root = Page.get_first_root_node() or Page.add_root(instance=Page(title="Root", slug="root"))
    home = root.add_child(instance=Page(title="Home", slug="home"))
    Site.objects.create(hostname="testserver", root_page=home, is_default_site=True)
    return home


async def test_visitor_page_updates_reach_agent_live(setup):
    agent, _inbox, chatflow, visitor = setup
    ws, _ = await visitor_socket(visitor, chatflow)
    await ws.send_json_to({"type": "message", "id": "client-0001", "body": "Hi"})
    await receive_until(ws, "ack")
    conversation = await db(lambda: Conversation.objects.get())
    a, _ = await agent_socket(agent)
    await a.send_json_to({"type": "open", "conversation": conversation.pk})
    await receive_until(a, "history")
    home = await db(site_home)
    await ws.send_json_to(
        {"type": "page", "url": "http://testserver/", "title": "Home", "id": home.pk}
    )
    frame, _ = await receive_until(a, "visitor_page")
    assert frame["page"]["url"] == "http://testserver/"
    assert frame["page"]["edit_url"] == f"/admin/pages/{home.pk}/edit/"
    # A page id that is not the page at that URL gets no edit link.
    await ws.send_json_to(
        {
            "type": "page",
            "url": "http://testserver/help/billing/",
            "title": "Billing",
            "id": home.pk,
        }
    )
    frame, _ = await receive_until(a, "visitor_page")
    assert frame["page"]["url"] == "http://testserver/help/billing/"
    assert frame["page"]["edit_url"] is None
    await ws.disconnect()
    await a.disconnect()


async def test_agents_viewing_get_the_new_context_when_the_visitor_leaves_an_email(setup):
    agent, inbox, _chatflow, visitor = setup
    chatflow = await db(make_chatflow, inbox, "Consent", data_consent="explicit")
    ws, _ = await visitor_socket(visitor, chatflow)
    await ws.send_json_to({"type": "message", "id": "client-0001", "body": "Hi"})
    await receive_until(ws, "ack")
    conversation = await db(lambda: Conversation.objects.get())
    a, _ = await agent_socket(agent)
    await a.send_json_to({"type": "open", "conversation": conversation.pk})
    await receive_until(a, "history")
    viewers, _ = await receive_until(a, "viewers")
    assert viewers["viewers"] == []  # alone, and told so at once
    await ws.send_json_to({"type": "email", "email": "ann@example.com", "consent": True})
    frame, _ = await receive_until(a, "context")
    contact = frame["context"]["contact"]
    assert contact["email"] == "ann@example.com"
    # Until the visitor follows the mailed link, the address and the consent
    # given with it are theirs only by their word.
    assert contact["confirmed"] is False and contact["data_consent"] is False
    assert contact["unconfirmed_consents"] == ["data"]
    await ws.disconnect()
    await a.disconnect()


async def test_agent_follows_inboxes_joined_while_connected(setup):
    agent, _inbox, chatflow, visitor = setup
    other = await db(make_inbox, "Support")
    other_chatflow = await db(make_chatflow, other, "Support chat")
    a, _ = await agent_socket(agent)
    await db(add_members, other, agent)
    await a.send_json_to({"type": "ping"})
    await receive_until(a, "pong")
    ws, _ = await visitor_socket(visitor, other_chatflow)
    await ws.send_json_to({"type": "message", "id": "client-0001", "body": "Support?"})
    update, _ = await receive_until(a, "conversation")
    assert update["conversation"]["inbox"] == other.pk
    await ws.disconnect()
    await a.disconnect()


def confirm_from_mail(message):
    """Follow the link of a confirmation mail as the visitor would: open
    it, then press the button."""
    from django.test import Client

    path = re.search(r"https?://[^/\s]+(/livechat/confirm/[^\s]+/)", message.body)[1]
    client = Client()
    assert client.get(path).status_code == 200  # only a button: scanners confirm nothing
    return client.post(path)


async def test_email_capture_confirmation_consent_and_transcript(setup):
    agent, inbox, _chatflow, visitor = setup
    chatflow = await db(make_chatflow, inbox, "Consent", data_consent="explicit")
    agent_ws, _ = await agent_socket(agent)  # online: no mail to the agents
    ws, _ = await visitor_socket(visitor, chatflow)
    await ws.send_json_to({"type": "email", "email": "not-an-email"})
    error = await ws.receive_json_from()
    assert error["code"] == "invalid_email"
    await ws.send_json_to({"type": "transcript"})
    assert (await ws.receive_json_from())["code"] == "no_email"
    await ws.send_json_to({"type": "email", "email": "Ann@Example.com", "consent": True})
    contact = await ws.receive_json_from()
    assert contact == {"type": "contact", "email": "ann@example.com", "confirmed": False}
    stored = await db(lambda: Contact.objects.get())
    # A typed address proves nothing: the consent waits, as unconfirmed.
    assert stored.data_consent_at is None and stored.email_confirmed_at is None
    assert "data" in (await db(lambda: Visitor.objects.get(pk=visitor.pk).pending_consents))

    await ws.send_json_to({"type": "message", "id": "client-0001", "body": "Question <i>?</i>"})
    await receive_until(ws, "ack")
    await ws.send_json_to({"type": "transcript"})
    assert (await ws.receive_json_from())["code"] == "unconfirmed"
    await db(tasks.drain)  # mail is side work, off the socket's thread
    (confirmation,) = mail.outbox
    assert confirmation.to == ["ann@example.com"]
    assert "Question" not in confirmation.body  # nothing the visitor wrote

    assert (await db(confirm_from_mail, confirmation)).status_code == 200
    stored = await db(lambda: Contact.objects.get())
    assert stored.email_confirmed_at is not None and stored.data_consent_at is not None
    await ws.send_json_to({"type": "transcript"})
    assert (frame := await ws.receive_json_from())["type"] == "transcript_sent", frame
    await db(tasks.drain)
    assert mail.outbox[-1].to == ["ann@example.com"]
    assert "Question <i>?</i>" in mail.outbox[-1].body
    await ws.disconnect()
    await agent_ws.disconnect()


async def test_many_visitors_giving_one_address_send_it_three_mails_at_most(setup):
    agent, _inbox, chatflow, _visitor = setup
    agent_ws, _ = await agent_socket(agent)  # online: no mail to the agents
    for i in range(20):
        visitor = await db(Visitor.objects.create)
        ws, _ = await visitor_socket(visitor, chatflow)
        await ws.send_json_to({"type": "message", "id": f"client-{i:04}", "body": "spam"})
        await receive_until(ws, "ack")
        await ws.send_json_to({"type": "email", "email": "victim@example.net"})
        await receive_until(ws, "contact")
        await ws.send_json_to({"type": "transcript"})
        assert (await ws.receive_json_from())["code"] == "unconfirmed"
        await ws.disconnect()
    await db(tasks.drain)
    assert len(mail.outbox) == 3
    assert all("spam" not in m.body for m in mail.outbox)
    await agent_ws.disconnect()


def test_a_forged_or_stale_confirmation_link_confirms_nothing(client, db):
    from wagtail_livechat import identity

    contact = Contact.objects.create(email="a@example.com")
    visitor = Visitor.objects.create(contact=contact)
    token = identity.confirmation_token(visitor.pk, contact.pk)
    assert client.post(f"/livechat/confirm/{token[:-2]}xx/").status_code == 400
    other = Visitor.objects.create()
    forged = identity.confirmation_token(other.pk, contact.pk)  # not this contact's visitor
    assert client.post(f"/livechat/confirm/{forged}/").status_code == 200
    other.refresh_from_db()
    assert other.contact_confirmed_at is None
    with mock.patch("django.core.signing.time.time", return_value=time.time() + 4 * 86400):
        assert client.post(f"/livechat/confirm/{token}/").status_code == 400
    visitor.refresh_from_db()
    assert visitor.contact_confirmed_at is None


async def test_offline_message_is_stored_and_emails_members(setup):
    agent, inbox, chatflow, visitor = setup

    await db(service.set_availability, agent, False)
    ws, welcome = await visitor_socket(visitor, chatflow)
    assert welcome["online"] is False
    await ws.send_json_to({"type": "message", "id": "client-0001", "body": "Anyone?"})
    await receive_until(ws, "ack")
    assert await db(lambda: Message.objects.filter(body="Anyone?").exists())
    await db(tasks.drain)
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [agent.email]
    assert "Anyone?" in mail.outbox[0].body
    # A second message soon after does not email again.
    await ws.send_json_to({"type": "message", "id": "client-0002", "body": "Hello?"})
    await receive_until(ws, "ack")
    await db(tasks.drain)
    assert len(mail.outbox) == 1
    await ws.disconnect()


async def test_auto_assignment_round_robin(setup):
    agent, inbox, _chatflow, _visitor = setup
    sam = await db(make_agent, "sam")
    kim = await db(make_agent, "kim")
    await db(add_members, inbox, sam, kim)

    await db(service.set_availability, kim, False)
    chatflow = await db(make_chatflow, inbox, "Assigned", auto_assign=True)
    assignees = []
    for i in range(4):
        visitor = await db(Visitor.objects.create)
        message, _ = await db(
            service.post_visitor_message,
            visitor,
            client_id=f"client-rr-{i}",
            body="hi",
            chatflow_id=chatflow.pk,
        )
        assignees.append(
            await db(lambda m=message: Conversation.objects.get(pk=m.conversation_id).assignee_id)
        )
    first, second = sorted([agent.pk, sam.pk])
    assert assignees == [first, second, first, second]


async def test_read_frames_move_the_read_markers(setup):
    agent, inbox, chatflow, visitor = setup
    ws, _ = await visitor_socket(visitor, chatflow)
    for i in range(2):
        await ws.send_json_to({"type": "message", "id": f"client-{i:04}", "body": f"m{i}"})
        await receive_until(ws, "ack")
    conversation = await db(lambda: Conversation.objects.get())
    a, _ = await agent_socket(agent)

    def read(seq):
        return a.send_json_to({"type": "read", "conversation": conversation.pk, "seq": seq})

    await read(1)
    frame, _ = await receive_until(a, "conversation")
    # Only the unread count travels, not a second summary.
    assert frame["conversation"] == {"id": conversation.pk, "inbox": inbox.pk, "unread": 1}
    # Reads are coalesced: two in a row make one write and one summary; a
    # read marker never goes past the last message.
    await read(2)
    await read(99)
    frame, _ = await receive_until(a, "conversation")
    assert frame["conversation"]["unread"] == 0
    assert (await db(lambda: Conversation.objects.get())).agent_read_seq == 2
    # Nor backwards (pending reads are written when the socket closes).
    await read(1)
    await a.disconnect()
    assert (await db(lambda: Conversation.objects.get())).agent_read_seq == 2

    await ws.send_json_to({"type": "read", "seq": 2})
    await ws.send_json_to({"type": "ping"})
    await receive_until(ws, "pong")
    assert (await db(lambda: Conversation.objects.get())).visitor_read_seq == 2
    await ws.disconnect()


async def test_availability_frame_switches_the_widget_offline(setup):
    agent, _inbox, chatflow, visitor = setup
    a, welcome = await agent_socket(agent)
    assert welcome["available"] is True
    await a.send_json_to({"type": "availability", "available": False})
    assert await a.receive_json_from() == {"type": "availability", "available": False}
    ws, welcome = await visitor_socket(visitor, chatflow)
    assert welcome["online"] is False
    await a.send_json_to({"type": "availability", "available": True})
    await receive_until(a, "availability")
    await ws.disconnect()
    ws, welcome = await visitor_socket(visitor, chatflow)
    assert welcome["online"] is True
    await ws.disconnect()
    await a.disconnect()


async def test_consent_is_recorded_only_where_it_was_asked(setup):
    _agent, _inbox, chatflow, visitor = setup  # data_consent "off"
    ws, _ = await visitor_socket(visitor, chatflow)
    await ws.send_json_to({"type": "email", "email": "bo@example.com", "consent": True})
    await receive_until(ws, "contact")
    assert (await db(lambda: Contact.objects.get())).data_consent_at is None
    await ws.disconnect()


async def test_transcripts_are_throttled(setup):
    agent, _inbox, chatflow, visitor = setup
    agent_ws, _ = await agent_socket(agent)  # online: no mail to the agents
    ws, _ = await visitor_socket(visitor, chatflow)
    await ws.send_json_to({"type": "email", "email": "cy@example.com"})
    await receive_until(ws, "contact")
    contact = await db(lambda: Contact.objects.get())
    await db(service.confirm_email, visitor.pk, contact.pk)
    await ws.send_json_to({"type": "message", "id": "client-0001", "body": "Hi"})
    await receive_until(ws, "ack")
    replies = []
    for _ in range(4):
        await ws.send_json_to({"type": "transcript"})
        frame = await ws.receive_json_from()
        replies.append(frame.get("code", frame["type"]))
    assert replies == ["transcript_sent", "transcript_sent", "rate_limited", "rate_limited"]
    await db(tasks.drain)
    assert len(mail.outbox) == 3  # the confirmation and two transcripts
    await ws.disconnect()
    await agent_ws.disconnect()


async def test_deeply_nested_frame_is_a_bad_frame(setup):
    _agent, _inbox, chatflow, visitor = setup
    ws, _ = await visitor_socket(visitor, chatflow)
    await ws.send_to(text_data="[" * 5000)
    assert (await ws.receive_json_from())["code"] == "bad_frame"
    await ws.disconnect()


async def test_ack_comes_after_earlier_messages(setup):
    """A client raises its last seen seq from an ack, so everything before
    the acknowledged message must have reached it first."""
    agent, _inbox, chatflow, visitor = setup
    ws, _ = await visitor_socket(visitor, chatflow)
    await ws.send_json_to({"type": "message", "id": "client-0001", "body": "Hi"})
    await receive_until(ws, "ack")
    conversation = await db(lambda: Conversation.objects.get())
    await db(store_silently, conversation, agent, "unnotified")
    await ws.send_json_to({"type": "message", "id": "client-0002", "body": "Again"})
    first = await ws.receive_json_from()
    second = await ws.receive_json_from()
    assert (first["type"], first["message"]["seq"]) == ("message", 2)
    assert (second["type"], second["message"]["seq"]) == ("ack", 3)
    await ws.disconnect()


async def test_deactivated_agent_is_disconnected_at_the_next_ping(setup):
    agent, _inbox, _chatflow, _visitor = setup
    a, _ = await agent_socket(agent)
    await db(lambda: type(agent).objects.filter(pk=agent.pk).update(is_active=False))
    await a.send_json_to({"type": "ping"})
    assert await a.receive_output() == {"type": "websocket.close", "code": 4003}


async def test_a_socket_flooding_frames_is_refused_then_closed(setup, monkeypatch):
    from wagtail_livechat.consumers import VisitorConsumer

    monkeypatch.setattr(VisitorConsumer, "frame_budget", 3)
    _agent, _inbox, chatflow, visitor = setup
    ws, _ = await visitor_socket(visitor, chatflow)  # the hello was frame 1
    for _ in range(2):
        await ws.send_json_to({"type": "ping"})
        assert (await ws.receive_json_from())["type"] == "pong"
    await ws.send_json_to({"type": "ping"})
    assert (await ws.receive_json_from())["code"] == "rate_limited"
    for _ in range(3):
        await ws.send_json_to({"type": "ping"})
    frames = [await ws.receive_output() for _ in range(3)]
    assert frames[-1] == {"type": "websocket.close", "code": 4008}


@override_settings(ALLOWED_HOSTS=["testserver"])
async def test_pages_of_other_sites_are_not_recorded(setup):
    _agent, _inbox, chatflow, visitor = setup
    ws, _ = await visitor_socket(visitor, chatflow)  # hello: http://testserver/pricing/
    await ws.send_json_to({"type": "page", "url": "https://evil.example/login", "title": "Log in"})
    await ws.send_json_to({"type": "ping"})
    await receive_until(ws, "pong")
    stored = await db(lambda: Visitor.objects.values_list("page_url", flat=True).get(pk=visitor.pk))
    assert stored == "http://testserver/pricing/"
    await ws.disconnect()


async def test_past_the_ceiling_a_new_socket_is_told_busy(setup):
    """A process full of sockets answers a clean "busy" (and 4013) instead
    of slowing everyone down."""
    from wagtail_livechat.consumers import LivechatConsumer

    _agent, _inbox, chatflow, visitor = setup
    with override_settings(WAGTAIL_LIVECHAT_MAX_SOCKETS=LivechatConsumer.open_sockets + 1):
        first, _ = await visitor_socket(visitor, chatflow)
        second, connected, _ = await connect("/ws/livechat/visitor/")
        assert connected
        assert await second.receive_json_from() == {"type": "busy"}
        assert await second.receive_output() == {"type": "websocket.close", "code": 4013}
        await first.disconnect()
        # A place freed: the next one is welcome.
        third, _ = await visitor_socket(visitor, chatflow)
        await third.disconnect()


async def test_one_client_address_holds_a_bounded_number_of_sockets(setup):
    with override_settings(
        WAGTAIL_LIVECHAT_MAX_SOCKETS_PER_CLIENT=2, WAGTAIL_LIVECHAT_TRUSTED_PROXIES=["10.0.0.0/8"]
    ):
        behind_proxy = [(b"x-forwarded-for", b"198.51.100.1")]
        held = [
            (await connect("/ws/livechat/visitor/", headers=behind_proxy, client=("10.0.0.2", 1)))[
                0
            ]
            for _ in range(2)
        ]
        third, connected, _ = await connect(
            "/ws/livechat/visitor/", headers=behind_proxy, client=("10.0.0.2", 1)
        )
        assert connected
        assert await third.receive_json_from() == {"type": "busy"}
        assert await third.receive_output() == {"type": "websocket.close", "code": 4029}
        # Another visitor behind the same proxy is not held back.
        other, connected, _ = await connect(
            "/ws/livechat/visitor/",
            headers=[(b"x-forwarded-for", b"198.51.100.2")],
            client=("10.0.0.2", 1),
        )
        assert connected
        await other.send_json_to({"type": "ping"})
        assert (await other.receive_json_from())["type"] == "pong"
        for ws in [*held, other]:
            await ws.disconnect()


async def test_the_confirmation_mail_speaks_the_chatflows_language(setup):
    _agent, inbox, _chatflow, visitor = setup
    chatflow = await db(make_chatflow, inbox, "Dutch", language="nl")
    ws, _ = await visitor_socket(visitor, chatflow)
    await ws.send_json_to({"type": "email", "email": "an@example.nl"})
    await receive_until(ws, "contact")
    await db(tasks.drain)
    assert mail.outbox[0].subject == "Bevestig je e-mailadres"
    await ws.disconnect()


async def test_a_confirmed_address_given_again_stays_confirmed(setup):
    """The socket's copy of the visitor predates the confirmation (made
    over HTTP): giving the address again must not unconfirm it or mail it."""
    _agent, _inbox, chatflow, visitor = setup
    ws, _ = await visitor_socket(visitor, chatflow)
    await ws.send_json_to({"type": "email", "email": "dee@example.com"})
    await receive_until(ws, "contact")
    contact = await db(lambda: Contact.objects.get())
    await db(service.confirm_email, visitor.pk, contact.pk)
    await db(tasks.drain)
    mails = len(mail.outbox)
    await ws.send_json_to({"type": "email", "email": "dee@example.com"})
    frame, _ = await receive_until(ws, "contact")
    assert frame["confirmed"] is True
    await db(tasks.drain)
    assert len(mail.outbox) == mails
    assert (await db(lambda: Visitor.objects.get(pk=visitor.pk))).contact_confirmed_at
    await ws.disconnect()


async def test_an_offline_inbox_is_emailed_once_for_a_burst_of_messages(setup):
    """Nobody connected: the first message mails the inbox; the rest of the
    burst neither mails again nor enqueues a task (whose claim would be one
    more write per message)."""
    from django.db.backends.utils import CursorWrapper

    agent, _inbox, chatflow, visitor = setup
    await db(lambda: type(agent).objects.filter(pk=agent.pk).update(email="alex@example.com"))
    claims = []
    original = CursorWrapper._execute

    def _execute(self, sql, *args):
        if sql.startswith("UPDATE") and "offline_notified_at" in sql:
            claims.append(sql)
        return original(self, sql, *args)

    CursorWrapper._execute = _execute
    try:
        ws, welcome = await visitor_socket(visitor, chatflow)
        assert welcome["online"] is False
        for i in range(5):
            await ws.send_json_to({"type": "message", "id": f"night-{i:04d}", "body": f"hello {i}"})
            await receive_until(ws, "ack")
        await asyncio.to_thread(tasks.drain)
    finally:
        CursorWrapper._execute = original
    assert len(claims) == 1
    (notice,) = mail.outbox
    assert notice.to == ["alex@example.com"] and "hello 0" in notice.body
    await ws.disconnect()
