"""The message path's query budget: a sent message is one short write and
its fan-out reads nothing, however many agents view the conversation. These
fail if a query creeps back onto the path."""

from contextlib import contextmanager

import pytest
from django.db import connection
from django.db.backends.utils import CursorWrapper

from tests.livechat_factories import add_members, make_agent, make_chatflow, make_inbox
from tests.sockets import agent_socket, db, receive_until, visitor_socket
from wagtail_livechat.models import Conversation, Visitor

pytestmark = [pytest.mark.django_db(transaction=True)]

TRANSACTION = ("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE", "ROLLBACK")


@contextmanager
def statements():
    """Every statement any thread runs (the consumers' database thread is
    not the test's, so a per-connection capture would miss them)."""
    seen = []
    original = CursorWrapper._execute

    def _execute(self, sql, *args):
        seen.append(sql)
        return original(self, sql, *args)

    CursorWrapper._execute = _execute
    try:
        yield seen
    finally:
        CursorWrapper._execute = original


def work(seen):
    return [s.split()[0].upper() for s in seen if not s.upper().startswith(TRANSACTION)]


def one_write(seen):
    """PostgreSQL: one statement (a CTE), with no transaction around it;
    SQLite: the UPDATE and the INSERT in one transaction."""
    if connection.vendor == "postgresql":
        return [s.split()[0].upper() for s in seen] == ["WITH"]
    return work(seen) == ["UPDATE", "INSERT"]


@pytest.fixture
def room(db):
    agents = [make_agent(f"agent{i}", first_name=f"A{i}") for i in range(3)]
    inbox = make_inbox(members=agents[:1])
    add_members(inbox, *agents[1:])
    return agents, make_chatflow(inbox), Visitor.objects.create()


async def open_everywhere(agents, visitor, chatflow):
    ws, _ = await visitor_socket(visitor, chatflow)
    await ws.send_json_to({"type": "message", "id": "warm-0001", "body": "first"})
    await receive_until(ws, "ack")
    pk = (await db(lambda: Conversation.objects.get())).pk
    sockets = []
    for agent in agents:
        a, _ = await agent_socket(agent)
        await a.send_json_to({"type": "open", "conversation": pk})
        await receive_until(a, "viewers")
        sockets.append(a)
    # Settle the joins' presence frames.
    for a in sockets:
        await a.send_json_to({"type": "ping"})
        await receive_until(a, "pong")
    return ws, sockets, pk


async def test_visitor_message_is_one_write_and_fan_out_reads_nothing(room):
    agents, chatflow, visitor = room
    ws, sockets, _pk = await open_everywhere(agents, visitor, chatflow)
    with statements() as seen:
        await ws.send_json_to({"type": "message", "id": "client-0002", "body": "second"})
        await receive_until(ws, "ack")
        for a in sockets:  # three agents viewing: each gets the message and the row, in one frame
            message, _ = await receive_until(a, "message")
            assert message["message"]["body"] == "second"
            assert message["conversation"]["last_message"] == "second"
    assert one_write(seen), seen
    for s in [ws, *sockets]:
        await s.disconnect()


async def test_agent_message_is_one_write_and_fan_out_reads_nothing(room):
    agents, chatflow, visitor = room
    ws, sockets, pk = await open_everywhere(agents, visitor, chatflow)
    # The first answer reads the chatflow's team alias, held for a few seconds.
    await sockets[0].send_json_to(
        {"type": "message", "conversation": pk, "id": "agent-0000", "body": "warm"}
    )
    await receive_until(sockets[0], "ack")
    for a in [ws, *sockets[1:]]:
        await receive_until(a, "message")
    with statements() as seen:
        await sockets[0].send_json_to(
            {"type": "message", "conversation": pk, "id": "agent-0001", "body": "hello"}
        )
        await receive_until(sockets[0], "ack")
        assert (await receive_until(ws, "message"))[0]["message"]["name"] == "A0"
        for a in sockets[1:]:
            assert (await receive_until(a, "message"))[0]["message"]["body"] == "hello"
    assert one_write(seen), seen
    for s in [ws, *sockets]:
        await s.disconnect()


async def test_idle_ping_reads_one_seq_and_no_messages(room):
    agents, chatflow, visitor = room
    ws, sockets, _pk = await open_everywhere(agents, visitor, chatflow)
    with statements() as seen:
        await ws.send_json_to({"type": "ping"})
        await receive_until(ws, "pong")
    assert work(seen) == ["SELECT"]  # the conversation's last seq; nothing new
    for s in [ws, *sockets]:
        await s.disconnect()


async def test_connections_are_health_checked_at_most_once_a_second(room, settings):
    """Django's health check is a query of its own (PostgreSQL: ``SELECT 1``);
    run before every hop to the database thread it was a fifth of a busy
    process's database work."""
    from django.db import connections

    agents, chatflow, visitor = room
    ws, sockets, _pk = await open_everywhere(agents, visitor, chatflow)
    wrapper = type(connections["default"])
    checks = []
    original = wrapper.is_usable

    def is_usable(self):
        checks.append(self)
        return original(self)

    wrapper.is_usable = is_usable
    try:
        for i in range(20):
            await ws.send_json_to({"type": "message", "id": f"check-{i:04d}", "body": f"{i}"})
            await receive_until(ws, "ack")
    finally:
        wrapper.is_usable = original
    # 20 hops in well under a second or two: one or two checks, not twenty.
    assert len(checks) <= 2, len(checks)
    for s in [ws, *sockets]:
        await s.disconnect()
