"""Where the sockets' database work runs, and how its connections are kept.

Sockets live on the event loop; the ORM is synchronous. Each piece of work
is one hop to a thread of this module's own: one thread (SQLite serialises
writers anyway, and waiting on its lock costs more than it gains) or, on
PostgreSQL, a small pool whose threads each hold a connection, so that
commits overlap (``WAGTAIL_LIVECHAT_PARALLEL_DATABASE``,
``WAGTAIL_LIVECHAT_DATABASE_THREADS``).

A plain executor, not asgiref's ``sync_to_async``: that one's
thread-sensitive bookkeeping was half the cost of a hop (227 against 122 µs
of CPU, measured), and sockets need none of it. The caller's context
variables (the active language) go along.

What the work fans out is handed back to the caller, which sends it from the
event loop: a database thread never waits on the channel layer.

Messages go through ``run_together``: the sends of every socket waiting at
the same moment share one transaction (group commit).
"""

from __future__ import annotations

import asyncio
import contextvars
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from weakref import WeakKeyDictionary

from channels.layers import get_channel_layer
from django.db import (
    InterfaceError,
    OperationalError,
    close_old_connections,
    connection,
    connections,
    transaction,
)

from . import service, socketlog
from .conf import conf

# Django's health check is a query of its own (``SELECT 1``); checking before
# every hop, as Channels does, was a fifth of a busy process's database work.
CHECK_CONNECTIONS_EVERY = 1.0  # seconds

_checked = threading.local()
_executors: dict[int, ThreadPoolExecutor] = {}
_lock = threading.Lock()


def _forget_executors() -> None:
    """A forked child (a server that preloads the app and forks its workers,
    a test's live server) inherits the executors but not their threads:
    work handed to them would never run. It starts its own."""
    global _lock
    _executors.clear()
    _lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_executors)


def close_connections(timeout: float = 10) -> None:
    """Close the connections the database threads hold, and wait until they
    are closed: before a process forks (a SQLite database must not be open in
    a process that forks: the child can read a stale snapshot) or when it
    stops."""
    for executor in list(_executors.values()):
        count = executor._max_workers
        barrier = threading.Barrier(count)  # one each, every thread
        futures = [executor.submit(_close_here, barrier, timeout) for _ in range(count)]
        for future in futures:
            future.result(timeout)


def _close_here(barrier, timeout):
    connections.close_all()
    try:
        barrier.wait(timeout)
    except threading.BrokenBarrierError:
        pass


def threads() -> int:
    parallel = conf.PARALLEL_DATABASE
    if parallel is None:
        parallel = connection.vendor == "postgresql"
    return max(1, conf.DATABASE_THREADS) if parallel else 1


def _executor(count: int) -> ThreadPoolExecutor:
    executor = _executors.get(count)
    if executor is None:
        with _lock:
            executor = _executors.setdefault(
                count, ThreadPoolExecutor(count, thread_name_prefix="livechat-db")
            )
    return executor


async def run(fn, *args, **kwargs):
    """Run ``fn`` on a database thread; returns ``(its result, what it fanned
    out)``."""
    context = contextvars.copy_context()
    return await asyncio.get_running_loop().run_in_executor(
        _executor(threads()), context.run, _work, fn, args, kwargs
    )


def _work(fn, args, kwargs):
    now = time.monotonic()
    if now >= getattr(_checked, "next", 0.0):
        close_old_connections()  # too old, or broken by an earlier error
        _checked.next = now + CHECK_CONNECTIONS_EVERY
    try:
        return _collecting(fn, args, kwargs)
    except (OperationalError, InterfaceError):
        # A connection that died since its last check (the database
        # restarted) fails its query: replace it and run the work once more,
        # which is safe, every write of the service being idempotent (a
        # message by its client id; the rest set a state).
        if not _replace_broken_connections():
            raise
        return _collecting(fn, args, kwargs)


def _collecting(fn, args, kwargs):
    with service.collecting() as deliveries:
        return fn(*args, **kwargs), deliveries


