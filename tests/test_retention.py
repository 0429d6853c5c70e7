"""Retention: closed conversations past WAGTAIL_LIVECHAT_RETENTION_DAYS go,
with their messages and survey answers, and so do the visitors they leave
behind with nothing; tested with a fixed clock (``now`` passed in)."""

from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from tests.livechat_factories import make_inbox
from wagtail_livechat import personal_data, retention
from wagtail_livechat.models import (
    ConsentRecord,
    Contact,
    Conversation,
    Message,
    SurveyAnswer,
    Visitor,
)

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def conversation(inbox, *, closed_days_ago=None, messages=2, contact=None, seen_days_ago=400):
    seen = NOW - seen_days_ago * DAY
    visitor = Visitor.objects.create(contact=contact, created_at=seen, last_seen_at=seen)
    closed = closed_days_ago is not None
    talk = Conversation.objects.create(
        inbox=inbox,
        visitor=visitor,
        status="closed" if closed else "open",
        closed_at=NOW - closed_days_ago * DAY if closed else None,
    )
    for seq in range(1, messages + 1):
        Message.objects.create(
            conversation=talk, seq=seq, author="visitor", body="hi", sender=f"v{visitor.pk}"
        )
    return talk


@pytest.fixture
def history(db):
    inbox = make_inbox()
    ann = Contact.objects.create(email="ann@example.com")
    old = conversation(inbox, closed_days_ago=40, messages=3)
    SurveyAnswer.objects.create(conversation=old, rating=4)
    ConsentRecord.objects.create(kind="data", given=True, text="t", visitor=old.visitor)
    return {
        "old": old,
        "old_of_contact": conversation(inbox, closed_days_ago=31, contact=ann),
        "just_inside": conversation(inbox, closed_days_ago=29),
        "open_old": conversation(inbox),  # open: never purged, however old
        "recent": conversation(inbox, closed_days_ago=1, seen_days_ago=1),
        "ann": ann,
    }


def test_off_by_default(history):
    assert retention.purge(now=NOW) is None
    assert Conversation.objects.count() == 5


def test_purge_removes_what_is_past_retention_and_reports_counts(history, settings):
    settings.WAGTAIL_LIVECHAT_RETENTION_DAYS = 30
    counts = retention.purge(now=NOW, batch_size=1)  # one per batch: batching loops
    assert counts == {
        "conversations": 2,
        "messages": 5,
        "survey_answers": 1,
        # The old conversation's visitor; the contact's visitor stays with
        # the contact (erasure is for that), the others have conversations.
        "visitors": 1,
        "attachments": 0,
        "webhook_deliveries": 0,
    }
    left = set(Conversation.objects.values_list("pk", flat=True))
    assert left == {history[k].pk for k in ("just_inside", "open_old", "recent")}
    assert not Message.objects.filter(conversation_id=history["old"].pk).exists()
    assert Visitor.objects.filter(pk=history["old_of_contact"].visitor_id).exists()
    # Consent records are evidence: they stay, without the visitor.
    assert ConsentRecord.objects.get().visitor is None


def test_purge_is_idempotent(history, settings):
    settings.WAGTAIL_LIVECHAT_RETENTION_DAYS = 30
    retention.purge(now=NOW)
    assert retention.purge(now=NOW) == {
        "conversations": 0,
        "messages": 0,
        "survey_answers": 0,
        "visitors": 0,
        "attachments": 0,
        "webhook_deliveries": 0,
    }


def test_the_clock_decides(history):
    # A day later, the conversation closed 29 days ago is 30 days old: kept
    # (strictly older than the period goes); two days later it goes.
    assert retention.purge(now=NOW + DAY, days=30)["conversations"] == 2
    assert retention.purge(now=NOW + 2 * DAY, days=30)["conversations"] == 1
    assert not Conversation.objects.filter(pk=history["just_inside"].pk).exists()


def test_dry_run_counts_and_deletes_nothing(history):
    counts = retention.purge(now=NOW, days=30, dry_run=True)
    assert counts["conversations"] == 2 and counts["messages"] == 5
    assert Conversation.objects.count() == 5 and Message.objects.count() == 11


def test_a_reopened_conversation_is_kept(history):
    Conversation.objects.filter(pk=history["old"].pk).update(status="open")
    assert retention.purge(now=NOW, days=30)["conversations"] == 1
    assert Conversation.objects.filter(pk=history["old"].pk).exists()


def test_data_sections_purge_before_their_conversations_go(history):
    seen = []

    class Attachments(personal_data.DataSection):
        name = "attachments"

        def purge(self, conversation_ids):
            # Called while the conversations still exist (files to find).
            assert Conversation.objects.filter(pk__in=conversation_ids).count() == len(
                conversation_ids
            )
            seen.extend(conversation_ids)
            return len(conversation_ids)

    from wagtail import hooks

    with hooks.register_temporarily(personal_data.SECTION_HOOK, Attachments):
        counts = retention.purge(now=NOW, days=30)
    assert counts["attachments"] == 2
    assert set(seen) == {history["old"].pk, history["old_of_contact"].pk}


def test_bad_arguments_are_refused(history):
    with pytest.raises(ValueError):
        retention.purge(now=NOW, days=-1)
    with pytest.raises(ValueError):
        retention.purge(now=NOW, days=30, batch_size=0)


def test_the_command_for_cron(history, settings):
    out = StringIO()
    call_command("livechat_purge", stdout=out)
    assert "Retention is off" in out.getvalue()

    settings.WAGTAIL_LIVECHAT_RETENTION_DAYS = 30
    out = StringIO()
    call_command("livechat_purge", dry_run=True, stdout=out)
    # The command's clock is the real one: everything closed 29+ days
    # before NOW is long past retention by then.
    assert out.getvalue().startswith("Would remove:")
    assert Conversation.objects.count() == 5

    out = StringIO()
    call_command("livechat_purge", days=10000, stdout=out)
    assert out.getvalue().strip() == (
        "Removed: 0 conversations, 0 messages, 0 survey_answers, 0 visitors, "
        "0 attachments, 0 webhook_deliveries"
    )
    with pytest.raises(CommandError):
        call_command("livechat_purge", days=-3, stdout=StringIO())
