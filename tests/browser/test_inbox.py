"""The agents' inbox (inbox.js) in Chromium against a live ASGI server: a
visitor writes over the visitor websocket, an agent answers in the admin."""

import re
import time

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect
from wagtail.models import Page

from tests.browser.axe import axe_violations
from tests.livechat_factories import add_members, make_agent
from wagtail_livechat import service
from wagtail_livechat.models import CannedResponse, Chatflow, Conversation, Inbox, Message, Visitor

pytestmark = pytest.mark.browser

# A visitor without the widget: identify, say hello, then write.
VISITOR_JS = """
async ({chatflow, body}) => {
  await fetch("/livechat/visitor/", {method: "POST"});
  window.received = [];
  const ws = new WebSocket(`ws://${location.host}/ws/livechat/visitor/`);
  ws.onmessage = (event) => window.received.push(JSON.parse(event.data));
  await new Promise((resolve) => (ws.onopen = resolve));
  window.visitorSocket = ws;
  window.say = (frame) => ws.send(JSON.stringify(frame));
  say({type: "hello", after: 0, chatflow, page: {url: location.href, title: document.title, id: null}});
  say({type: "message", id: crypto.randomUUID(), body});
  await new Promise((resolve) => {
    const check = () => (window.received.some((f) => f.type === "ack") ? resolve() : setTimeout(check, 50));
    check();
  });
}
"""


ADMIN = ("admin", "admin")  # the demo's superuser


def log_in(page, username=ADMIN[0], password=ADMIN[1]):
    page.goto("/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/admin/$"))


def visitor_writes(context, body, path="/pricing/"):
    """A second browser context, as a visitor; returns its page."""
    visitor = context.browser.new_context(base_url=context.livechat_base_url)
    page = visitor.new_page()
    page.goto(path)
    chatflow = Chatflow.objects.get(name="Website chat").pk
    page.evaluate(VISITOR_JS, {"chatflow": chatflow, "body": body})
    return page


def received(visitor_page, kind):
    return visitor_page.evaluate("kind => window.received.filter((f) => f.type === kind)", kind)


@pytest.fixture
def context(context, live_server_url):
    context.livechat_base_url = live_server_url  # for the visitor's context
    return context


def controller(page, identifier):
    """A JS expression for the Stimulus controller of this page."""
    return (
        f"window.wagtail.app.getControllerForElementAndIdentifier("
        f"document.querySelector('[data-controller~=\"{identifier}\"]'), '{identifier}')"
    )


