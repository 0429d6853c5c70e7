"""Several daphne processes on PostgreSQL and Redis, for real.

A visitor on one process and an agent on another talk through the Redis
channel layer; the visitor's process is killed mid-conversation, and the
visitor resumes on the other one with nothing lost and nothing doubled.
Run by ``make test-scaleout`` (DATABASE_URL and REDIS_URL set).
"""

import asyncio
import json
import os
import signal
import threading
import time

import pytest
import websockets
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connection

from tests.livechat_factories import make_agent, make_chatflow, make_inbox
from tests.servers import start_daphne
from tests.sockets import session_cookie
from wagtail_livechat import identity
from wagtail_livechat.models import Conversation, Message, Visitor

pytestmark = [pytest.mark.scaleout, pytest.mark.django_db(transaction=True)]


def database_url():
    db = connection.settings_dict
    return f"postgres://{db['USER'] or 'postgres'}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def start_server():
    if connection.vendor != "postgresql" or not os.environ.get("REDIS_URL"):
        pytest.fail("the scale-out tests need DATABASE_URL (PostgreSQL) and REDIS_URL")
    env = dict(
        os.environ,
        DJANGO_SETTINGS_MODULE="example_site.settings.dev",
        DATABASE_URL=database_url(),
        SECRET_KEY=settings.SECRET_KEY,
        ALLOWED_HOSTS="127.0.0.1",
    )
    return start_daphne(env)


@pytest.fixture
def servers():
    started = [start_server(), start_server()]
    yield started
    for process, _port in started:
        if process.poll() is None:
            process.kill()
        process.wait()


async def open_socket(port, path, cookie):
    return await websockets.connect(
        f"ws://127.0.0.1:{port}{path}",
        origin=f"http://127.0.0.1:{port}",
        additional_headers={"Cookie": cookie},
    )


async def until(ws, kind, timeout=5):
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), timeout))
        if frame["type"] == kind:
            return frame


async def start_conversation(port, chatflow, visitor, body="start"):
    """A visitor socket that said hello and started a conversation; returns
    it and the conversation's id."""
    ws = await open_socket(
        port, "/ws/livechat/visitor/", f"livechat_visitor={identity.sign(visitor.key)}"
    )
    await ws.send(json.dumps({"type": "hello", "chatflow": chatflow.pk}))
    await until(ws, "welcome")
    await ws.send(json.dumps({"type": "message", "id": "visitor-start", "body": body}))
    return ws, (await until(ws, "ack"))["message"]["conversation"]


def db(fn, *args, **kwargs):
    return sync_to_async(fn)(*args, **kwargs)


async def test_two_processes_share_conversations_and_survive_a_kill(servers):
    (proc_a, port_a), (_proc_b, port_b) = servers
    agent = await db(make_agent, "alex", first_name="Alex")
    inbox = await db(make_inbox, members=[agent])
    chatflow = await db(make_chatflow, inbox)
    visitor = await db(Visitor.objects.create)
    visitor_cookie = f"livechat_visitor={identity.sign(visitor.key)}"
    agent_cookie = f"{await db(session_cookie, agent)}"

    agent_ws = await open_socket(port_b, "/ws/livechat/agent/", agent_cookie)
    await agent_ws.send(json.dumps({"type": "hello"}))
    await until(agent_ws, "agent_welcome")

    visitor_ws = await open_socket(port_a, "/ws/livechat/visitor/", visitor_cookie)
    await visitor_ws.send(json.dumps({"type": "hello", "chatflow": chatflow.pk}))
    await until(visitor_ws, "welcome")
    await visitor_ws.send(
        json.dumps({"type": "message", "id": "visitor-001", "body": "Hello from A"})
    )
    ack = await until(visitor_ws, "ack")
    conversation_id = ack["message"]["conversation"]

    # The agent, on the other process, hears of it through Redis.
    update = await until(agent_ws, "conversation")
    assert update["conversation"]["id"] == conversation_id
    await agent_ws.send(json.dumps({"type": "open", "conversation": conversation_id}))
    await until(agent_ws, "history")
    await agent_ws.send(
        json.dumps(
            {
                "type": "message",
                "conversation": conversation_id,
                "id": "agent-0001",
                "body": "Hi from B",
            }
        )
    )
    await until(agent_ws, "ack")
    reply = await until(visitor_ws, "message")
    assert reply["message"]["body"] == "Hi from B"
    last_seen = reply["message"]["seq"]

    # The visitor sends, and process A dies before the ack can be read.
    await visitor_ws.send(
        json.dumps({"type": "message", "id": "visitor-002", "body": "Still there?"})
    )
    proc_a.send_signal(signal.SIGKILL)
    proc_a.wait()
    # Meanwhile the agent writes again.
    await agent_ws.send(
        json.dumps(
            {"type": "message", "conversation": conversation_id, "id": "agent-0002", "body": "Yes!"}
        )
    )
    await until(agent_ws, "ack")

    # The widget reconnects to the surviving process, resyncs and resends.
    visitor_ws = await open_socket(port_b, "/ws/livechat/visitor/", visitor_cookie)
    await visitor_ws.send(
        json.dumps({"type": "hello", "chatflow": chatflow.pk, "after": last_seen})
    )
    welcome = await until(visitor_ws, "welcome")
    assert "Yes!" in [m["body"] for m in welcome["messages"]]
    await visitor_ws.send(
        json.dumps({"type": "message", "id": "visitor-002", "body": "Still there?"})
    )
    await until(visitor_ws, "ack")

    bodies = await db(
        lambda: list(
            Message.objects.filter(conversation_id=conversation_id)
            .order_by("seq")
            .values_list("body", flat=True)
        )
    )
    assert bodies.count("Still there?") == 1
    assert bodies.count("Hello from A") == 1 and bodies.count("Yes!") == 1
    seqs = await db(lambda: list(Message.objects.order_by("seq").values_list("seq", flat=True)))
    assert seqs == list(range(1, len(seqs) + 1))
    assert await db(lambda: Conversation.objects.count()) == 1
    await visitor_ws.close()
    await agent_ws.close()


