"""The whole chat, end to end: a visitor in the widget (chat.js) on the demo
site and an agent in the Wagtail admin's inbox (inbox.js), each in a browser
context of their own, against the live ASGI server."""

import json
import re
import time

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from playwright.sync_api import expect

from wagtail_livechat import service
from wagtail_livechat.models import Chatflow, Contact, Conversation, Inbox, Visitor

pytestmark = pytest.mark.browser

ADMIN = ("admin", "admin")  # the demo's superuser, "Alex"
VIEWPORT = {"width": 1280, "height": 800}
TIMEOUT_MS = 10_000
COOKIE = "livechat_visitor"
MARKUP = "<img src=x onerror=alert(1)><script>alert(2)</script><b>bold</b>"


# -- Pages and helpers -----------------------------------------------------


def _record_dialogs(page):
    """Collect the page's dialogs (alert() and co.), dismissing them."""
    page.livechat_dialogs = []

    def on_dialog(dialog):
        page.livechat_dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    page.on("dialog", on_dialog)
    return page


@pytest.fixture
def visitor(page):
    """The visitor's page: the ``page`` fixture (an uncaught error fails the
    test), also recording dialogs."""
    return _record_dialogs(page)


@pytest.fixture
def agent(browser, live_server_url):
    """The agent's page, in a second browser context (its own cookies)."""
    context = browser.new_context(base_url=live_server_url, viewport=VIEWPORT, locale="en-US")
    context.set_default_timeout(TIMEOUT_MS)
    context.route(re.compile(rf"^(?!{re.escape(live_server_url)}/)[a-z]+://"), lambda r: r.abort())
    page = _record_dialogs(context.new_page())
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    if errors:
        pytest.fail(
            "Uncaught errors in the agent's page:\n" + "\n".join(errors),
            pytrace=False,
        )


def widget(page):
    """The widget's shadow root host (Playwright's locators pierce it)."""
    return page.locator("#wagtail-livechat-root")


def launcher(page):
    return widget(page).get_by_role("button", name="Open chat", exact=True)


def toggle(page):
    """The launcher whatever its state: "Open chat", or while the chat is
    open, "Close chat" (Playwright's CSS pierces the shadow root)."""
    return widget(page).locator("button[aria-expanded]")


def chat_dialog(page):
    return widget(page).get_by_role("dialog")


def open_chat(page, path="/"):
    """Go to a page of the demo site and open the chat; returns the panel."""
    if path is not None:
        page.goto(path)
    launcher(page).click()
    dialog = chat_dialog(page)
    expect(dialog).to_be_visible()
    return dialog


def message_box(dialog):
    return dialog.get_by_label("Message", exact=True)


def thread(dialog):
    return dialog.get_by_role("log")


def messages(dialog, author=None):
    return thread(dialog).locator(f".msg.{author}" if author else ".msg")


def send(dialog, text):
    """Write a message and press Enter; wait until the server acknowledged it."""
    box = message_box(dialog)
    box.fill(text)
    box.press("Enter")
    expect(box).to_have_value("")
    expect(messages(dialog, "visitor").filter(has_text=text.strip()[:40]).first).to_be_visible()
    expect(thread(dialog).locator(".msg.pending")).to_have_count(0)
    expect(thread(dialog).locator(".msg.failed")).to_have_count(0)


def texts(locator):
    """The exact textContent of each element (Playwright's own text
    matchers normalise whitespace)."""
    return locator.evaluate_all("els => els.map((e) => e.textContent)")


def log_in(page, username=ADMIN[0], password=ADMIN[1]):
    page.goto("/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/admin/$"))


def open_inbox(agent):
    agent.goto("/admin/livechat/")
    expect(agent.locator(".livechat-connection")).to_have_attribute("data-state", "connected")


def open_conversation(agent, conversation):
    agent.goto(f"/admin/livechat/{conversation.pk}/")
    expect(agent.locator(".livechat-connection")).to_have_attribute("data-state", "connected")
    return agent.get_by_role("log")


def reply(agent, text):
    box = agent.get_by_label("Reply", exact=True)
    box.fill(text)
    box.press("Enter")
    expect(box).to_have_value("")
    expect(agent.locator(".livechat-message--pending")).to_have_count(0)


def mark_no_reload(page):
    """A flag that a reload or navigation would lose."""
    page.evaluate("() => (window.livechatNoReload = true)")


def assert_not_reloaded(page):
    assert page.evaluate("() => window.livechatNoReload === true"), "the page was reloaded"


