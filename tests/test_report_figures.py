"""What the reports count with: percentiles and durations as plain functions,
and the first response time the agent message's own write keeps (and the
migration filled in for older conversations)."""

import importlib
from datetime import UTC, date, datetime, timedelta

import pytest
from django.apps import apps

from tests.livechat_factories import make_agent, make_chatflow, make_inbox
from wagtail_livechat import service
from wagtail_livechat.models import Conversation, Message, Visitor
from wagtail_livechat.reports.figures import (
    duration,
    median,
    p90,
    percentile,
    period_label,
    safe_cell,
    seconds,
)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_median_and_p90_interpolate_as_percentile_cont():
    assert median([60, 10, 20]) == 20
    assert p90([10, 20, 60]) == pytest.approx(52)
    assert median([1, 2, 3, 4]) == 2.5
    assert p90([7]) == median([7]) == 7
    assert median([]) is None and p90([]) is None
    assert percentile([0, 100], 0) == 0 and percentile([0, 100], 1) == 100


def test_seconds_between_two_times():
    assert seconds(T0, T0 + timedelta(seconds=90)) == 90
    assert seconds(T0, None) is None and seconds(None, T0) is None
    assert seconds(T0, T0 - timedelta(seconds=1)) == 0  # another server's clock


def test_durations_and_periods_as_people_read_them():
    assert duration(None) == "—"
    assert duration(44.6) == "45 s"
    assert duration(200) == "3 min 20 s"
    assert duration(2 * 3600 + 5 * 60 + 9) == "2 h 5 min"
    assert duration(28 * 3600) == "1 d 4 h"
    assert period_label(date(2026, 3, 2), "day") == "2026-03-02"
    assert period_label(T0, "month") == "2026-03"
    assert period_label(None, "week") == "—"


def test_a_formula_is_text_in_a_spreadsheet():
    assert safe_cell("=1+1") == "'=1+1"
    assert safe_cell("-2") == "'-2"
    assert safe_cell("fine") == "fine" and safe_cell(None) == ""


@pytest.fixture
def room(db):
    agent = make_agent("alex", first_name="Alex")
    chatflow = make_chatflow(make_inbox(members=[agent]))
    conversation = Conversation.objects.create(
        inbox=chatflow.inbox, chatflow=chatflow, visitor=Visitor.objects.create()
    )
    return agent, conversation


@pytest.mark.django_db
def test_the_first_agent_message_sets_the_first_response_time_once(room):
    agent, conversation = room
    service.post_agent_message(agent, conversation.pk, client_id="note-1", body="hm", note=True)
    conversation.refresh_from_db()
    assert conversation.first_response_at is None  # a note is no answer

    first, _ = service.post_agent_message(agent, conversation.pk, client_id="m-1", body="Hi")
    service.post_agent_message(agent, conversation.pk, client_id="m-2", body="Anything else?")
    conversation.refresh_from_db()
    first.refresh_from_db()
    assert conversation.first_response_at == first.created_at


@pytest.mark.django_db
def test_the_migration_fills_in_the_first_response_from_messages(room):
    agent, conversation = room
    untouched = Conversation.objects.create(
        inbox=conversation.inbox, visitor=Visitor.objects.create()
    )

    def add(seq, author, at, note=False):
        Message.objects.create(
            conversation=conversation,
            seq=seq,
            author=author,
            user=agent if author == "agent" else None,
            body="x",
            note=note,
            sender=f"s{seq}",
            created_at=T0 + timedelta(seconds=at),
        )

    add(1, "visitor", 0)
    add(2, "agent", 5, note=True)
    add(3, "agent", 10)
    add(4, "agent", 20)
    Message.objects.create(
        conversation=untouched, seq=1, author="visitor", body="x", sender="v", created_at=T0
    )
    migration = importlib.import_module("wagtail_livechat.migrations.0010_report_fields")
    migration.backfill_first_response(apps, None)
    conversation.refresh_from_db()
    untouched.refresh_from_db()
    assert conversation.first_response_at == T0 + timedelta(seconds=10)
    assert untouched.first_response_at is None