async def test_concurrent_senders_keep_a_gapless_order(servers):
    """Visitor and agent write at once through different processes: every
    message gets a distinct seq, with no gap, in commit order."""
    (_a, port_a), (_b, port_b) = servers
    agent = await db(make_agent, "alex")
    inbox = await db(make_inbox, members=[agent])
    chatflow = await db(make_chatflow, inbox)
    visitor = await db(Visitor.objects.create)
    visitor_ws, conversation_id = await start_conversation(port_a, chatflow, visitor)
    agent_ws = await open_socket(port_b, "/ws/livechat/agent/", await db(session_cookie, agent))

    async def burst(ws, prefix, extra):
        for i in range(20):
            await ws.send(
                json.dumps(
                    {"type": "message", "id": f"{prefix}-{i:04}", "body": f"{prefix}{i}", **extra}
                )
            )

    await asyncio.gather(
        burst(visitor_ws, "visitor", {}),
        burst(agent_ws, "agent", {"conversation": conversation_id}),
    )
    deadline = time.monotonic() + 15
    while await db(lambda: Message.objects.count()) < 41 and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    seqs = await db(lambda: list(Message.objects.order_by("seq").values_list("seq", flat=True)))
    bodies = await db(lambda: list(Message.objects.order_by("seq").values_list("body", flat=True)))
    assert seqs == list(range(1, 42)), " ".join(bodies)
    await visitor_ws.close()
    await agent_ws.close()


async def collect(ws, frames_with_messages, count, timeout=20):
    """Every message a socket receives (in ``welcome``/``history`` and as
    ``message`` frames) until ``count`` have come."""
    seqs = []
    deadline = time.monotonic() + timeout
    while len(seqs) < count:
        frame = json.loads(await asyncio.wait_for(ws.recv(), deadline - time.monotonic()))
        if frame["type"] in frames_with_messages:
            seqs.extend(m["seq"] for m in frame["messages"])
        elif frame["type"] == "message":
            seqs.append(frame["message"]["seq"])
    return seqs


def store_many(conversation_id, agent, count):
    from wagtail_livechat import service

    for i in range(count):
        service.post_agent_message(agent, conversation_id, client_id=f"bulk-{i:06}", body=f"m{i}")