def _replace_broken_connections() -> bool:
    """Close this thread's connections that no longer work; True if any."""
    replaced = False
    for conn in connections.all(initialized_only=True):
        if conn.connection is not None and not conn.in_atomic_block and not conn.is_usable():
            conn.close()
            replaced = True
    return replaced


# -- Group commit ----------------------------------------------------------
# Every SQLite statement gives up the GIL and waits to get it back from the
# busy event loop, and BEGIN and COMMIT were half of a message's statements:
# at 250 conversations x 1 msg/s the database thread was 97 % busy (py-spy),
# mostly waiting. The sends of every socket waiting at the same moment are
# written in one transaction instead, so that batches grow with the load
# and no timer adds latency when it is light.

TOGETHER_WEIGHT = 200  # frames, at most, per shared transaction


class _Failed:
    def __init__(self, error):
        self.error = error


class _Writers:
    def __init__(self):
        self.waiting: list = []  # (fn, args, weight, future)
        self.running = 0


# One set per event loop: each test runs its own loop.
_writers: WeakKeyDictionary = WeakKeyDictionary()


async def run_together(fn, *args, weight: int = 1):
    """Run ``fn(*args)`` on a database thread, in one transaction with the
    work of other sockets waiting at the same moment, and send what it fans
    out; returns its result.

    If anything in the shared transaction fails, it is rolled back and each
    piece of work runs again in a transaction of its own, so that one
    socket's failure (a resent message's duplicate client id, say) is never
    another's. ``fn`` must therefore change nothing outside the database
    but through ``transaction.on_commit`` (the service's fan-out, events
    and tasks all do)."""
    loop = asyncio.get_running_loop()
    writers = _writers.get(loop)
    if writers is None:
        writers = _writers[loop] = _Writers()
    future = loop.create_future()
    writers.waiting.append((fn, args, weight, future))
    if writers.running < threads():
        writers.running += 1
        asyncio.ensure_future(_write(writers))
    return await future


async def _write(writers: _Writers):
    try:
        while writers.waiting:
            taken, weight = 0, 0
            for *_, cost, _future in writers.waiting:
                if taken and weight + cost > TOGETHER_WEIGHT:
                    break
                taken, weight = taken + 1, weight + cost
            batch, writers.waiting[:taken] = writers.waiting[:taken], []
            try:
                outcomes, deliveries = await run(_together, [(fn, args) for fn, args, *_ in batch])
            except Exception as error:
                outcomes, deliveries = [_Failed(error)] * len(batch), []
            # Each socket hears its own result first: a socket that got the
            # event of a later message of the batch before the ack of its
            # own would take its own for a gap and repair it from the record.
            for (*_, future), outcome in zip(batch, outcomes, strict=True):
                if future.done():  # its socket went meanwhile
                    continue
                if isinstance(outcome, _Failed):
                    future.set_exception(outcome.error)
                else:
                    future.set_result(outcome)
            await deliver(get_channel_layer(), deliveries)
    finally:
        writers.running -= 1


async def deliver(layer, deliveries) -> None:
    """Send what committed work fanned out, from the event loop."""
    for group, event in deliveries:
        try:
            await layer.group_send(group, event)
        except Exception:  # the record is safe; sockets repair gaps from it
            socketlog.error("notify", group=group)


class _RolledBack(Exception):
    """Something in the shared transaction was caught but left it unusable."""


def _together(work):
    if len(work) == 1:
        # Alone, its errors reach ``_work``, which runs it again once on a
        # new connection if the old one had died (a restarted database).
        fn, args = work[0]
        return [fn(*args)]
    try:
        with transaction.atomic(), service.sharing_transaction():
            outcomes = [fn(*args) for fn, args in work]
            if transaction.get_rollback():
                raise _RolledBack
        return outcomes
    except Exception:  # each on its own, on a new connection if it died
        _replace_broken_connections()
    return [_alone(fn, args) for fn, args in work]


def _alone(fn, args):
    try:
        return fn(*args)
    except Exception as error:
        return _Failed(error)
