"""Group commit: the sends of every socket waiting at the same moment share
one transaction, and a failure in it never costs another socket its
message: the shared transaction is rolled back and each runs again alone."""

import asyncio
from contextlib import contextmanager

import pytest
from django.db import IntegrityError, transaction
from django.db.backends.base.base import BaseDatabaseWrapper

from tests.livechat_factories import make_chatflow, make_inbox
from tests.sockets import db, receive_until, visitor_socket
from tests.test_query_budget import statements
from wagtail_livechat import database
from wagtail_livechat.models import Message, Visitor

pytestmark = [pytest.mark.django_db(transaction=True)]


@contextmanager
def commits():
    """Every commit of any thread (PostgreSQL's transactions start with no
    BEGIN statement to count)."""
    seen = []
    original = BaseDatabaseWrapper._commit

    def _commit(self):
        seen.append(self.alias)
        return original(self)

    BaseDatabaseWrapper._commit = _commit
    try:
        yield seen
    finally:
        BaseDatabaseWrapper._commit = original


def _create(key):
    committed = []
    transaction.on_commit(lambda: committed.append(key))
    Visitor.objects.create(key=key)
    return committed


def _fail_after_writing(key):
    with transaction.atomic():  # as the service's writes: all or nothing
        Visitor.objects.create(key=key)
        raise IntegrityError("taken")


def _swallow_a_failure(key):
    """Catches an error that left the transaction unusable: the shared one
    must not then be committed (or silently rolled back) as if all was well."""
    Visitor.objects.create(key=key)
    try:
        with transaction.atomic(savepoint=False):
            raise IntegrityError("taken")
    except IntegrityError:
        pass
    return "swallowed"


async def _keys():
    return set(await db(lambda: list(Visitor.objects.values_list("key", flat=True))))


async def test_work_waiting_together_shares_one_transaction():
    with commits() as seen:
        results = await asyncio.gather(*(database.run_together(_create, f"k{i}") for i in range(5)))
    assert await _keys() == {f"k{i}" for i in range(5)}
    assert len(seen) == 1
    # Each one's on-commit work ran once, after the one commit.
    assert results == [[f"k{i}"] for i in range(5)]


async def test_a_failure_rolls_back_only_its_own_work():
    results = await asyncio.gather(
        database.run_together(_create, "first"),
        database.run_together(_fail_after_writing, "failing"),
        database.run_together(_create, "last"),
        return_exceptions=True,
    )
    assert results[0] == ["first"] and results[2] == ["last"]
    assert isinstance(results[1], IntegrityError)
    assert await _keys() == {"first", "last"}


async def test_work_that_swallows_a_failure_does_not_lose_the_others():
    # Last: no query after it would notice the unusable transaction.
    results = await asyncio.gather(
        database.run_together(_create, "first"),
        database.run_together(_create, "last"),
        database.run_together(_swallow_a_failure, "swallowing"),
    )
    assert results == [["first"], ["last"], "swallowed"]
    assert await _keys() == {"first", "swallowing", "last"}


async def test_a_batch_is_bounded_by_weight(monkeypatch):
    monkeypatch.setattr(database, "TOGETHER_WEIGHT", 4)
    with commits() as seen:
        await asyncio.gather(*(database.run_together(_create, f"k{i}", weight=2) for i in range(6)))
    assert len(seen) == 3
    assert len(await _keys()) == 6


async def test_visitors_sending_at_once_are_stored_together_and_a_resend_keeps_its_first_ack():
    chatflow = await db(lambda: make_chatflow(make_inbox()))
    visitors = [await db(Visitor.objects.create) for _ in range(6)]
    sockets = [(await visitor_socket(v, chatflow))[0] for v in visitors]
    first = []
    for ws in sockets:
        await ws.send_json_to({"type": "message", "id": "client-0001", "body": "hello"})
    for ws in sockets:
        first.append((await receive_until(ws, "ack"))[0]["message"])
    with statements() as seen:
        # All at once: a resend (a duplicate client id, refused by the
        # database inside the shared transaction) among new messages.
        await sockets[0].send_json_to({"type": "message", "id": "client-0001", "body": "hello"})
        for ws in sockets[1:]:
            await ws.send_json_to({"type": "message", "id": "client-0002", "body": "again"})
        again = [(await receive_until(ws, "ack"))[0]["message"] for ws in sockets]
    assert again[0] == first[0]  # the resend: the first ack, not a new message
    assert [m["seq"] for m in again[1:]] == [2] * 5
    rows = await db(lambda: list(Message.objects.values_list("client_id", "conversation_id")))
    assert len(rows) == 11 and len(set(rows)) == 11
    inserts = [s for s in seen if s.upper().startswith("INSERT")]
    assert len(inserts) <= 5 + 5  # the shared try (rolled back) and each again alone, at most
    for ws in sockets:
        await ws.disconnect()
