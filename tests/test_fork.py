"""A forked child (a server that preloads the app and forks its workers, the
browser tests' live server) runs the database and task work itself: the
parent's pools, whose threads it did not inherit, would never run it."""

import asyncio
import os
import threading

import pytest

from wagtail_livechat import database, tasks


def _in_child(check) -> int:
    """Fork, run ``check`` in the child; the child's exit code (0: passed)."""
    pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        code = 1
        try:
            code = 0 if check() else 1
        finally:
            os._exit(code)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


def _within(seconds, work) -> bool:
    done = threading.Event()
    threading.Thread(target=lambda: (work(), done.set()), daemon=True).start()
    return done.wait(seconds)


@pytest.mark.django_db  # a hop checks its thread's connections
def test_a_forked_child_runs_database_work():
    # The parent's executor has its thread now.
    result, _ = asyncio.run(database.run(lambda: 41))
    assert result == 41

    def check():
        answers = []
        ran = _within(5, lambda: answers.append(asyncio.run(database.run(lambda: 42))[0]))
        return ran and answers == [42]

    assert _in_child(check) == 0


def test_a_forked_child_runs_side_work():
    tasks._pool.submit(lambda: None).result(timeout=5)

    def check():
        return _within(5, lambda: tasks._pool.submit(lambda: None).result())

    assert _in_child(check) == 0


@pytest.mark.django_db(transaction=True)
def test_the_database_threads_close_their_connections_before_a_fork():
    from django.db import connection

    def opened():
        connection.ensure_connection()
        return connection.connection is not None

    assert asyncio.run(database.run(opened))[0] is True
    database.close_connections()
    assert asyncio.run(database.run(lambda: connection.connection is None))[0] is True
