"""The Display tab in Chromium: each desktop behaviour (prompt, launcher only,
prompt and open on a trigger), each trigger (exit intent, time on page,
scroll), and each mobile behaviour, as a visitor sees them."""

import datetime

import pytest
from django.core.cache import cache
from playwright.sync_api import expect

from tests.browser.test_chat_e2e import chat_dialog, launcher, widget
from tests.browser.test_widget_loader import WELCOME, wait_for_widget
from wagtail_livechat.models import Chatflow

pytestmark = pytest.mark.browser

PHONE = {"width": 360, "height": 640}
T0 = datetime.datetime(2026, 3, 2, 9, 0, tzinfo=datetime.UTC)


def display(**fields):
    chatflow = Chatflow.objects.get(name="Website chat")
    for name, value in fields.items():
        setattr(chatflow, name, value)
    chatflow.save_revision().publish()
    cache.clear()  # the server process reads the config generation hourly in tests


def prompt(page):
    return widget(page).get_by_role("status").filter(has_text=WELCOME)


def visit(page, path="/"):
    page.goto(path)
    wait_for_widget(page, "ready")
    expect(launcher(page)).to_be_visible()


def test_desktop_prompt(page, demo):
    display(desktop_behaviour="prompt", mobile_behaviour="launcher")
    visit(page)
    expect(prompt(page)).to_be_visible()
    expect(chat_dialog(page)).to_have_count(0)


def test_desktop_launcher_only(page, demo):
    display(desktop_behaviour="launcher", mobile_behaviour="prompt")
    visit(page)
    expect(prompt(page)).to_have_count(0)
    expect(chat_dialog(page)).to_have_count(0)


def test_trigger_exit_intent(page, demo):
    display(desktop_behaviour="prompt_and_open", trigger="exit_intent")
    visit(page)
    expect(prompt(page)).to_be_visible()
    page.mouse.move(640, 300)
    page.mouse.move(1300, 300, steps=4)  # out through the side: not leaving the page
    page.mouse.move(640, 300)
    expect(chat_dialog(page)).to_have_count(0)
    page.mouse.move(640, -20, steps=4)  # out through the top, towards the tabs
    expect(chat_dialog(page)).to_be_visible()


def test_trigger_time_on_page(page, demo):
    display(desktop_behaviour="prompt_and_open", trigger="time_on_page", trigger_seconds=20)
    page.clock.install(time=T0)
    visit(page)
    page.clock.run_for(15_000)
    expect(chat_dialog(page)).to_have_count(0)
    page.clock.run_for(6_000)
    expect(chat_dialog(page)).to_be_visible()


def test_trigger_scroll(page, demo):
    display(desktop_behaviour="prompt_and_open", trigger="scroll", trigger_scroll_percent=60)
    visit(page)
    page.evaluate(
        "() => { for (let i = 0; i < 80; i++) {"
        " const p = document.createElement('p'); p.textContent = 'Line ' + i;"
        " document.querySelector('main').append(p); } }"
    )
    height = page.evaluate("() => document.documentElement.scrollHeight - innerHeight")
    page.evaluate("y => window.scrollTo(0, y)", int(height * 0.4))
    page.wait_for_function("() => window.scrollY > 0")
    expect(chat_dialog(page)).to_have_count(0)
    page.evaluate("y => window.scrollTo(0, y)", int(height * 0.7))
    expect(chat_dialog(page)).to_be_visible()


@pytest.mark.parametrize("behaviour", ["prompt", "launcher"])
def test_mobile_behaviour(page, demo, behaviour):
    """On a phone the mobile setting decides, whatever the desktop's says (a
    desktop trigger does not open the chat on a phone either)."""
    other = "launcher" if behaviour == "prompt" else "prompt_and_open"
    display(
        mobile_behaviour=behaviour,
        desktop_behaviour=other,
        trigger="time_on_page",
        trigger_seconds=1,
    )
    page.set_viewport_size(PHONE)
    page.clock.install(time=T0)
    visit(page)
    expect(prompt(page)).to_have_count(1 if behaviour == "prompt" else 0)
    page.clock.run_for(3_000)
    expect(chat_dialog(page)).to_have_count(0)