def test_inbox_live(page, context, demo, screenshots):
    sales = Inbox.objects.get(name="Sales")
    CannedResponse.objects.create(inbox=sales, shortcut="hello", text="Hello! How can I help you?")
    log_in(page)
    page.goto("/admin/livechat/")
    expect(page.locator(".livechat-connection")).to_have_attribute("data-state", "connected")
    expect(page.locator("tr[data-conversation]")).to_have_count(0)

    # A visitor writes: the row appears without a reload, unread, as text.
    visitor = visitor_writes(context, "Hi <img src=x onerror=alert(1)> there")
    row = page.locator("tr[data-conversation]").first
    expect(row).to_contain_text("Hi <img src=x onerror=alert(1)> there")
    expect(row.locator("[data-slot=unread]")).to_have_text("1 unread")
    expect(page.locator("tr[data-conversation] img")).to_have_count(0)
    conversation = Conversation.objects.get()

    # The agent opens it: the thread, read receipt, typing.
    row.get_by_role("link").click()
    expect(page.get_by_role("log")).to_contain_text("Hi <img src=x onerror=alert(1)> there")
    expect(page.locator(".livechat-connection")).to_have_attribute("data-state", "connected")
    expect_unread(conversation, 0)  # the thread is visible: "read" was sent
    visitor.evaluate("() => say({type: 'typing', on: true})")
    expect(page.locator("[data-livechat-conversation-target=typing]")).to_have_text(
        "Visitor is typing…"
    )

    # A canned response with /shortcut and Tab; Enter sends.
    reply = page.get_by_label("Reply", exact=True)
    reply.click()
    reply.press_sequentially("/hel")
    expect(page.get_by_role("listbox")).to_be_visible()
    expect(page.get_by_role("listbox").get_by_role("option")).to_have_text(
        ["/helloHello! How can I help you?"]
    )
    reply.press("Tab")
    expect(reply).to_have_value("Hello! How can I help you?")
    reply.press("Shift+Enter")
    reply.press_sequentially("Second line")
    reply.press("Enter")
    expect(reply).to_have_value("")
    agent_message = page.get_by_role("log").locator(".livechat-message--agent").last
    expect(agent_message).to_contain_text("Hello! How can I help you?\nSecond line")
    expect(page.locator(".livechat-message--pending")).to_have_count(0)
    visitor.wait_for_function(
        "() => window.received.some((f) => f.type === 'message' && f.message.author === 'agent')"
    )

    # An internal note: marked as such, never sent to the visitor.
    page.get_by_label("Internal note (only agents see it)").check()
    expect(page.get_by_role("button", name="Add note")).to_be_visible()
    reply.fill("Asked about pricing")
    reply.press("Enter")
    expect(page.locator(".livechat-message--note")).to_contain_text("Internal note")
    expect(page.locator(".livechat-message--note")).to_contain_text("Asked about pricing")
    page.get_by_label("Internal note (only agents see it)").uncheck()
    assert Message.objects.filter(note=True, body="Asked about pricing").exists()

    # The visitor writes again, moves to another page and leaves an address.
    visitor.evaluate("() => say({type: 'message', id: crypto.randomUUID(), body: 'Thanks!'})")
    expect(page.get_by_role("log")).to_contain_text("Thanks!")
    about = Page.objects.get(slug="about")
    visitor.evaluate(
        "id => say({type: 'page', url: location.origin + '/about/', title: 'About us', id})",
        about.pk,
    )
    panel = page.locator("[data-livechat-conversation-target=page]")
    expect(panel).to_contain_text("About us")
    expect(panel.get_by_role("link", name="Edit this page")).to_have_attribute(
        "href", f"/admin/pages/{about.pk}/edit/"
    )
    visitor.evaluate(
        "() => say({type: 'email', email: 'ada@example.com', subscribe: false, consent: true})"
    )
    expect(page.locator("[data-livechat-conversation-target=contact]")).to_contain_text(
        "ada@example.com"
    )
    notes = [f for f in received(visitor, "message") if f["message"]["note"]]
    assert notes == []

    # Close and reopen; the visitor hears of the close.
    page.get_by_role("button", name="Close conversation").click()
    expect(page.locator("[data-livechat-conversation-target=status]")).to_have_text("Closed")
    reopen = page.get_by_role("button", name="Reopen conversation")
    expect(reopen).to_be_focused()
    visitor.wait_for_function("() => window.received.some((f) => f.type === 'closed')")
    reopen.click()
    expect(page.locator("[data-livechat-conversation-target=status]")).to_have_text("Open")

    # Unassign, then assign back.
    page.get_by_label("Assignee").select_option(label="Unassigned")
    page.wait_for_function(
        f"() => {controller(page, 'livechat-conversation')}.state.assignee === null"
    )
    conversation.refresh_from_db()
    assert conversation.assignee_id is None
    page.get_by_label("Assignee").select_option(label="Alex")
    page.wait_for_function(
        f"() => {controller(page, 'livechat-conversation')}.state.assignee !== null"
    )

    reply.fill("Anything else?")
    page.set_viewport_size({"width": 1280, "height": 900})
    page.evaluate(
        "() => [document.scrollingElement, ...document.querySelectorAll('main, .content')]"
        ".forEach((e) => e.scrollTo(0, 0))"
    )
    page.screenshot(path=screenshots / "inbox-conversation.png")
    visitor.context.close()


