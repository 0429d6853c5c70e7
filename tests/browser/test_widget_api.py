"""The JavaScript API on ``window.WagtailLivechat`` (docs/javascript-api.md):
each method and each event, the inline embed, and the demo's page of it."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.test_chat_e2e import (  # noqa: F401 (agent: the fixture)
    agent,
    chat_dialog,
    launcher,
    log_in,
    message_box,
    messages,
    open_conversation,
    reply,
    send,
    toggle,
    widget,
)
from tests.browser.test_widget_loader import wait_for_widget
from wagtail_livechat.models import Chatflow, Conversation

pytestmark = pytest.mark.browser

EVENTS = [
    "loaded",
    "opened",
    "closed",
    "message:sent",
    "message:received",
    "conversation:started",
    "conversation:closed",
    "unread",
]

# Every event the page hears, in order, as [name, detail].
RECORD = """(names) => {
  window.heard = [];
  window.listeners = {};
  for (const name of names) {
    listeners[name] = (detail) => heard.push([name, detail === undefined ? null : detail]);
    WagtailLivechat.on(name, listeners[name]);
  }
}"""


def heard(page, name=None):
    return [d for n, d in page.evaluate("() => heard") if name in (None, n)]


def wait_heard(page, name, count=1):
    page.wait_for_function(
        "([n, c]) => heard.filter((e) => e[0] === n).length >= c", arg=[name, count]
    )
    return heard(page, name)


def test_methods_and_events(page, agent, demo):  # noqa: F811 (the fixture)
    chatflow = Chatflow.objects.get(name="Website chat")
    page.goto("/")
    wait_for_widget(page, "ready")
    page.evaluate(RECORD, EVENTS)
    api = "WagtailLivechat"

    # refresh(): the widget again, from a new config; "loaded" says which.
    page.evaluate(f"() => {api}.refresh()")
    # (No agent is connected: not online.)
    assert wait_heard(page, "loaded") == [{"chatflow": chatflow.pk, "online": False}]
    status = page.evaluate(f"() => {api}.status()")
    assert status == {"state": "ready", "chatflow": chatflow.pk, "online": False}

    # open() and close().
    page.evaluate(f"() => {api}.open()")
    dialog = chat_dialog(page)
    expect(dialog).to_be_visible()
    assert wait_heard(page, "opened") == [None]
    assert page.evaluate(f"() => {api}.status().state") == "open"
    page.evaluate(f"() => {api}.close()")
    expect(dialog).to_be_hidden()
    assert wait_heard(page, "closed") == [None]

    # The visitor writes: the conversation starts, the message is sent.
    launcher(page).click()
    send(dialog, "Hello from the API test")
    conversation = Conversation.objects.get()
    started = wait_heard(page, "conversation:started")
    assert started == [{"conversation": conversation.pk}]
    sent = wait_heard(page, "message:sent")
    assert [(m["body"], m["author"], m["conversation"]) for m in sent] == [
        ("Hello from the API test", "visitor", conversation.pk)
    ]

    # An agent replies while the chat is closed: received, and unread counted.
    toggle(page).click()
    expect(dialog).to_be_hidden()
    log_in(agent)
    open_conversation(agent, conversation)
    reply(agent, "A reply")
    received = wait_heard(page, "message:received")
    assert [(m["body"], m["author"]) for m in received] == [("A reply", "agent")]
    assert wait_heard(page, "unread")[-1] == 1

    # off(): that listener hears nothing more; the others still do.
    page.evaluate(f"() => {api}.off('message:received', listeners['message:received'])")
    reply(agent, "Another reply")
    assert wait_heard(page, "unread", 2)[-1] == 2  # emitted after message:received
    assert len(heard(page, "message:received")) == 1

    # The launcher says so; opening reads them: unread goes back to 0.
    expect(toggle(page)).to_have_attribute("aria-label", re.compile(r"^Open chat \(2 "))
    toggle(page).click()
    expect(messages(dialog, "agent")).to_have_count(2)
    assert heard(page, "unread")[-1] == 0

    # The agent closes the conversation.
    agent.get_by_role("button", name="Close conversation").click()
    assert wait_heard(page, "conversation:closed") == [{"conversation": conversation.pk}]

    # remove() takes the widget away; load() brings it back.
    page.evaluate(f"() => {api}.remove()")
    expect(widget(page)).to_have_count(0)
    assert page.evaluate(f"() => {api}.status()") == {
        "state": "idle",
        "chatflow": None,
        "online": False,
    }
    page.evaluate(f"() => {api}.load()")
    expect(launcher(page)).to_be_visible()
    assert len(wait_heard(page, "loaded", 2)) == 2


def test_a_listener_that_throws_does_not_stop_the_others(context, demo):
    """Its error is reported as the page's own (a page of its own here: the
    ``page`` fixture fails a test on any uncaught error)."""
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto("/")
    wait_for_widget(page, "ready")
    page.evaluate(
        "() => WagtailLivechat.on('opened', () => { throw new Error('a bug of the page'); })"
    )
    page.evaluate(RECORD, ["opened"])
    page.evaluate("() => WagtailLivechat.open()")
    expect(chat_dialog(page)).to_be_visible()
    assert wait_heard(page, "opened") == [None]
    assert page.evaluate("() => WagtailLivechat.status().state") == "open"
    for _ in range(100):  # Playwright delivers the page's error while it waits
        if errors:
            break
        page.wait_for_timeout(50)
    assert ["a bug of the page" in e for e in errors] == [True]


def test_the_chat_embedded_inline(page, demo):
    page.goto("/")
    wait_for_widget(page, "ready")
    page.evaluate(
        "() => { const box = document.createElement('div'); box.id = 'chat-box';"
        " box.style.height = '480px'; box.style.width = '420px';"
        " document.querySelector('main').append(box); }"
    )
    page.evaluate("() => WagtailLivechat.embed('#chat-box')")
    box = page.locator("#chat-box")
    dialog = box.get_by_role("dialog")
    expect(dialog).to_be_visible()
    expect(page.locator("#wagtail-livechat-root")).to_have_count(1)  # moved, not doubled
    expect(toggle(page)).to_have_count(0)  # no launcher
    expect(dialog.get_by_role("button", name="Close chat")).to_be_hidden()
    outer, inner = box.bounding_box(), dialog.bounding_box()
    assert inner == outer  # it fills the element
    assert page.evaluate("() => WagtailLivechat.status().state") == "open"

    # It works as the floating chat does; Escape does not close it.
    message_box(dialog).click()
    send(dialog, "Hello inline")
    page.keyboard.press("Escape")
    expect(dialog).to_be_visible()
    assert Conversation.objects.get().messages.get().body == "Hello inline"


def test_the_demo_page_of_the_api(page, demo):
    page.goto("/javascript-api/")
    expect(page.get_by_role("heading", name="JavaScript API", level=1)).to_be_visible()
    log = page.get_by_role("log", name="Events")
    page.get_by_role("button", name="Open the chat").click()
    expect(chat_dialog(page)).to_be_visible()
    expect(log).to_contain_text("opened")
    page.get_by_role("button", name="Close the chat").click()
    expect(log).to_contain_text("closed")
    page.get_by_role("button", name="Embed the chat here").click()
    expect(page.locator("#chat-inline").get_by_role("dialog")).to_be_visible()
    expect(log).to_contain_text("loaded")


def test_open_before_the_widget_is_ready_opens_it_once_ready(page, demo):
    """A page's own button may call open() while the config is still on its
    way: the chat opens as soon as the widget is ready, not never."""
    held = []
    page.route("**/livechat/config/**", lambda route: held.append(route))
    page.goto("/")
    page.wait_for_function("() => !!window.WagtailLivechat")
    page.evaluate("() => window.WagtailLivechat.open()")
    expect(page.locator("#wagtail-livechat-root")).to_have_count(0)  # not ready yet
    page.wait_for_timeout(200)
    for route in held:
        route.continue_()
    page.unroute("**/livechat/config/**")
    expect(chat_dialog(page)).to_be_visible()
