"""The agents' everyday tools in the inbox (inbox.js), in Chromium against a
live ASGI server: search and filters that apply at once, labels, the list
beside an open conversation, the unread count in the tab's title, the
optional sound, and the visitor's context in the side panel."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.axe import axe_violations
from tests.browser.test_chat_e2e import open_chat, send
from tests.browser.test_inbox import log_in, visitor_writes
from wagtail_livechat.models import Conversation, ConversationLabel

pytestmark = pytest.mark.browser

FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0"

# Counts the tones the page makes (WebAudio oscillators), before any script runs.
COUNT_TONES = """
window.tones = 0;
const Context = window.AudioContext || window.webkitAudioContext;
if (Context) {
  const create = Context.prototype.createOscillator;
  Context.prototype.createOscillator = function () { window.tones += 1; return create.call(this); };
}
"""


@pytest.fixture
def context(context, live_server_url):
    context.livechat_base_url = live_server_url  # for the visitors' contexts
    return context


def rows(page):
    return page.locator("tr[data-conversation]")


def box(locator):
    return locator.bounding_box()


def test_search_labels_and_the_list_beside_the_conversation(page, context, demo):
    visitor_writes(context, "Can I pay by invoice?").context.close()
    visitor_writes(context, "Is there a free trial?").context.close()
    invoice = Conversation.objects.get(messages__body="Can I pay by invoice?")
    log_in(page)
    page.goto("/admin/livechat/")
    expect(page.locator(".livechat-connection")).to_have_attribute("data-state", "connected")
    expect(rows(page)).to_have_count(2)
    # Filters apply at once: no submit button, no reload.
    expect(page.get_by_role("button", name="Filter")).to_be_hidden()
    page.evaluate("() => (window.stayed = true)")
    page.get_by_role("searchbox", name="Search conversations").fill("invoice")
    expect(rows(page)).to_have_count(1)
    expect(rows(page).first).to_contain_text("Can I pay by invoice?")
    expect(page.get_by_role("status").filter(has_text="found")).to_have_text("1 conversation found")
    assert page.evaluate("() => window.stayed") is True
    assert "q=invoice" in page.url
    assert page.get_by_role("searchbox", name="Search conversations").evaluate(
        "(e) => e === document.activeElement"
    )
    assert axe_violations(page) == []

    # The conversation opens beside the list (the search kept).
    page.set_viewport_size({"width": 1600, "height": 900})
    rows(page).first.get_by_role("link").click()
    page.wait_for_url(re.compile(rf"/admin/livechat/{invoice.pk}/\?q=invoice$"))
    side = page.get_by_role("navigation", name="Conversations")
    thread = page.get_by_role("log")
    expect(side.get_by_role("link", name=re.compile("invoice"))).to_have_attribute(
        "aria-current", "page"
    )
    expect(side.locator("[data-conversation]")).to_have_count(1)
    expect(page.locator("[data-livechat-conversation-target=connection]")).to_have_text("Live")
    side_box, thread_box, context_box = (
        box(side),
        box(thread),
        box(page.locator(".livechat-context")),
    )
    assert side_box["x"] + side_box["width"] <= thread_box["x"]
    assert thread_box["x"] + thread_box["width"] <= context_box["x"]
    assert abs(side_box["y"] - thread_box["y"]) < 80  # one row of three
    # Narrow: stacked, the conversation first.
    page.set_viewport_size({"width": 700, "height": 900})
    expect(thread).to_be_visible()
    assert box(side)["y"] > box(thread)["y"] + box(thread)["height"]
    page.set_viewport_size({"width": 1600, "height": 900})

    # Labels: added, shown in the panel and in the list beside, removed.
    label = page.get_by_label("Add a label")
    label.fill("Billing")
    label.press("Enter")
    labels = page.locator("[data-livechat-conversation-target=labels]")
    expect(labels).to_contain_text("billing")
    expect(side.locator(".livechat-label")).to_have_text(["billing"])
    expect(label).to_have_value("")
    assert list(ConversationLabel.objects.values_list("name", flat=True)) == ["billing"]
    page.get_by_role("button", name="Remove label billing").click()
    expect(labels).to_have_text("No labels")
    expect(side.locator(".livechat-label")).to_have_count(0)
    expect(label).to_be_focused()
    label.fill("billing")
    label.press("Enter")
    expect(labels).to_contain_text("billing")
    assert axe_violations(page) == []

    # The list filters by label, at once.
    page.goto("/admin/livechat/")
    expect(rows(page)).to_have_count(2)
    expect(rows(page).filter(has_text="invoice").locator(".livechat-label")).to_have_text(
        ["billing"]
    )
    page.get_by_label("Label").select_option("billing")
    expect(rows(page)).to_have_count(1)
    expect(rows(page).first).to_contain_text("invoice")
    assert "label=billing" in page.url
    page.get_by_label("Label").select_option("")
    expect(rows(page)).to_have_count(2)


def test_the_title_counts_unread_and_the_sound_is_optional(page, context, demo):
    page.add_init_script(COUNT_TONES)
    log_in(page)
    page.goto("/admin/livechat/")
    expect(page.locator(".livechat-connection")).to_have_attribute("data-state", "connected")
    title = page.title()
    assert not title.startswith("(")
    sound = page.get_by_label("Sound for new messages")
    expect(sound).not_to_be_checked()  # off by default

    visitor_writes(context, "First!").context.close()
    expect(page).to_have_title(f"(1) {title}")
    assert page.evaluate("() => window.tones") == 0  # no sound unless asked for
    assert page.evaluate("() => localStorage.getItem('wagtail-livechat:sound')") is None

    sound.check()
    assert page.evaluate("() => localStorage.getItem('wagtail-livechat:sound')") == "1"
    assert page.evaluate("() => window.tones") == 1  # what it sounds like
    visitor_writes(context, "Second!").context.close()
    expect(page).to_have_title(f"(2) {title}")
    page.wait_for_function("() => window.tones === 2")

    page.reload()
    expect(page.get_by_label("Sound for new messages")).to_be_checked()  # remembered
    expect(page).to_have_title(f"(2) {title}")
    # Reading one takes it off the count, here and on the list.
    rows(page).filter(has_text="First!").get_by_role("link").click()
    expect(page.get_by_role("log")).to_contain_text("First!")
    expect(page).to_have_title(re.compile(r"^\(1\) "))
    page.get_by_role("navigation", name="Conversations").get_by_role(
        "link", name=re.compile("Conversations")
    ).click()
    expect(page).to_have_title(f"(1) {title}")


def test_the_visitors_context_in_the_side_panel(page, browser, live_server_url, demo):
    visitor = browser.new_context(
        base_url=live_server_url,
        user_agent=FIREFOX,
        timezone_id="Asia/Tokyo",
        viewport={"width": 1280, "height": 800},
    )
    visitor_page = visitor.new_page()
    dialog = open_chat(visitor_page, "/")
    send(dialog, "Hello from Tokyo")
    conversation = Conversation.objects.get()
    assert (conversation.browser, conversation.os, conversation.device) == (
        "Firefox 121",
        "Windows 10",
        "desktop",
    )
    assert conversation.time_zone == "Asia/Tokyo"

    log_in(page)
    page.goto(f"/admin/livechat/{conversation.pk}/")
    facts = page.locator("[data-livechat-conversation-target=visitor]")
    expect(facts).to_contain_text("Firefox 121")
    expect(facts).to_contain_text("Windows 10")
    expect(facts).to_contain_text("Desktop")
    expect(facts.locator("[data-slot=local_time]")).to_contain_text("(Asia/Tokyo)")
    pages = page.locator("[data-livechat-conversation-target=pages] li")
    expect(pages).to_have_count(1)

    # The visitor browses on: the widget reconnects and tells the page.
    visitor_page.goto("/about/")
    expect(pages).to_have_count(2)
    expect(pages.last.get_by_role("link")).to_have_attribute("href", re.compile(r"/about/$"))
    expect(page.locator("[data-livechat-conversation-target=page]")).to_contain_text("About")
    assert axe_violations(page) == []
    visitor.close()
