"""What the widget remembers in the browser, and only once the visitor acted
(consent first): a chat the visitor minimised stays minimised for 24 hours,
across pages and chatflows; a visitor who has chatted gets their visits
counted, for the "number of visits" filter. Time is Playwright's fake clock."""

import datetime
import json
import re

import pytest
from django.core.cache import cache
from playwright.sync_api import expect

from tests.browser.test_chat_e2e import chat_dialog, launcher, open_chat, send, widget
from tests.browser.test_widget_loader import WELCOME, wait_for_widget
from wagtail_livechat.models import Chatflow, UrlRule, VisitorFilter

pytestmark = pytest.mark.browser

KEY = "wagtail_livechat"
T0 = datetime.datetime(2026, 3, 2, 9, 0, tzinfo=datetime.UTC)
HOUR = datetime.timedelta(hours=1)


def stored(page):
    """What the site's origin holds in localStorage."""
    return page.evaluate("() => ({...localStorage})")


def remembered(page):
    return json.loads(stored(page).get(KEY, "{}"))


def prompt(page):
    return widget(page).get_by_role("status").filter(has_text=WELCOME)


def visit(page, path):
    page.goto(path)
    wait_for_widget(page, "ready")


def test_a_dismissed_prompt_stays_away_for_24_hours(page, demo):
    page.clock.install(time=T0)
    visit(page, "/")
    expect(prompt(page)).to_be_visible()
    assert stored(page) == {}  # nothing before the visitor acts

    widget(page).get_by_role("button", name="Dismiss").click()
    expect(prompt(page)).to_have_count(0)
    until = remembered(page)["m"]
    assert until == pytest.approx((T0 + 24 * HOUR).timestamp() * 1000, abs=60_000)
    assert list(remembered(page)) == ["m"]  # no visit count: they did not chat

    # Other pages, and later the same day: the launcher only.
    for path, later in (("/pricing/", HOUR), ("/help/", 23 * HOUR)):
        page.clock.set_system_time(T0 + later)
        visit(page, path)
        expect(launcher(page)).to_be_visible()
        expect(prompt(page)).to_have_count(0)

    # A day later the prompt is back.
    page.clock.set_system_time(T0 + 24 * HOUR + datetime.timedelta(minutes=2))
    visit(page, "/")
    expect(prompt(page)).to_be_visible()


def test_a_closed_chat_stays_minimised_across_chatflows(page, demo):
    """Closing the chat minimises it: the prompt and the trigger stay away on
    the next pages, also where another chatflow shows."""
    chatflow = Chatflow.objects.get(name="Website chat")
    chatflow.desktop_behaviour = "prompt_and_open"
    chatflow.trigger = "time_on_page"
    chatflow.trigger_seconds = 1
    chatflow.url_rules = [r for r in chatflow.url_rules.all() if r.operator == "all"]
    chatflow.save_revision().publish()
    chatflow.refresh_from_db()
    # A second chatflow, first in order, on the pricing page only.
    other = Chatflow(
        name="Pricing chat", inbox=chatflow.inbox, team_name="Pricing team", live=False
    )
    other.url_rules = [UrlRule(kind="include", operator="contains", value="/pricing/")]
    other.sort_order = -1
    other.save()
    other.save_revision().publish()

    page.clock.install(time=T0)
    page.goto("/")
    dialog = chat_dialog(page)
    expect(dialog).to_be_visible()  # the trigger opened it
    # Opened by the trigger and closed by the page's script: not the visitor.
    page.evaluate("() => WagtailLivechat.close()")
    expect(dialog).to_be_hidden()
    assert stored(page) == {}

    page.reload()
    expect(dialog).to_be_visible()  # the trigger again
    dialog.get_by_role("button", name="Close chat").first.click()
    expect(dialog).to_be_hidden()
    assert "m" in remembered(page)

    for path in ("/", "/pricing/"):
        visit(page, path)
        expect(launcher(page)).to_be_visible()
        expect(prompt(page)).to_have_count(0)
        page.clock.run_for(3000)  # past the trigger's second
        expect(chat_dialog(page)).to_have_count(0)
    assert page.evaluate("() => WagtailLivechat.status().chatflow") == other.pk

    page.clock.set_system_time(T0 + 25 * HOUR)
    page.goto("/")
    expect(chat_dialog(page)).to_be_visible()  # a day later the trigger fires again


def test_the_visits_filter_matches_after_n_visits(page, demo):
    """Visits are counted from the first message on (nothing before), one per
    page view after 30 minutes without one, and sent to the config endpoint."""
    page.clock.install(time=T0)
    configs = []
    page.on(
        "request",
        lambda r: "/livechat/config/" in r.url and configs.append(r.url),
    )
    dialog = open_chat(page, "/")
    assert stored(page) == {}
    send(dialog, "Hello")
    assert remembered(page)["v"] == 1

    # From now on the chatflow shows from the third visit on.
    chatflow = Chatflow.objects.get(name="Website chat")
    chatflow.visitor_filters = [
        VisitorFilter(group=1, attribute="visits", operator="gte", value="3")
    ]
    chatflow.save_revision().publish()
    # The server process reads the config generation once an hour in the
    # tests (settings/test.py): the shared cache, emptied, makes it compile anew.
    cache.clear()

    page.clock.set_system_time(T0 + datetime.timedelta(minutes=10))
    page.goto("/pricing/")  # the same visit
    wait_for_widget(page, "none")
    assert remembered(page)["v"] == 1
    assert re.search(r"[?&]visits=1(&|$)", configs[-1])

    page.clock.set_system_time(T0 + HOUR)
    page.goto("/")  # a second visit
    wait_for_widget(page, "none")
    assert remembered(page)["v"] == 2

    page.clock.set_system_time(T0 + 3 * HOUR)
    page.goto("/")  # the third
    wait_for_widget(page, "ready")
    assert re.search(r"[?&]visits=3(&|$)", configs[-1])
    expect(launcher(page)).to_be_visible()


def test_no_visit_count_before_the_visitor_chats(page, demo):
    chatflow = Chatflow.objects.get(name="Website chat")
    chatflow.visitor_filters = [
        VisitorFilter(group=1, attribute="visits", operator="lte", value="5")
    ]
    chatflow.save_revision().publish()
    with page.expect_request(re.compile(r"/livechat/config/\?")) as config:
        page.goto("/")
    assert "visits=" not in config.value.url  # not known: the filter does not match
    wait_for_widget(page, "none")
    assert stored(page) == {}
