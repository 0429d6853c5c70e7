"""Consent records: each consent a visitor answers is kept with the exact text
shown, the choice, the time, the chatflow and its published revision; and
the editor's "reset to the default text" button."""

import pytest
from django.urls import reverse
from django.utils import translation

from tests.livechat_factories import make_agent, make_chatflow, make_inbox
from tests.sockets import db, receive_until, visitor_socket
from wagtail_livechat import defaults, service
from wagtail_livechat.models import Chatflow, ConsentRecord, Contact, Visitor

pytestmark = [pytest.mark.django_db(transaction=True)]

DATA_TEXT = "We keep what you write for 30 days. OK?"


@pytest.fixture
def chatflow(db):
    agent = make_agent("alex", first_name="Alex")
    inbox = make_inbox(members=[agent])
    return make_chatflow(
        inbox,
        data_consent="explicit",
        data_consent_text=DATA_TEXT,
        communication_consent=True,
        subscription_type="Newsletter",
        communication_consent_label="Send me the monthly newsletter",
        cookie_consent="before_chat",
    )


def test_the_email_frame_records_both_consents_with_the_texts_and_revision(chatflow):
    visitor = Visitor.objects.create()
    service.capture_email(
        visitor, email="Ann@Example.com", subscribe=False, consent=True, chatflow_id=chatflow.pk
    )
    records = {r.kind: r for r in ConsentRecord.objects.all()}
    assert set(records) == {"data", "communication"}
    data, communication = records["data"], records["communication"]
    assert (data.given, data.text) == (True, DATA_TEXT)
    assert (communication.given, communication.text, communication.subscription_type) == (
        False,
        "Send me the monthly newsletter",
        "Newsletter",
    )
    contact = Contact.objects.get()
    for record in records.values():
        assert record.visitor == visitor and record.contact == contact
        assert record.chatflow == chatflow
        assert record.revision_id == chatflow.live_revision_id is not None
        assert record.created_at is not None
    # What the record names is what that revision said.
    assert record.revision.as_object().data_consent_text == DATA_TEXT


def test_a_new_revision_is_recorded_as_such_and_old_records_keep_their_text(chatflow):
    visitor = Visitor.objects.create()
    service.record_consent(visitor, chatflow.pk, "data", True)
    first_revision = chatflow.live_revision_id
    chatflow.data_consent_text = ""  # the default text from now on
    chatflow.save_revision().publish()
    chatflow.refresh_from_db()
    service.record_consent(visitor, chatflow.pk, "data", True)
    old, new = ConsentRecord.objects.order_by("pk")
    assert (old.text, old.revision_id) == (DATA_TEXT, first_revision)
    assert new.revision_id == chatflow.live_revision_id != first_revision
    assert new.text == str(defaults.DATA_CONSENT_TEXT)


def test_default_texts_are_recorded_in_the_chatflows_language(chatflow):
    Chatflow.objects.filter(pk=chatflow.pk).update(language="nl", cookie_consent_text="")
    visitor = Visitor.objects.create()
    service.record_consent(visitor, chatflow.pk, "cookies", True)
    with translation.override("nl"):
        expected = str(defaults.COOKIE_CONSENT_TEXT)
    assert ConsentRecord.objects.get().text == expected


def test_nothing_is_recorded_for_a_consent_the_chatflow_does_not_ask(chatflow):
    Chatflow.objects.filter(pk=chatflow.pk).update(cookie_consent="off", data_consent="off")
    visitor = Visitor.objects.create()
    for kind in ("cookies", "data"):
        with pytest.raises(service.ServiceError) as error:
            service.record_consent(visitor, chatflow.pk, kind, True)
        assert error.value.code == "forbidden"
    service.capture_email(
        visitor, email="ann@example.com", subscribe=False, consent=True, chatflow_id=chatflow.pk
    )
    assert list(ConsentRecord.objects.values_list("kind", flat=True)) == ["communication"]


async def test_the_consent_frame_records_cookies_and_data(chatflow):
    visitor = await db(Visitor.objects.create)
    ws, _ = await visitor_socket(visitor, chatflow)
    await ws.send_json_to({"type": "consent", "kind": "cookies", "given": True})
    await ws.send_json_to({"type": "consent", "kind": "data", "given": True})
    await ws.send_json_to({"type": "ping"})
    await receive_until(ws, "pong")
    records = await db(
        lambda: list(ConsentRecord.objects.order_by("pk").values_list("kind", "given", "text"))
    )
    assert records == [
        ("cookies", True, str(defaults.COOKIE_CONSENT_TEXT)),
        ("data", True, DATA_TEXT),
    ]
    await ws.disconnect()

    # Before the visitor has an identity nothing can be recorded.
    anonymous, _ = await visitor_socket(None, chatflow)
    await anonymous.send_json_to({"type": "consent", "kind": "cookies", "given": True})
    error, _ = await receive_until(anonymous, "error")
    assert error["code"] == "identify"
    assert await db(ConsentRecord.objects.count) == 2
    await anonymous.disconnect()


@pytest.mark.django_db
def test_the_editor_offers_reset_to_default_text_from_a_static_script(admin_client, chatflow):
    page = admin_client.get(
        reverse("wagtail_livechat_chatflows:edit", args=[chatflow.pk])
    ).content.decode()
    assert "wagtail_livechat/default-text.js" in page
    import re

    tags = re.findall(r"<(?:input|textarea)[^>]*data-livechat-defaults=[^>]*>", page)
    names = {re.search(r'name="([^"]+)"', tag)[1] for tag in tags}
    assert names == {"cookie_consent_text", "data_consent_text", "survey_question"}
    assert "Reset to the default text" in page
    # The defaults in each language of the site, for the language chosen.
    with translation.override("nl"):
        dutch = str(defaults.DATA_CONSENT_TEXT)
    import html
    import json

    blobs = [
        json.loads(html.unescape(b)) for b in re.findall(r'data-livechat-defaults="([^"]*)"', page)
    ]
    assert any(
        blob.get("nl") == dutch and blob.get("en") == str(defaults.DATA_CONSENT_TEXT)
        for blob in blobs
    )