def wait_for(page, predicate, message, timeout=TIMEOUT_MS / 1000):
    """Poll the database (the server writes it from another process) or what
    the page recorded. It waits with the page, not time.sleep(): Playwright
    only delivers its events (websocket frames) while it runs."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"Timed out waiting for: {message}", pytrace=False)
        page.wait_for_timeout(100)


def set_admin_away():
    service.set_availability(get_user_model().objects.get(username="admin"), False)


def record_frames(page):
    """The frames the page receives over its websockets, parsed."""
    frames = []

    def on_socket(ws):
        def on_frame(payload):
            try:
                frames.append(json.loads(payload))
            except (TypeError, ValueError):
                pass

        ws.on("framereceived", on_frame)

    page.on("websocket", on_socket)
    return frames


# -- 1. The main flow ------------------------------------------------------


def test_visitor_and_agent_chat_live(visitor, agent, demo, screenshots):
    question = "Hello! Do you ship to Norway?"
    answer = "Yes, we do: within five working days."

    log_in(agent)
    open_inbox(agent)
    rows = agent.locator("tr[data-conversation]")
    expect(rows).to_have_count(0)
    mark_no_reload(agent)

    # The visitor opens the widget on the home page and writes.
    dialog = open_chat(visitor, "/")
    send(dialog, question)
    conversation = Conversation.objects.get()
    assert conversation.inbox == Inbox.objects.get(name="Sales")

    # The conversation appears in the agent's list without a reload.
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(question)
    expect(rows.first.locator("[data-slot=unread]")).to_have_text("1 unread")
    assert_not_reloaded(agent)

    # The agent opens it and replies.
    rows.first.get_by_role("link").click()
    agent.wait_for_url(f"**/admin/livechat/{conversation.pk}/")
    agent_log = agent.get_by_role("log")
    expect(agent_log.locator(".livechat-message--visitor")).to_contain_text(question)
    expect(agent.locator(".livechat-connection")).to_have_attribute("data-state", "connected")
    mark_no_reload(visitor)
    reply(agent, answer)

    # The visitor sees the reply without a reload.
    expect(messages(dialog, "agent")).to_have_count(1)
    expect(messages(dialog, "agent")).to_contain_text(answer)
    assert_not_reloaded(visitor)
    visitor.screenshot(path=screenshots / "widget-conversation.png")

    # After a reload the whole history is there, in order.
    visitor.reload()
    dialog = open_chat(visitor, path=None)
    expect(messages(dialog)).to_have_count(2)
    expect(messages(dialog)).to_contain_text([question, answer])
    classes = messages(dialog).evaluate_all(
        "els => els.map((e) => e.classList.contains('visitor'))"
    )
    assert classes == [True, False]
    assert texts(messages(dialog, "visitor")) == [question]
    expect(messages(dialog, "agent")).to_have_count(1)


# -- 2. Markup stays text --------------------------------------------------


def _inert(locator, text):
    """The element shows ``text`` as text and holds no element made from it."""
    expect(locator).to_have_count(1)
    found = locator.evaluate(
        "(el) => ({text: el.textContent, tags: el.querySelectorAll('b, i, img, script').length})"
    )
    assert found == {"text": text, "tags": 0}


def test_markup_in_messages_stays_text(visitor, agent, demo):
    agent_markup = "<i>italic</i><img src=y onerror=alert(3)>"

    dialog = open_chat(visitor, "/")
    send(dialog, MARKUP)
    _inert(messages(dialog, "visitor"), MARKUP)

    log_in(agent)
    open_inbox(agent)
    row = agent.locator("tr[data-conversation]").first
    _inert(row.locator("[data-slot=last_message]"), MARKUP)
    expect(row.locator("img, b, script")).to_have_count(0)

    conversation = Conversation.objects.get()
    agent_log = open_conversation(agent, conversation)
    _inert(agent_log.locator(".livechat-message--visitor [data-slot=body]"), MARKUP)
    expect(agent_log.locator("img, b, script")).to_have_count(0)

    # A message that arrives live in the open conversation (built by inbox.js,
    # where the first was rendered by the template).
    send(dialog, f"again: {MARKUP}")
    expect(agent_log.locator(".livechat-message--visitor")).to_have_count(2)
    _inert(
        agent_log.locator(".livechat-message--visitor [data-slot=body]").last, f"again: {MARKUP}"
    )
    expect(agent_log.locator("img, b, script")).to_have_count(0)

    # The agent's markup reaches the widget as text too.
    reply(agent, agent_markup)
    expect(messages(dialog, "agent")).to_have_count(1)
    expect(messages(dialog, "agent")).to_contain_text(agent_markup)
    expect(messages(dialog, "agent").locator("i, img")).to_have_count(0)

    # And so does the history after a reload.
    visitor.reload()
    dialog = open_chat(visitor, path=None)
    expect(messages(dialog)).to_have_count(3)
    _inert(messages(dialog, "visitor").first, MARKUP)
    expect(thread(dialog).locator("b, i, img, script")).to_have_count(0)

    visitor.wait_for_timeout(300)  # an onerror would fire about now
    assert visitor.livechat_dialogs == []
    assert agent.livechat_dialogs == []
    assert visitor.evaluate("() => document.querySelectorAll('img[src=x], img[src=y]').length") == 0


# -- 3. Typing -------------------------------------------------------------


def test_typing_indicators(visitor, agent, demo):
    dialog = open_chat(visitor, "/")
    send(dialog, "Hello?")
    log_in(agent)
    open_conversation(agent, Conversation.objects.get())
    expect(agent.get_by_role("log")).to_contain_text("Hello?")

    # Visitor → agent.
    agent_typing = agent.locator("[data-livechat-conversation-target=typing]")
    expect(agent_typing).to_have_text("")
    message_box(dialog).press_sequentially("I would like to", delay=30)
    expect(agent_typing).to_have_text("Visitor is typing…")

    # Agent → visitor.
    widget_typing = dialog.get_by_text("Typing…", exact=True)
    expect(widget_typing).to_have_count(0)
    agent.get_by_label("Reply", exact=True).press_sequentially("Let me", delay=30)
    expect(widget_typing).to_be_visible()

    # The agent's message replaces the indicator.
    agent.get_by_label("Reply", exact=True).press_sequentially(" check.")
    agent.get_by_label("Reply", exact=True).press("Enter")
    expect(messages(dialog, "agent")).to_contain_text("Let me check.")
    expect(widget_typing).to_have_count(0)

    # The visitor's message clears the inbox's indicator.
    message_box(dialog).press("Enter")
    expect(agent.get_by_role("log")).to_contain_text("I would like to")
    expect(agent_typing).to_have_text("")


# -- 4. Identity: nothing stored before the first message ------------------


def test_identity_is_stored_only_from_the_first_message(visitor, context, demo):
    frames = record_frames(visitor)
    dialog = open_chat(visitor, "/")
    # The panel is open and its socket welcomed (read-only): still nothing stored.
    expect(message_box(dialog)).to_be_visible()
    wait_for(visitor, lambda: any(f.get("type") == "welcome" for f in frames), "welcome")
    message_box(dialog).fill("Not sent yet")
    visitor.wait_for_load_state("networkidle")
    assert context.cookies() == []
    assert visitor.evaluate("() => localStorage.length") == 0
    assert visitor.evaluate("() => document.cookie") == ""
    assert not Visitor.objects.exists()

    message_box(dialog).fill("")
    send(dialog, "Now I write")
    cookies = {c["name"]: c for c in context.cookies()}
    assert set(cookies) == {COOKIE}
    cookie = cookies[COOKIE]
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Lax"
    assert cookie["path"] == "/"
    assert cookie["expires"] > time.time() + 300 * 24 * 3600  # about a year
    assert COOKIE not in visitor.evaluate("() => document.cookie")  # HttpOnly
    # And, consent given, the count of visits ("number of visits" filter).
    stored = visitor.evaluate("() => ({...localStorage})")
    assert list(stored) == ["wagtail_livechat"]
    assert list(json.loads(stored["wagtail_livechat"])) == ["v", "t"]
    assert Visitor.objects.count() == 1


# -- 5. Offline: away notice and email capture -----------------------------


def test_offline_away_notice_and_email_capture(visitor, agent, demo):
    set_admin_away()
    sales = Inbox.objects.get(name="Sales")
    question = Chatflow.objects.get(name="Website chat").email_capture_text

    dialog = open_chat(visitor, "/")
    expect(dialog.get_by_role("status").filter(has_text=sales.away_message)).to_be_visible()
    email = dialog.get_by_label(question, exact=True)
    expect(email).to_be_visible()
    save = dialog.get_by_role("button", name="Save", exact=True)
    expect(save).to_be_visible()

    # A message is still accepted, and reaches the inbox.
    send(dialog, "Anyone there? Call me back please.")
    conversation = Conversation.objects.get()
    log_in(agent)
    open_inbox(agent)
    expect(agent.locator("tr[data-conversation]").first).to_contain_text("Anyone there?")
    agent_log = open_conversation(agent, conversation)
    expect(agent_log).to_contain_text("Anyone there? Call me back please.")

    # An invalid address is refused in the widget...
    email.fill("not-an-email")
    save.click()
    expect(dialog.get_by_text("Enter a valid email address.")).to_be_visible()
    # ...and by the server, for one the browser lets through.
    email.fill("ada@example")
    save.click()
    expect(dialog.get_by_text("Enter a valid email address.")).to_be_visible()
    assert not Contact.objects.exists()

    # A valid one makes a contact of the visitor.
    email.fill("ada@example.com")
    save.click()
    wait_for(visitor, lambda: Contact.objects.filter(email="ada@example.com").exists(), "contact")
    contact = Contact.objects.get()
    wait_for(visitor, lambda: Visitor.objects.filter(contact=contact).exists(), "visitor linked")
    expect(dialog.get_by_text("Enter a valid email address.")).to_have_count(0)
    expect(email).to_be_hidden()
    expect(agent.locator("[data-livechat-conversation-target=contact]")).to_contain_text(
        "ada@example.com"
    )


# -- 6. Knowledge base -----------------------------------------------------


def test_knowledge_base_search(visitor, demo):
    call_command("update_index", stdout=open("/dev/null", "w"))  # noqa: SIM115
    dialog = open_chat(visitor, "/")
    search = dialog.get_by_label("Search help articles", exact=True)
    search.fill("password")
    search.press("Enter")
    link = dialog.get_by_role("link", name="Resetting your password", exact=True)
    expect(link).to_be_visible()
    expect(link).to_have_attribute("href", re.compile(r"^(https?://[^/]+)?/help/reset-password/$"))
    expect(dialog.get_by_role("link", name="Billing and invoices")).to_have_count(0)
    link.click()
    visitor.wait_for_url(re.compile(r"/help/reset-password/$"))
    expect(visitor.get_by_role("heading", name="Resetting your password")).to_be_visible()


# -- 7. Transcript after the agent closes ----------------------------------


def test_transcript_after_the_agent_closes(visitor, agent, demo):
    set_admin_away()  # so the demo chatflow asks for an address
    question = Chatflow.objects.get(name="Website chat").email_capture_text
    frames = record_frames(visitor)

    dialog = open_chat(visitor, "/")
    send(dialog, "Please send me the price list.")
    dialog.get_by_label(question, exact=True).fill("ada@example.com")
    dialog.get_by_role("button", name="Save", exact=True).click()
    wait_for(visitor, lambda: Contact.objects.filter(email="ada@example.com").exists(), "contact")
    # A typed address gets a link to confirm it, before any transcript.
    expect(dialog.get_by_text("We sent a link to that address")).to_be_visible()
    contact = Contact.objects.get(email="ada@example.com")
    service.confirm_email(contact.visitors.get().pk, contact.pk)  # as the mailed link does
    transcript = dialog.get_by_role("button", name="Email me a transcript")
    expect(transcript).to_have_count(0)  # not before the conversation ends

    log_in(agent)
    open_conversation(agent, Conversation.objects.get())
    reply(agent, "Here it is: see /pricing/.")
    expect(messages(dialog, "agent")).to_contain_text("Here it is")
    agent.get_by_role("button", name="Close conversation").click()
    expect(agent.locator("[data-livechat-conversation-target=status]")).to_have_text("Closed")

    expect(transcript).to_be_visible()
    transcript.click()
    # The server answers transcript_sent once send_mail() has returned.
    expect(dialog.get_by_text("Transcript sent.")).to_be_visible()
    wait_for(visitor, lambda: any(f.get("type") == "transcript_sent" for f in frames), "frame")
    assert not [f for f in frames if f.get("type") == "error"]
    expect(transcript).to_be_hidden()


def test_no_transcript_offered_without_an_email(visitor, agent, demo):
    dialog = open_chat(visitor, "/")
    send(dialog, "Just browsing.")
    log_in(agent)
    open_conversation(agent, Conversation.objects.get())
    agent.get_by_role("button", name="Close conversation").click()
    expect(agent.locator("[data-livechat-conversation-target=status]")).to_have_text("Closed")
    expect(dialog.get_by_text("The conversation has ended.")).to_be_visible()
    expect(dialog.get_by_role("button", name="Email me a transcript")).to_have_count(0)


# -- 8. Keyboard only ------------------------------------------------------


def _focused_is(page, locator):
    return locator.evaluate(
        """(target) => {
            let el = document.activeElement;
            while (el && el.shadowRoot && el.shadowRoot.activeElement) el = el.shadowRoot.activeElement;
            return el === target;
        }"""
    )


def test_keyboard_only(visitor, demo):
    visitor.goto("/")
    button = launcher(visitor)
    expect(button).to_be_visible()
    for _ in range(30):
        visitor.keyboard.press("Tab")
        if _focused_is(visitor, button):
            break
    else:
        pytest.fail("Tab never reached the launcher")

    visitor.keyboard.press("Enter")
    dialog = chat_dialog(visitor)
    expect(dialog).to_be_visible()
    box = message_box(dialog)
    expect(box).to_be_focused()

    visitor.keyboard.type("Typed with the keyboard")
    visitor.keyboard.press("Shift+Enter")
    visitor.keyboard.type("on two lines")
    expect(box).to_have_value("Typed with the keyboard\non two lines")
    visitor.keyboard.press("Enter")
    expect(box).to_have_value("")
    sent = messages(dialog, "visitor")
    expect(sent).to_have_count(1)
    expect(thread(dialog).locator(".msg.pending")).to_have_count(0)
    assert texts(sent) == ["Typed with the keyboard\non two lines"]
    wait_for(
        visitor,
        lambda: Conversation.objects.filter(
            messages__body="Typed with the keyboard\non two lines"
        ).exists(),
        "stored message",
    )

    visitor.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(button).to_be_focused()
    expect(button).to_have_attribute("aria-expanded", "false")


def test_the_chat_fits_a_360px_phone(visitor, demo):
    """Down to a 360 px wide phone, the open chat stays on screen and usable."""
    visitor.set_viewport_size({"width": 360, "height": 640})
    dialog = open_chat(visitor)
    box = dialog.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 360
    assert box["y"] >= 0 and box["y"] + box["height"] <= 640
    send(dialog, "Hello from a phone")
    expect(messages(dialog, "visitor")).to_have_text(["Hello from a phone"])
    send_box = dialog.get_by_role("button", name="Send").bounding_box()
    assert send_box["x"] + send_box["width"] <= 360


def test_consents_are_asked_before_anything_is_stored(visitor, context, demo):
    """Explicit data consent blocks sending until "I agree" is ticked; cookie
    consent asks before the identity cookie exists, and only "Accept" sets it."""
    chatflow = Chatflow.objects.get(name="Website chat")
    chatflow.data_consent = "explicit"
    chatflow.cookie_consent = "before_chat"
    chatflow.save_revision().publish()

    dialog = open_chat(visitor, "/")
    box = message_box(dialog)
    box.fill("Hello")
    box.press("Enter")
    expect(messages(dialog, "visitor")).to_have_count(0)  # refused: not agreed
    assert context.cookies() == []

    dialog.get_by_label("I agree").check()
    box.fill("Hello")
    box.press("Enter")
    accept = dialog.get_by_role("button", name="Accept")
    expect(accept).to_be_visible()
    expect(messages(dialog, "visitor").filter(has_text="Hello")).to_have_class(
        re.compile("pending")
    )
    assert context.cookies() == [] and not Visitor.objects.exists()

    accept.click()
    expect(thread(dialog).locator(".msg.pending")).to_have_count(0, timeout=TIMEOUT_MS)
    assert {c["name"] for c in context.cookies()} == {COOKIE}
    assert Conversation.objects.get().messages.get().body == "Hello"


def test_a_returning_visitor_hears_replies_without_opening_the_chat(visitor, agent, demo):
    """With an open conversation, the widget reconnects on every page at once,
    and the launcher counts replies that come while the chat is closed."""
    dialog = open_chat(visitor, "/")
    send(dialog, "Anyone there?")
    visitor.goto("/pricing/")  # a new page: the chat is closed
    expect(launcher(visitor)).to_have_attribute("aria-label", "Open chat")
    conversation = Conversation.objects.get()
    wait_for(
        visitor,
        lambda: Visitor.objects.get().page_url.endswith("/pricing/"),
        "the visitor's new page reached the server",
    )
    log_in(agent)
    open_conversation(agent, conversation)
    reply(agent, "Yes!")
    badge = widget(visitor).get_by_role("button", name=re.compile(r"^Open chat \(1 new message\)$"))
    expect(badge).to_be_visible()
    badge.click()
    expect(messages(chat_dialog(visitor), "agent")).to_contain_text(["Yes!"])
    # Read: the count goes (the launcher, the chat open, is its close button).
    expect(toggle(visitor)).to_have_attribute("aria-label", "Close chat")
    expect(toggle(visitor)).to_have_attribute("data-n", "")
