"""Right of access and erasure (personal_data.py) and their commands,
``livechat_export`` and ``livechat_erase``."""

import json
from datetime import UTC, datetime
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from wagtail import hooks
from wagtail.models import ModelLogEntry

from tests.livechat_factories import make_agent, make_chatflow, make_inbox
from wagtail_livechat import audit, personal_data
from wagtail_livechat.models import (
    ConsentRecord,
    Contact,
    Conversation,
    Message,
    SurveyAnswer,
    Visitor,
)

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def ann(db):
    olivia = make_agent("olivia", first_name="Olivia")
    inbox = make_inbox(members=[olivia])
    chatflow = make_chatflow(inbox)
    contact = Contact.objects.create(
        email="ann@example.com",
        name="Ann",
        owner=olivia,
        external_id="site-7",
        data_consent_at=NOW,
        subscriptions=[{"type": "news", "at": NOW.isoformat()}],
    )
    phone = Visitor.objects.create(contact=contact, page_url="https://example.com/me")
    laptop = Visitor.objects.create(contact=contact, pending_consents={"data": NOW.isoformat()})
    talks = []
    for visitor in (phone, laptop):
        talk = Conversation.objects.create(
            inbox=inbox, chatflow=chatflow, visitor=visitor, assignee=olivia, last_message="Hi"
        )
        Message.objects.create(
            conversation=talk, seq=1, author="visitor", body="I am Ann", sender=f"v{visitor.pk}"
        )
        Message.objects.create(
            conversation=talk,
            seq=2,
            author="agent",
            user=olivia,
            name="Olivia",
            body="Hello Ann",
            sender=f"u{olivia.pk}",
        )
        Message.objects.create(
            conversation=talk, seq=3, author="agent", body="VIP", note=True, sender="u1"
        )
        talks.append(talk)
    SurveyAnswer.objects.create(conversation=talks[0], rating=5, comment="Ann was helped")
    ConsentRecord.objects.create(
        kind="data",
        given=True,
        text="We keep it.",
        contact=contact,
        visitor=phone,
        chatflow=chatflow,
    )
    # Someone else's, untouched by all of this.
    bob = Contact.objects.create(email="bob@example.com", name="Bob")
    bob_talk = Conversation.objects.create(inbox=inbox, visitor=Visitor.objects.create(contact=bob))
    Message.objects.create(
        conversation=bob_talk, seq=1, author="visitor", body="I am Bob", sender="v0"
    )
    return contact


# -- Access --------------------------------------------------------------------


def test_the_export_has_everything_about_the_contact_and_nothing_else(ann):
    data = personal_data.export(ann, now=NOW)
    assert data["format"] == personal_data.FORMAT
    assert data["contact"]["email"] == "ann@example.com"
    assert data["contact"]["owner"] == "olivia"
    assert data["contact"]["external_id"] == "site-7"
    assert len(data["visitors"]) == 2
    assert "key" not in data["visitors"][0]  # a credential, not data
    assert data["visitors"][0]["page_url"] == "https://example.com/me"
    assert len(data["conversations"]) == 2
    bodies = [m["body"] for c in data["conversations"] for m in c["messages"]]
    assert bodies.count("I am Ann") == 2 and "I am Bob" not in bodies
    assert [m["note"] for m in data["conversations"][0]["messages"]] == [False, False, True]
    assert data["consent_records"] == [
        {
            "kind": "data",
            "given": True,
            "text": "We keep it.",
            "subscription_type": "",
            "chatflow": "Chat",
            "visitor": ann.visitors.order_by("pk")[0].pk,
            "created_at": data["consent_records"][0]["created_at"],
        }
    ]
    assert data["survey_answers"][0]["comment"] == "Ann was helped"
    # It serialises (dates as ISO 8601).
    assert json.loads(personal_data.to_json(data))["exported_at"] == "2026-12-01T12:00:00Z"


def test_export_command_prints_the_json_and_logs_it(ann):
    out = StringIO()
    call_command("livechat_export", email="ANN@example.com", stdout=out)
    assert json.loads(out.getvalue())["contact"]["name"] == "Ann"
    entry = ModelLogEntry.objects.get(action=audit.EXPORT)
    assert entry.object_id == str(ann.pk) and entry.user is None
    with pytest.raises(CommandError, match="No contact"):
        call_command("livechat_export", email="nobody@example.com", stdout=StringIO())


class Attachments(personal_data.DataSection):
    """A section as the attachments module will add one."""

    name = "attachments"
    erased = []

    def export(self, conversations):
        return [{"conversation": pk} for pk in conversations.values_list("pk", flat=True)]

    def erase(self, conversations, mode):
        self.erased.append(mode)
        return conversations.count()


