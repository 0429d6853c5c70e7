"""Structured logs of sockets: opened and closed (with counts), refusals,
errors, and the counts at most once per interval, all on the one
``wagtail_livechat`` logger with key=value text and the same in ``extra``."""

import logging
import time
from collections import Counter

import pytest
from django.test import override_settings

from tests.sockets import connect, visitor_socket
from wagtail_livechat import socketlog
from wagtail_livechat.consumers import LivechatConsumer

pytestmark = [pytest.mark.django_db(transaction=True)]


def events(caplog):
    return [r for r in caplog.records if r.name == "wagtail_livechat" and hasattr(r, "event")]


async def test_a_socket_logs_opened_and_closed(caplog):
    caplog.set_level(logging.DEBUG, "wagtail_livechat")
    ws, _ = await visitor_socket()
    await ws.disconnect()
    opened, closed = [r for r in events(caplog) if r.event in ("socket_opened", "socket_closed")]
    assert (opened.event, opened.side, opened.levelno) == (
        "socket_opened",
        "visitor",
        logging.DEBUG,
    )
    assert f"side=visitor open={opened.open}" in opened.getMessage() and opened.open >= 1
    assert (closed.event, closed.side, closed.open) == ("socket_closed", "visitor", opened.open - 1)


async def test_a_refused_socket_is_a_warning(caplog):
    caplog.set_level(logging.DEBUG, "wagtail_livechat")
    with override_settings(WAGTAIL_LIVECHAT_MAX_SOCKETS=LivechatConsumer.open_sockets):
        ws, connected, _ = await connect("/ws/livechat/visitor/")
        await ws.receive_json_from()
        await ws.disconnect()
    (refused,) = [r for r in events(caplog) if r.event == "socket_refused"]
    assert refused.levelno == logging.WARNING and refused.reason == "busy"


def test_counts_at_most_once_per_interval(caplog, settings, monkeypatch):
    settings.WAGTAIL_LIVECHAT_LOG_COUNTS_EVERY = 60
    # This process's counts, from nothing, just logged.
    monkeypatch.setattr(socketlog, "_open", Counter())
    monkeypatch.setattr(socketlog, "_since", Counter())
    monkeypatch.setattr(socketlog, "_last_counts", time.monotonic())
    caplog.set_level(logging.INFO, "wagtail_livechat")
    socketlog.opened("agent")
    socketlog.opened("visitor")
    socketlog.closed("visitor", 1000)
    now = socketlog._last_counts + 61
    assert socketlog.tick(now)
    assert not socketlog.tick(now + 30)  # within the minute: nothing
    socketlog.closed("agent", 1000)
    assert socketlog.tick(now + 61)
    first, second = [r for r in events(caplog) if r.event == "socket_counts"]
    assert first.levelno == logging.INFO
    assert (first.open, first.open_agent, first.open_visitor) == (1, 1, 0)
    assert (first.opened, first.closed, first.refused) == (2, 1, 0)
    assert "open=1 open_visitor=0 open_agent=1" in first.getMessage()
    assert (second.open, second.opened, second.closed) == (0, 0, 1)


def test_errors_carry_what_failed(caplog):
    caplog.set_level(logging.WARNING, "wagtail_livechat")
    try:
        raise ConnectionError("layer down")
    except ConnectionError:
        socketlog.error("notify", group="livechat.inbox.1")
    (record,) = events(caplog)
    assert (record.event, record.what, record.group) == (
        "socket_error",
        "notify",
        "livechat.inbox.1",
    )
    assert record.exc_info and "what=notify group=livechat.inbox.1" in record.getMessage()
