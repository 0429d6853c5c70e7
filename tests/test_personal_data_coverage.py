"""The personal data added after personal_data.py was written: each
conversation's visitor context and labels, attachments (rows and files in
storage) and webhook deliveries, through export, erasure and retention."""

import json
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.urls import reverse

from tests import attachment_files as files
from tests.livechat_factories import make_agent, make_inbox
from wagtail_livechat import attachments, events, personal_data, retention
from wagtail_livechat.models import (
    Attachment,
    Contact,
    Conversation,
    ConversationLabel,
    Message,
    Visitor,
    Webhook,
    WebhookDelivery,
)

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
PAGES = [{"url": "https://example.com/pricing", "title": "Pricing", "at": NOW.isoformat()}]


def talk_of(contact, inbox, **context):
    visitor = Visitor.objects.create(contact=contact)
    talk = Conversation.objects.create(
        inbox=inbox, visitor=visitor, status="closed", closed_at=NOW - 40 * DAY, **context
    )
    sender = f"v{visitor.pk}"
    sent = attachments.receive(
        files.upload(files.PDF, "invoice.pdf"), conversation=talk, sender=sender
    )
    Message.objects.create(
        conversation=talk,
        seq=1,
        author="visitor",
        body="my invoice",
        sender=sender,
        attachment=sent,
    )
    # Uploaded, never sent: still the person's.
    attachments.receive(
        files.upload(files.image("PNG"), "me.png"), conversation=talk, sender=sender
    )
    return talk


def deliver(webhook, event, data, *, days_ago=0):
    return WebhookDelivery.objects.create(
        webhook=webhook,
        event=event,
        payload={"event": event, "data": data},
        created_at=NOW - days_ago * DAY,
    )


@pytest.fixture
def world(db):
    inbox = make_inbox(members=[make_agent("olivia")])
    ann = Contact.objects.create(email="ann@example.com", name="Ann")
    talk = talk_of(
        ann,
        inbox,
        browser="Firefox 133",
        os="Linux",
        device="desktop",
        time_zone="Europe/Paris",
        pages=PAGES,
    )
    ConversationLabel.objects.create(conversation=talk, name="vip")
    ConversationLabel.objects.create(conversation=talk, name="refund")
    bob = Contact.objects.create(email="bob@example.com", name="Bob")
    bob_talk = talk_of(bob, inbox, browser="Chrome 131")
    ConversationLabel.objects.create(conversation=bob_talk, name="vip")
    hook = Webhook.objects.create(name="CRM", url="https://crm.example.com/", events=["x"])
    about_ann = [
        deliver(hook, "contact.updated", events.contact_payload(ann)),
        deliver(hook, "conversation.closed", events.conversation_payload(talk)),
        deliver(
            hook,
            "message.created",
            {"id": 1, "conversation": talk.pk, "visitor": talk.visitor_id, "body": "my invoice"},
        ),
        deliver(hook, "survey.answered", {"id": 1, "conversation": talk.pk, "comment": "Ann"}),
    ]
    # Bob's, with ids that are Ann's in another event: they stay.
    about_bob = [
        deliver(hook, "contact.updated", {**events.contact_payload(bob), "owner": ann.pk}),
        deliver(hook, "conversation.closed", events.conversation_payload(bob_talk)),
        deliver(
            hook,
            "message.created",
            {"id": talk.pk, "conversation": bob_talk.pk, "visitor": bob_talk.visitor_id},
        ),
        deliver(hook, "survey.answered", {"id": ann.pk, "conversation": bob_talk.pk}),
    ]
    found = {
        "ann": ann,
        "talk": talk,
        "bob_talk": bob_talk,
        "about_ann": about_ann,
        "about_bob": about_bob,
        "ann_files": list(talk.attachments.values_list("file", flat=True)),
        "bob_files": list(bob_talk.attachments.values_list("file", flat=True)),
    }
    yield found
    for name in found["ann_files"] + found["bob_files"]:
        default_storage.delete(name)


def stored(names):
    return [name for name in names if default_storage.exists(name)]


# -- Access --------------------------------------------------------------------


def test_the_export_has_the_context_the_labels_and_the_attachments(world):
    data = personal_data.export(world["ann"], now=NOW)
    (conversation,) = data["conversations"]
    assert conversation["visitor_context"] == {
        "browser": "Firefox 133",
        "os": "Linux",
        "device": "desktop",
        "time_zone": "Europe/Paris",
        "pages": PAGES,
    }
    assert conversation["labels"] == ["refund", "vip"]
    sent, unsent = data["attachments"]
    invoice = Attachment.objects.get(conversation=world["talk"], name="invoice.pdf")
    assert sent == {
        "conversation": world["talk"].pk,
        "message": 1,
        "name": "invoice.pdf",
        "size": len(files.PDF),
        "kind": "document",
        "content_type": "application/pdf",
        "sender": f"v{world['talk'].visitor_id}",
        "uploaded_at": invoice.created_at,
        "url": reverse("wagtail_livechat:attachment", args=[invoice.key]),
    }
    assert (unsent["name"], unsent["kind"], unsent["message"]) == ("me.png", "image", None)
    # Only Ann's, and it serialises.
    assert json.loads(personal_data.to_json(data))["attachments"][0]["name"] == "invoice.pdf"