def test_data_sections_extend_the_export_and_the_erasure(ann):
    with hooks.register_temporarily(personal_data.SECTION_HOOK, Attachments):
        data = personal_data.export(ann)
        assert len(data["attachments"]) == 2
        result = personal_data.erase(ann)
    assert Attachments.erased == ["anonymise"]
    assert result.as_dict()["attachments"] == 2


# -- Erasure -----------------------------------------------------------------------


def test_erasure_anonymises_messages_and_keeps_the_consent_records(ann, settings):
    settings.WAGTAIL_LIVECHAT_ERASURE = "anonymise"
    keys = set(ann.visitors.values_list("key", flat=True))
    result = personal_data.erase(ann, now=NOW)

    assert (result.conversations, result.messages, result.visitors) == (2, 6, 2)
    ann.refresh_from_db()
    assert ann.erased_at == NOW
    assert (ann.email, ann.name, ann.external_id, ann.owner) == (None, "", "", None)
    assert (ann.data_consent_at, ann.subscriptions, ann.email_confirmed_at) == (None, [], None)
    # Proof of consent stays, on the emptied contact.
    record = ConsentRecord.objects.get()
    assert record.contact == ann and record.text == "We keep it."
    # The conversations stay for the reports, without a word of what was said.
    talks = Conversation.objects.filter(visitor__in=Visitor.objects.filter(contact=None))
    assert talks.count() == 2 and set(talks.values_list("last_message", flat=True)) == {""}
    erased = Message.objects.filter(conversation__in=talks)
    assert set(erased.values_list("body", flat=True)) == {"[erased]"}
    assert set(erased.values_list("name", flat=True)) == {""}
    assert SurveyAnswer.objects.get().comment == "" and SurveyAnswer.objects.get().rating == 5
    # The browsers are strangers now: new keys, no page, no pending consents.
    visitors = Visitor.objects.filter(conversations__in=talks)
    assert not keys & set(visitors.values_list("key", flat=True))
    assert set(visitors.values_list("page_url", flat=True)) == {""}
    # Bob is untouched.
    assert Message.objects.filter(body="I am Bob").exists()
    assert Contact.objects.get(email="bob@example.com").name == "Bob"


def test_erasure_deletes_conversations_when_configured(ann, settings):
    settings.WAGTAIL_LIVECHAT_ERASURE = "delete"
    visitor_ids = list(ann.visitors.values_list("pk", flat=True))
    result = personal_data.erase(ann)
    assert (result.mode, result.conversations, result.messages) == ("delete", 2, 6)
    assert not Visitor.objects.filter(pk__in=visitor_ids).exists()
    assert Conversation.objects.count() == 1  # Bob's
    assert not SurveyAnswer.objects.exists()
    record = ConsentRecord.objects.get()
    assert record.visitor is None and record.contact_id == ann.pk


def test_erasure_without_keeping_consents_deletes_the_contact(ann, settings):
    settings.WAGTAIL_LIVECHAT_ERASURE_KEEP_CONSENTS = False
    pk = ann.pk
    result = personal_data.erase(ann)
    assert result.contact_deleted and result.consent_records_deleted == 1
    assert not Contact.objects.filter(pk=pk).exists()
    assert not ConsentRecord.objects.exists()
    # The audit entry outlives the row, without the name.
    entry = ModelLogEntry.objects.get(action=audit.ERASE)
    assert entry.object_id == str(pk) and entry.label == f"Erased contact {pk}"


def test_a_bad_erasure_setting_is_refused_before_anything_changes(ann, settings):
    settings.WAGTAIL_LIVECHAT_ERASURE = "shred"
    with pytest.raises(ValueError, match="WAGTAIL_LIVECHAT_ERASURE"):
        personal_data.erase(ann)
    assert Contact.objects.get(pk=ann.pk).email == "ann@example.com"


def test_erase_command_dry_run_changes_nothing_then_erases(ann):
    out = StringIO()
    call_command("livechat_erase", email="ann@example.com", dry_run=True, stdout=out)
    assert "dry run" in out.getvalue() and "messages: 6" in out.getvalue()
    assert Contact.objects.get(pk=ann.pk).email == "ann@example.com"
    assert not ModelLogEntry.objects.filter(action=audit.ERASE).exists()

    out = StringIO()
    call_command("livechat_erase", email="ann@example.com", mode="delete", stdout=out)
    assert "conversations: 2" in out.getvalue() and "mode: delete" in out.getvalue()
    assert Contact.objects.get(pk=ann.pk).erased_at is not None
    assert ModelLogEntry.objects.filter(action=audit.ERASE).count() == 1
    with pytest.raises(CommandError, match="No contact"):
        call_command("livechat_erase", email="ann@example.com", stdout=StringIO())
