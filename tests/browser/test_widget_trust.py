"""The widget does not believe a silent server: a socket that opens but never
answers is dropped, a message it swallowed says "Not sent" and offers a retry
(which never doubles it), and a chat panel that cannot load says so."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.test_chat_e2e import chat_dialog, launcher, message_box, messages, open_chat
from wagtail_livechat.models import Message

pytestmark = pytest.mark.browser


def test_a_silent_server_is_not_online_and_an_unanswered_message_offers_a_retry(
    page, demo, transactional_db
):
    silent = {"on": True}

    def handler(ws):
        if not silent["on"]:
            ws.connect_to_server()
        # else: the socket opens, and nothing ever answers

    page.route_web_socket(re.compile(r"/ws/livechat/visitor/"), handler)
    dialog = open_chat(page)
    status = dialog.locator(".hd small")
    expect(status).to_have_text("Connecting…")
    box = message_box(dialog)
    box.fill("Is anyone there?")
    box.press("Enter")
    # Not acknowledged within 10 s: it says so, and "Online" never showed.
    retry = dialog.get_by_role("button", name="Not sent. Retry")
    expect(retry).to_be_visible(timeout=15_000)
    expect(messages(dialog, "visitor").filter(has_text="Is anyone there?")).to_have_class(
        re.compile("failed")
    )
    expect(status).not_to_have_text("Online")

    # The server answers again: the retry sends it once, with the same id.
    silent["on"] = False
    retry.click()
    # Welcomed: the status is the server's ("Offline": no agent is connected,
    # and "online" needs one), no longer "Connecting…" / "Reconnecting…".
    expect(status).to_have_text("Offline", timeout=15_000)
    expect(retry).to_have_count(0)
    expect(dialog.locator(".msg.pending, .msg.failed")).to_have_count(0, timeout=15_000)
    assert Message.objects.filter(body="Is anyone there?").count() == 1


def test_a_chat_panel_that_cannot_load_says_so(page, demo):
    page.route("**/chat.js*", lambda route: route.abort())
    page.goto("/")
    launcher(page).click()
    alert = page.locator("#wagtail-livechat-root").get_by_role("alert")
    expect(alert).to_have_text("The chat could not be loaded. Please try again later.")
    expect(chat_dialog(page)).to_have_count(0)
    # The launcher still works (no unhandled rejection: the page fixture fails on one).
    expect(launcher(page)).to_have_attribute("aria-expanded", "false")
