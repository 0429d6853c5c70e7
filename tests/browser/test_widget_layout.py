"""The widget as a visitor meets it: on a phone, with axe, with links, times
and states in the messages, the knowledge-base search, and cookie consent
asked on exit intent."""

import re

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from tests.browser.axe import axe_violations
from tests.browser.test_chat_e2e import (  # noqa: F401 (agent: the fixture)
    COOKIE,
    _record_dialogs,
    agent,
    chat_dialog,
    launcher,
    log_in,
    message_box,
    messages,
    open_chat,
    open_conversation,
    reply,
    send,
    thread,
    toggle,
    widget,
)
from wagtail_livechat.models import Chatflow, Conversation, Visitor

pytestmark = pytest.mark.browser

PHONE = {"width": 360, "height": 640}

# Every text of the page (the widget's host aside) as boxes on screen.
TEXT_BOXES = """() => {
  const boxes = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node; (node = walker.nextNode()); ) {
    if (!node.textContent.trim() || node.parentElement.closest("#wagtail-livechat-root, script")) continue;
    const range = document.createRange();
    range.selectNodeContents(node);
    for (const r of range.getClientRects()) boxes.push({x: r.x, y: r.y, width: r.width, height: r.height});
  }
  return boxes;
}"""


def overlaps(a, b):
    return (
        a["x"] < b["x"] + b["width"]
        and b["x"] < a["x"] + a["width"]
        and a["y"] < b["y"] + b["height"]
        and b["y"] < a["y"] + a["height"]
    )


# -- On a phone -----------------------------------------------------------


def test_on_a_phone_the_chat_takes_the_whole_screen(page, demo):
    page.set_viewport_size(PHONE)
    page.goto("/")
    button = launcher(page)
    expect(button).to_be_visible()

    # Closed, the launcher covers no text of the page, wherever it is scrolled to
    # the end (the widget leaves room below the page's last line).
    page.evaluate(
        "() => { for (let i = 0; i < 40; i++) {"
        " const p = document.createElement('p'); p.textContent = 'Line ' + i + ' of the page text.';"
        " document.querySelector('main').append(p); } }"
    )
    page.evaluate("() => window.scrollTo(0, document.documentElement.scrollHeight)")
    page.wait_for_function("() => window.scrollY > 0")
    box = button.bounding_box()
    covered = [t for t in page.evaluate(TEXT_BOXES) if overlaps(t, box)]
    assert covered == []

    # Open, the chat fills the screen; the message box does not make it zoom.
    button.click()
    dialog = chat_dialog(page)
    expect(dialog).to_be_visible()
    assert dialog.bounding_box() == {"x": 0, "y": 0, **{"width": 360, "height": 640}}
    font = message_box(dialog).evaluate("el => parseFloat(getComputedStyle(el).fontSize)")
    assert font >= 16
    expect(toggle(page)).to_be_hidden()  # under the chat: its own close button closes it
    send(dialog, "Hello from a phone")
    send_box = dialog.get_by_role("button", name="Send").bounding_box()
    assert send_box["x"] + send_box["width"] <= 360 and send_box["y"] + send_box["height"] <= 640
    dialog.get_by_role("button", name="Close chat").click()
    expect(dialog).to_be_hidden()
    expect(button).to_be_visible()


def test_the_launcher_becomes_a_close_button(page, demo):
    page.goto("/")
    launcher(page).click()
    dialog = chat_dialog(page)
    expect(dialog).to_be_visible()
    closer = widget(page).get_by_role("button", name="Close chat", exact=True, expanded=True)
    expect(closer).to_be_visible()
    # Its icon is a cross now, not the speech bubble.
    icons = closer.evaluate(
        "b => [...b.querySelectorAll('path')].map((p) => getComputedStyle(p).display)"
    )
    assert icons == ["none", "inline"]
    closer.click()
    expect(dialog).to_be_hidden()
    expect(launcher(page)).to_be_focused()


# -- Accessibility --------------------------------------------------------


def test_axe_finds_nothing_with_the_chat_closed_and_open(page, demo):
    """The demo's pages have a <header>: the widget adds no second banner
    landmark (nor any other that could clash with the page's)."""
    page.goto("/")
    expect(page.locator("body > header")).to_have_count(1)
    expect(launcher(page)).to_be_visible()
    assert axe_violations(page) == []

    launcher(page).click()
    dialog = chat_dialog(page)
    expect(dialog).to_be_visible()
    send(dialog, "Checking the chat with axe: https://example.com/")
    assert axe_violations(page) == []
    assert page.get_by_role("banner").count() == 1


# -- Messages: times, states, links ----------------------------------------


LINKS = (
    "See https://example.com/a?b=1. Or mailto:help@example.com, "
    "not javascript:alert(1) nor JavaScript://x%0Aalert(2)"
)