def expect_unread(conversation, count, timeout=5):
    deadline = time.monotonic() + timeout
    while True:
        conversation.refresh_from_db()
        unread = service.conversation_data(conversation)["unread"]
        if unread == count or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert unread == count


def test_unacknowledged_messages_are_resent_after_reconnect(page, context, demo):
    log_in(page)
    visitor = visitor_writes(context, "Hello?")
    conversation = Conversation.objects.get()
    page.goto(f"/admin/livechat/{conversation.pk}/")
    expect(page.locator(".livechat-connection")).to_have_attribute("data-state", "connected")
    expect(page.get_by_role("log")).to_contain_text("Hello?")

    # The frame is lost on the way: the message stays pending...
    page.evaluate(
        f"""() => {{
            const c = {controller(page, "livechat-conversation")};
            const send = c.socket.send.bind(c.socket);
            c.socket.send = (frame) => (frame.type === "message" ? true : send(frame));
            window.restoreSend = () => (c.socket.send = send);
        }}"""
    )
    reply = page.get_by_label("Reply", exact=True)
    reply.fill("Are you still there?")
    reply.press("Enter")
    pending = page.locator(".livechat-message--pending")
    expect(pending).to_contain_text("Sending…")
    client_id = pending.get_attribute("data-client-id")

    # ...until the socket drops and comes back: resent with the same id.
    page.evaluate(
        f"""() => {{
            window.restoreSend();
            {controller(page, "livechat-conversation")}.socket.ws.close();
        }}"""
    )
    expect(pending).to_have_count(0, timeout=15_000)
    expect(page.get_by_role("log").get_by_text("Are you still there?")).to_have_count(1)
    stored = Message.objects.filter(body="Are you still there?")
    assert stored.count() == 1
    assert stored.get().client_id == client_id
    visitor.wait_for_function(
        "() => window.received.some((f) => f.type === 'message' && f.message.body === 'Are you still there?')"
    )
    visitor.context.close()


def test_availability_switch(page, demo):
    log_in(page)
    page.goto("/admin/livechat/")
    expect(page.locator(".livechat-connection")).to_have_attribute("data-state", "connected")
    switch = page.get_by_role("switch", name="Available")
    expect(switch).to_be_checked()
    switch.uncheck(force=True)  # the toggle covers the input, as in Wagtail's switches
    expect(page.locator("#livechat-availability-state")).to_have_text("Away")
    admin = get_user_model().objects.get(username="admin")
    for _attempt in range(50):  # the server stores it when the frame arrives
        if not service.is_available(admin):
            break
        page.wait_for_timeout(100)
    assert not service.is_available(admin)
    page.reload()
    expect(page.get_by_role("switch", name="Available")).not_to_be_checked()


def test_who_else_is_viewing(page, context, demo):
    sales = Inbox.objects.get(name="Sales")
    add_members(sales, make_agent("sam", first_name="Sam"))
    visitor_writes(context, "Hello?").context.close()
    conversation = Conversation.objects.get()
    log_in(page)
    page.goto(f"/admin/livechat/{conversation.pk}/")
    viewers = page.locator("[data-livechat-conversation-target=viewers]")
    expect(viewers).to_have_text("Nobody else is viewing this conversation.")

    other = context.browser.new_context(base_url=context.livechat_base_url)
    sam = other.new_page()
    log_in(sam, "sam", "pw")
    sam.goto(f"/admin/livechat/{conversation.pk}/")
    expect(viewers).to_have_text("Also viewing: Sam")
    expect(sam.locator("[data-livechat-conversation-target=viewers]")).to_have_text(
        "Also viewing: Alex"
    )
    sam.get_by_label("Reply", exact=True).press_sequentially("Let me check")
    expect(page.locator("[data-livechat-conversation-target=typing]")).to_have_text(
        "Sam is typing…"
    )
    other.close()
    expect(viewers).to_have_text("Nobody else is viewing this conversation.")


