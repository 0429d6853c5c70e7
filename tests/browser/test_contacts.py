"""A contact's page in the admin, in Chromium: the consents as asked and the
conversations, axe-clean; Erase asks, then erases."""

import re

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from tests.browser.axe import axe_violations
from tests.browser.test_inbox import log_in
from wagtail_livechat.models import Chatflow, ConsentRecord, Contact, Conversation, Message, Visitor

pytestmark = pytest.mark.browser


@pytest.fixture
def ann(demo):
    chatflow = Chatflow.objects.get(name="Website chat")
    contact = Contact.objects.create(email="ann@example.com", name="Ann")
    visitor = Visitor.objects.create(contact=contact)
    talk = Conversation.objects.create(
        inbox=chatflow.inbox, chatflow=chatflow, visitor=visitor, last_message="Where is my order?"
    )
    Message.objects.create(
        conversation=talk, seq=1, author="visitor", body="Where is my order?", sender="v1"
    )
    ConsentRecord.objects.create(
        kind="data",
        given=True,
        text="We keep your messages to answer you.",
        contact=contact,
        visitor=visitor,
        chatflow=chatflow,
    )
    return contact, talk


def test_the_contact_page_shows_consents_and_conversations_and_erases(page, ann):
    contact, talk = ann
    log_in(page)
    page.goto(reverse("wagtail_livechat_contacts:inspect", args=[contact.pk]))
    consents = page.get_by_role("table").filter(has_text="Text shown")
    expect(consents).to_contain_text("We keep your messages to answer you.")
    expect(consents).to_contain_text("Given")
    link = page.get_by_role("link", name=f"Conversation {talk.pk}")
    expect(link).to_have_attribute(
        "href", reverse("wagtail_livechat_inbox:conversation", args=[talk.pk])
    )
    assert axe_violations(page) == []

    page.get_by_role("link", name="Erase", exact=True).last.click()
    page.wait_for_url(re.compile(r"/erase/"))
    expect(page.get_by_role("main")).to_contain_text("1 consent record stays as proof")
    assert axe_violations(page) == []
    page.get_by_role("button", name="Yes, erase").click()
    expect(page.get_by_text("Ann has been erased.")).to_be_visible()
    contact.refresh_from_db()
    assert contact.erased_at is not None and contact.email is None
    assert Message.objects.get(conversation=talk).body == "[erased]"