def test_messages_show_time_state_and_safe_links(page, agent, demo):  # noqa: F811 (the fixture)
    _record_dialogs(page)  # a javascript: URL that ran would show one
    dialog = open_chat(page, "/")
    send(dialog, f"My question: {LINKS}")
    mine = messages(dialog, "visitor").first
    # Time and state: drawn by CSS from data-meta, the text stays the message.
    expect(mine).to_have_attribute("data-meta", re.compile(r"^\d{1,2}:\d{2}.* · Sent$"))
    assert mine.evaluate("el => getComputedStyle(el, '::after').content").endswith('Sent"')
    assert mine.evaluate("el => el.textContent") == f"My question: {LINKS}"

    log_in(agent)
    agent_log = open_conversation(agent, Conversation.objects.get())
    reply(agent, f"Answer: {LINKS}")

    theirs = messages(dialog, "agent")
    expect(theirs).to_have_count(1)
    expect(theirs).to_have_attribute("data-meta", re.compile(r"^\d{1,2}:\d{2}\D*$"))
    for where in (theirs, mine, agent_log.locator(".livechat-message--visitor")):
        links = where.get_by_role("link")
        expect(links).to_have_count(2)
        expect(links.first).to_have_attribute("href", "https://example.com/a?b=1")
        expect(links.last).to_have_attribute("href", "mailto:help@example.com")
        for i in range(2):
            expect(links.nth(i)).to_have_attribute("rel", "noopener noreferrer nofollow")
            expect(links.nth(i)).to_have_attribute("target", "_blank")
        expect(where.locator("a[href^=javascript], a[href^=JavaScript]")).to_have_count(0)
        assert "javascript:alert(1)" in where.inner_text()
    # The agents' side builds the links of live messages too.
    agent_links = agent_log.locator(".livechat-message--agent").get_by_role("link")
    expect(agent_links).to_have_count(2)

    # Following one opens a new tab, without access to the page.
    with page.context.expect_page() as opened:
        theirs.get_by_role("link").first.click()
    assert opened.value.evaluate("() => window.opener") is None
    assert page.livechat_dialogs == [] and agent.livechat_dialogs == []


def test_an_unsent_message_says_so(page, demo):
    page.route(re.compile(r"/livechat/visitor/$"), lambda route: route.abort())
    page.clock.install()
    dialog = open_chat(page, "/")
    box = message_box(dialog)
    box.fill("Will not leave")
    box.press("Enter")
    mine = messages(dialog, "visitor")
    expect(mine).to_have_attribute("data-meta", re.compile(r" · Sending…$"))
    page.clock.run_for(11_000)
    expect(mine).to_have_class(re.compile("failed"))
    expect(mine).to_have_attribute("data-meta", re.compile(r" · Not sent\.$"))


# -- Knowledge base ----------------------------------------------------------


def test_knowledge_base_search_as_you_type(page, demo):
    call_command("update_index", stdout=open("/dev/null", "w"))  # noqa: SIM115
    searches = []
    page.on("request", lambda r: "/livechat/search/" in r.url and searches.append(r.url))
    dialog = open_chat(page, "/")
    search = dialog.get_by_role("searchbox", name="Search help articles")
    expect(search).to_have_attribute("placeholder", "Search help articles")
    expect(dialog.get_by_role("button", name="Search help articles")).to_be_visible()

    search.press_sequentially("zzqx", delay=40)  # no Enter: it searches as one types
    nothing = dialog.get_by_text("No articles found.")
    expect(nothing).to_be_visible()
    assert len(searches) == 1  # debounced: one request for the four keys

    search.fill("")
    search.press_sequentially("password", delay=40)
    link = dialog.get_by_role("link", name="Resetting your password")
    expect(link).to_be_visible()
    expect(nothing).to_have_count(0)  # the stale answer went

    search.fill("x")  # too short to search: no answer shown
    expect(link).to_have_count(0)
    search.fill("billing")
    dialog.get_by_role("button", name="Search help articles").click()
    expect(dialog.get_by_role("link", name="Billing and invoices")).to_be_visible()


# -- Cookie consent on exit intent -----------------------------------------


def _consent_on_exit(chatflow_mode="exit_intent"):
    chatflow = Chatflow.objects.get(name="Website chat")
    chatflow.cookie_consent = chatflow_mode
    chatflow.save_revision().publish()


def leave_through(page, y):
    """The pointer leaves the window: upwards when ``y`` < 0."""
    page.mouse.move(640, 300)
    page.mouse.move(640 if y < 0 else 1300, y, steps=4)


def test_cookie_consent_is_asked_on_exit_intent(page, context, demo):
    _consent_on_exit()
    dialog = open_chat(page, "/")
    accept = dialog.get_by_role("button", name="Accept")
    expect(message_box(dialog)).to_be_visible()
    expect(accept).to_be_hidden()  # not before the chat, as "before the chat" would

    leave_through(page, 400)  # out through the side: no exit intent
    page.mouse.move(640, 300)
    expect(accept).to_be_hidden()
    leave_through(page, -20)
    expect(accept).to_be_visible()
    assert context.cookies() == []  # asked, not stored

    accept.click()
    expect(accept).to_be_hidden()
    assert context.cookies() == [] and not Visitor.objects.exists()  # not before a message
    send(dialog, "Hello")
    assert {c["name"] for c in context.cookies()} == {COOKIE}
    expect(accept).to_be_hidden()


def test_cookie_consent_on_exit_intent_is_asked_on_a_first_send_before(page, context, demo):
    _consent_on_exit()
    dialog = open_chat(page, "/")
    box = message_box(dialog)
    box.fill("Hello first")
    box.press("Enter")
    accept = dialog.get_by_role("button", name="Accept")
    expect(accept).to_be_visible()
    expect(thread(dialog).locator(".msg.pending")).to_have_count(1)
    assert context.cookies() == []
    accept.click()
    expect(thread(dialog).locator(".msg.pending")).to_have_count(0)
    assert {c["name"] for c in context.cookies()} == {COOKIE}