def test_non_members_get_403(page, context, demo):
    visitor_writes(context, "Hello?").context.close()
    conversation = Conversation.objects.get()
    make_agent("nina")
    log_in(page, "nina", "pw")
    response = page.goto(f"/admin/livechat/{conversation.pk}/")
    assert response.status == 403
    expect(page.get_by_text("Hello?")).to_have_count(0)


def test_axe_finds_nothing_in_the_list_and_the_conversation(page, context, demo):
    admin = get_user_model().objects.get(username="admin")
    visitor_writes(context, "Is the inbox accessible? See https://example.com/a11y").context.close()
    conversation = Conversation.objects.get()
    service.post_agent_message(
        admin, conversation.pk, client_id="axe-reply-1", body="Yes: mailto:help@example.com"
    )
    log_in(page)
    page.goto("/admin/livechat/")
    expect(page.locator("tr[data-conversation]")).to_have_count(1)
    expect(page.locator(".livechat-connection")).to_have_attribute("data-state", "connected")
    assert axe_violations(page) == []

    page.locator("tr[data-conversation]").first.get_by_role("link").click()
    expect(page.get_by_role("log")).to_contain_text("Is the inbox accessible?")
    expect(page.get_by_role("log")).to_contain_text("Yes: mailto:help@example.com")
    expect(page.locator(".livechat-connection")).to_have_attribute("data-state", "connected")
    assert axe_violations(page) == []


def test_list_screenshot(page, context, demo, screenshots):
    """A few conversations in different states, for the docs."""
    admin = get_user_model().objects.get(username="admin")
    discount = visitor_writes(context, "Do you offer discounts for non-profits?")
    discount.evaluate(
        "() => say({type: 'email', email: 'ada@example.com', subscribe: false, consent: true})"
    )
    discount.context.close()
    visitor_writes(context, "Can I pay by invoice?").context.close()
    invoice = Conversation.objects.order_by("-pk").first()
    service.post_agent_message(
        admin, invoice.pk, client_id="screenshot-1", body="Yes, we send invoices monthly."
    )
    trial = visitor_writes(context, "Is there a free trial?", path="/about/")
    trial.evaluate("() => say({type: 'message', id: crypto.randomUUID(), body: 'For teams?'})")
    trial.context.close()
    log_in(page)
    page.goto("/admin/livechat/")
    expect(page.locator("tr[data-conversation]")).to_have_count(3)
    expect(page.locator(".livechat-connection")).to_have_attribute("data-state", "connected")
    page.screenshot(path=screenshots / "inbox-list.png")


def test_the_list_catches_up_after_a_reconnect(page, context, demo):
    """What happened while the socket was down was never pushed: after the
    reconnect the list reads the rows afresh."""
    log_in(page)
    page.goto("/admin/livechat/")
    connection = page.locator(".livechat-connection")
    expect(connection).to_have_attribute("data-state", "connected")
    expect(page.locator("tr[data-conversation]")).to_have_count(0)
    # The server becomes unreachable (every reconnect fails) and the socket drops.
    page.evaluate(
        f"""() => {{
        window.RealWebSocket = window.WebSocket;
        window.WebSocket = function () {{ throw new Error("unreachable"); }};
        {controller(page, "livechat-inbox")}.socket.ws.close();
    }}"""
    )
    expect(connection).not_to_have_attribute("data-state", "connected")
    visitor = Visitor.objects.create()
    service.post_visitor_message(
        visitor,
        client_id="while-away-1",
        body="Written while the agent was offline",
        chatflow_id=Chatflow.objects.get(name="Website chat").pk,
    )
    # It is back: the next attempt ("online" makes it now) connects.
    page.evaluate(
        "() => { window.WebSocket = window.RealWebSocket; window.dispatchEvent(new Event('online')); }"
    )
    expect(connection).to_have_attribute("data-state", "connected")
    expect(page.locator("tr[data-conversation]")).to_have_count(1)
    expect(page.locator("tr[data-conversation]").first).to_contain_text(
        "Written while the agent was offline"
    )