async def test_a_client_far_behind_gets_every_message_in_order_once(servers):
    """History pages from the oldest missing message: a widget and an inbox
    1,000 messages behind receive every one, in order, once."""
    (_a, port), _ = servers
    agent = await db(make_agent, "alex", first_name="Alex")
    inbox = await db(make_inbox, members=[agent])
    chatflow = await db(make_chatflow, inbox)
    visitor = await db(Visitor.objects.create)
    cookie = f"livechat_visitor={identity.sign(visitor.key)}"
    ws, conversation_id = await start_conversation(port, chatflow, visitor, "first")
    await ws.close()
    await db(store_many, conversation_id, agent, 1000)

    ws = await open_socket(port, "/ws/livechat/visitor/", cookie)
    await ws.send(json.dumps({"type": "hello", "chatflow": chatflow.pk, "after": 1}))
    assert await collect(ws, {"welcome"}, 1000) == list(range(2, 1002))
    await ws.send(json.dumps({"type": "ping"}))
    await until(ws, "pong")  # and nothing doubled before it
    await ws.close()

    agent_ws = await open_socket(port, "/ws/livechat/agent/", await db(session_cookie, agent))
    await agent_ws.send(json.dumps({"type": "open", "conversation": conversation_id, "after": 1}))
    assert await collect(agent_ws, {"history"}, 1000) == list(range(2, 1002))
    await agent_ws.close()


async def test_a_removed_agent_stops_hearing_the_inbox_at_once(servers):
    """Membership changes reach open sockets at once (not at their next
    ping), even when made in another process."""
    (_a, port_a), (_b, port_b) = servers
    agent = await db(make_agent, "alex", first_name="Alex")
    inbox = await db(make_inbox, members=[agent])
    other = await db(make_inbox, "Support", members=[agent])
    chatflow = await db(make_chatflow, inbox)
    visitor = await db(Visitor.objects.create)
    ws, conversation_id = await start_conversation(port_a, chatflow, visitor, "hi")
    agent_ws = await open_socket(port_b, "/ws/livechat/agent/", await db(session_cookie, agent))
    await agent_ws.send(json.dumps({"type": "open", "conversation": conversation_id}))
    await until(agent_ws, "history")
    await ws.send(json.dumps({"type": "typing", "on": True}))
    assert (await until(agent_ws, "typing"))["on"] is True

    def remove(box):
        box.users.remove(agent)
        box.save()

    await db(remove, inbox)
    await asyncio.sleep(0.5)  # the membership event crosses Redis
    await ws.send(json.dumps({"type": "typing", "on": False}))
    await ws.send(json.dumps({"type": "message", "id": "visitor-002", "body": "secret"}))
    await until(ws, "ack")
    await asyncio.sleep(0.2)
    # Still a member of another inbox, the socket stays open but hears
    # nothing more of this one: its next frame answers this ping.
    await agent_ws.send(json.dumps({"type": "ping"}))
    assert json.loads(await asyncio.wait_for(agent_ws.recv(), 5)) == {"type": "pong"}
    # A member of no inbox any more: closed at once, without waiting for a ping.
    await db(remove, other)
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await asyncio.wait_for(agent_ws.recv(), 5)
    assert closed.value.rcvd.code == 4003
    await ws.close()


def test_a_message_is_stored_when_the_database_connection_died():
    """Connections are health-checked at most once a second, so one that the
    database dropped (a restart, an idle timeout) is found by the query that
    fails: the work runs again on a new connection and the visitor gets an
    ack, not an error."""
    from asgiref.sync import async_to_sync

    from tests.sockets import receive_until, visitor_socket
    from wagtail_livechat import database, tasks

    @async_to_sync
    async def scenario():
        inbox = await db(make_inbox)
        chatflow = await db(make_chatflow, inbox)
        visitor = await db(Visitor.objects.create)
        ws, _ = await visitor_socket(visitor, chatflow)
        await ws.send_json_to({"type": "message", "id": "first-0001", "body": "first"})
        await receive_until(ws, "ack")

        # The database threads' connections only (one thread, or each of a
        # pool: a barrier puts one call on each), as a restart would drop them.
        count = database.threads()
        barrier = threading.Barrier(count)

        def backend_pid():
            barrier.wait(10)
            connection.ensure_connection()
            return connection.connection.info.backend_pid

        pids = [
            p for p, _ in await asyncio.gather(*(database.run(backend_pid) for _ in range(count)))
        ]
        assert len(set(pids)) == count

        def terminate(pids):
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_terminate_backend(pid) FROM unnest(%s) AS pid", [pids])

        await asyncio.to_thread(tasks.drain)  # the first message's side work, done
        await db(terminate, pids)
        await ws.send_json_to({"type": "message", "id": "second-0001", "body": "second"})
        ack, others = await receive_until(ws, "ack", timeout=5)
        assert ack["message"]["seq"] == 2
        assert not [f for f in others if f["type"] == "error"]
        assert await db(lambda: Message.objects.filter(client_id="second-0001").count()) == 1
        await ws.disconnect()

    scenario()
