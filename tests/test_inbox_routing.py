"""A conversation belongs to the inbox of the chatflow it started in (one per
inbox for a visitor); "online" is decided in one place (office hours and an
available agent connected now); a visitor socket speaks its chatflow's
language."""

import pytest
from django.utils import timezone

from tests.livechat_factories import make_agent, make_chatflow, make_inbox
from tests.sockets import agent_socket, connect, db, receive_until, visitor_socket
from wagtail_livechat import memo, service
from wagtail_livechat.models import Conversation, OfficeHours, Visitor

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture
def two_inboxes(db):
    sales_agent = make_agent("sam", first_name="Sam")
    support_agent = make_agent("sue", first_name="Sue")
    sales = make_inbox("Sales", members=[sales_agent])
    support = make_inbox("Support", members=[support_agent])
    return (
        (sales, make_chatflow(sales, name="Sales chat"), sales_agent),
        (support, make_chatflow(support, name="Support chat"), support_agent),
        Visitor.objects.create(),
    )


async def say(ws, client_id, body):
    await ws.send_json_to({"type": "message", "id": client_id, "body": body})
    ack, _ = await receive_until(ws, "ack")
    return ack["message"]


async def test_each_chatflow_keeps_its_conversation_in_its_own_inbox(two_inboxes):
    (sales, sales_chat, sam), (support, support_chat, sue), visitor = two_inboxes
    sam_ws, _ = await agent_socket(sam)
    sue_ws, _ = await agent_socket(sue)

    ws, welcome = await visitor_socket(visitor, sales_chat)
    assert welcome["online"] is True and welcome["conversation"] is None
    first = await say(ws, "client-sales-1", "About pricing")
    frame, _ = await receive_until(sam_ws, "conversation")
    assert frame["conversation"]["inbox"] == sales.pk
    await ws.disconnect()

    # Sue goes away: the support chat's header says offline, and its
    # conversation is a new one, in Support, not Sales.
    await sue_ws.send_json_to({"type": "availability", "available": False})
    await receive_until(sue_ws, "availability")
    ws, welcome = await visitor_socket(visitor, support_chat)
    assert welcome["conversation"] is None and welcome["online"] is False
    second = await say(ws, "client-support-1", "My order is broken")
    assert second["conversation"] != first["conversation"] and second["seq"] == 1
    frame, _ = await receive_until(sue_ws, "conversation")
    assert frame["conversation"]["inbox"] == support.pk
    await ws.disconnect()

    rows = await db(
        lambda: sorted(
            Conversation.objects.values_list("inbox__name", "chatflow__name", "last_message")
        )
    )
    assert rows == [
        ("Sales", "Sales chat", "About pricing"),
        ("Support", "Support chat", "My order is broken"),
    ]

    # Back on the sales chat: its own conversation goes on.
    ws, welcome = await visitor_socket(visitor, sales_chat)
    assert welcome["conversation"]["id"] == first["conversation"]
    assert [m["body"] for m in welcome["messages"]] == ["About pricing"]
    third = await say(ws, "client-sales-2", "Still there?")
    assert third["conversation"] == first["conversation"] and third["seq"] == 2
    await ws.disconnect()
    for sock in (sam_ws, sue_ws):
        await sock.disconnect()


async def test_one_open_conversation_per_inbox_even_when_closed_and_reopened(two_inboxes):
    (_sales, sales_chat, sam), _support, visitor = two_inboxes
    ws, _ = await visitor_socket(visitor, sales_chat)
    first = await say(ws, "client-0001", "Hello")
    await db(service.set_status, sam, first["conversation"], Conversation.Status.CLOSED)
    await ws.disconnect()
    ws, welcome = await visitor_socket(visitor, sales_chat)
    assert welcome["conversation"] == {"id": first["conversation"], "status": "closed"}
    again = await say(ws, "client-0002", "One more thing")
    assert again["conversation"] == first["conversation"]
    assert await db(lambda: Conversation.objects.get().status) == Conversation.Status.OPEN
    await ws.disconnect()


async def test_online_needs_a_connected_available_agent(two_inboxes, client):
    (sales, sales_chat, sam), _support, visitor = two_inboxes

    def config_online():
        response = client.get("/livechat/config/", {"url": "http://testserver/"})
        return response.json()["chatflow"]["online"]

    # Nobody has ever connected: offline, in the config and in the welcome.
    assert await db(config_online) is False
    ws, welcome = await visitor_socket(visitor, sales_chat)
    assert welcome["online"] is False
    await ws.disconnect()

    sam_ws, _ = await agent_socket(sam)
    assert await db(config_online) is True
    ws, welcome = await visitor_socket(visitor, sales_chat)
    assert welcome["online"] is True
    await ws.disconnect()

    # Connected but away: offline; available again: online.
    await sam_ws.send_json_to({"type": "availability", "available": False})
    await receive_until(sam_ws, "availability")
    assert await db(config_online) is False
    await sam_ws.send_json_to({"type": "availability", "available": True})
    await receive_until(sam_ws, "availability")
    assert await db(config_online) is True

    # Outside office hours: offline though connected.
    not_today = (timezone.now().weekday() + 3) % 7
    hours = await db(
        OfficeHours.objects.create,
        inbox=sales,
        weekday=not_today,
        opens=timezone.datetime(2000, 1, 1, 9).time(),
        closes=timezone.datetime(2000, 1, 1, 17).time(),
    )
    await db(memo.forget)
    assert await db(config_online) is False
    await db(hours.delete)
    await db(memo.forget)

    # The agent's last socket goes: offline at once (this process).
    second_ws, _ = await agent_socket(sam)
    await sam_ws.disconnect()
    assert await db(config_online) is True
    await second_ws.disconnect()
    assert await db(config_online) is False
    ws, welcome = await visitor_socket(visitor, sales_chat)
    assert welcome["online"] is False
    await ws.disconnect()


async def test_presence_expires_without_pings(two_inboxes):
    (sales, _chat, sam), _support, _visitor = two_inboxes
    await db(memo.agent_present, sam.pk)
    assert await db(memo.connected, [sam.pk]) == [sam.pk]
    await db(memo.forget)
    assert await db(memo.inbox_online, sales.pk) is True
    # A process that died said nothing: the mark lapses after PRESENCE_TTL.
    from django.core.cache import cache

    await db(cache.delete, f"wagtail_livechat:present:{sam.pk}")
    await db(memo.forget)
    assert await db(memo.inbox_online, sales.pk) is False


@pytest.mark.parametrize(
    "language, text",
    [
        ("en", "Start the chat before sending."),
        ("es", "Empieza el chat antes de enviar."),
        ("nl", "Start de chat voordat je iets verstuurt."),
        ("de", "Starten Sie den Chat, bevor Sie senden."),
        ("fr", "Démarrez le chat avant d'envoyer."),
    ],
)
async def test_protocol_errors_speak_the_chatflow_language(language, text):
    chatflow = await db_call(make_chatflow, await db_call(make_inbox), language=language)
    ws, connected, _ = await connect("/ws/livechat/visitor/")
    assert connected
    await ws.send_json_to({"type": "hello", "chatflow": chatflow.pk})
    await receive_until(ws, "welcome")
    await ws.send_json_to({"type": "message", "id": "client-0001", "body": "Hi"})
    error, _ = await receive_until(ws, "error")
    assert error["code"] == "identify"
    assert error["message"] == text
    await ws.disconnect()


def db_call(fn, *args, **kwargs):
    return db(fn, *args, **kwargs)
