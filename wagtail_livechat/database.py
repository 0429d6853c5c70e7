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
"""

from __future__ import annotations

import asyncio
import contextvars
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from django.db import (
    InterfaceError,
    OperationalError,
    close_old_connections,
    connection,
    connections,
)

from . import service
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