# -- Erasure -----------------------------------------------------------------------


def test_the_plan_counts_everything_and_changes_nothing(world):
    plan = personal_data.erasure_plan(world["ann"], mode="anonymise")
    assert plan.as_dict()["attachments"] == 2
    assert (plan.labels, plan.webhook_deliveries) == (2, 4)
    assert len(stored(world["ann_files"])) == 2
    assert WebhookDelivery.objects.count() == 8


@pytest.mark.parametrize("mode", ["anonymise", "delete"])
def test_erasure_leaves_no_file_no_context_and_no_delivery(
    world, mode, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        result = personal_data.erase(world["ann"], mode=mode)
    assert result.as_dict()["attachments"] == 2
    assert (result.labels, result.webhook_deliveries) == (2, 4)
    assert stored(world["ann_files"]) == []
    assert not Attachment.objects.filter(conversation=world["talk"]).exists()
    assert not ConversationLabel.objects.filter(conversation=world["talk"]).exists()
    left = set(WebhookDelivery.objects.values_list("pk", flat=True))
    assert left == {delivery.pk for delivery in world["about_bob"]}
    if mode == "anonymise":
        talk = Conversation.objects.get(pk=world["talk"].pk)
        context = (talk.browser, talk.os, talk.device, talk.time_zone, talk.pages)
        assert context == ("", "", "", "", [])
        message = Message.objects.get(conversation=talk)
        assert (message.body, message.attachment_id) == ("[erased]", None)
    else:
        assert not Conversation.objects.filter(pk=world["talk"].pk).exists()
    # Bob's are untouched.
    assert len(stored(world["bob_files"])) == 2
    assert Conversation.objects.get(pk=world["bob_talk"].pk).browser == "Chrome 131"
    assert ConversationLabel.objects.filter(conversation=world["bob_talk"]).count() == 1


def test_the_admin_says_what_goes_before_erasing(world, admin_client):
    page = admin_client.get(
        reverse("wagtail_livechat_contacts:erase", args=[world["ann"].pk])
    ).content.decode()
    assert "2 files sent in their conversations will be deleted." in page
    assert "4 webhook deliveries about them will be deleted" in page
    assert "time zone and pages visited" in page


def test_an_erasure_that_fails_keeps_the_files(world, django_capture_on_commit_callbacks):
    class Broken(personal_data.DataSection):
        name = "broken"

        def erase(self, conversations, mode):
            raise RuntimeError("disk full")

    from wagtail import hooks

    with (
        hooks.register_temporarily(personal_data.SECTION_HOOK, Broken),
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
    ):
        personal_data.erase(world["ann"], mode="delete")
    assert callbacks == []  # rolled back: no file deletion was ever due
    assert len(stored(world["ann_files"])) == 2


# -- Retention -----------------------------------------------------------------------


def test_the_purge_deletes_the_files_and_the_old_deliveries(
    world, django_capture_on_commit_callbacks
):
    old = deliver(world["about_ann"][0].webhook, "contact.updated", {"id": 0}, days_ago=31)
    recent = deliver(old.webhook, "contact.updated", {"id": 0}, days_ago=29)
    WebhookDelivery.objects.exclude(pk__in=[old.pk, recent.pk]).update(created_at=NOW - 40 * DAY)

    dry = retention.purge(now=NOW, days=30, dry_run=True)
    assert (dry["conversations"], dry["attachments"], dry["webhook_deliveries"]) == (2, 4, 9)
    assert len(stored(world["ann_files"] + world["bob_files"])) == 4
    assert WebhookDelivery.objects.count() == 10

    with django_capture_on_commit_callbacks(execute=True):
        counts = retention.purge(now=NOW, days=30, batch_size=4)
    assert (counts["conversations"], counts["attachments"]) == (2, 4)
    assert counts["webhook_deliveries"] == 9
    assert stored(world["ann_files"] + world["bob_files"]) == []
    assert list(WebhookDelivery.objects.values_list("pk", flat=True)) == [recent.pk]
    assert retention.purge(now=NOW, days=30)["webhook_deliveries"] == 0


def test_the_commands_dry_runs_count_them(world):
    out = StringIO()
    call_command("livechat_erase", email="ann@example.com", dry_run=True, stdout=out)
    lines = out.getvalue().splitlines()
    assert {"  attachments: 2", "  labels: 2", "  webhook_deliveries: 4"} <= set(lines)
    out = StringIO()
    # The command reads the real clock: with 0 days, all of it (made at NOW) is past.
    call_command("livechat_purge", dry_run=True, days=0, stdout=out)
    assert out.getvalue().strip().endswith("4 attachments, 8 webhook_deliveries")
    assert len(stored(world["ann_files"] + world["bob_files"])) == 4
