"""The widget's loader (livechat.js) and chat panel (chat.js) on the demo site,
in Chromium, against a live ASGI server."""

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

WELCOME = "Hi! How can we help you today?"
ACCENT = "rgb(46, 91, 255)"  # the demo's Sales inbox: #2e5bff, the default


def launcher(page):
    """The launcher, inside the widget's shadow root (locators pierce it)."""
    return page.locator("#wagtail-livechat-root").get_by_role(
        "button", name="Open chat", exact=True
    )


def chat_dialog(page):
    return page.locator("#wagtail-livechat-root").get_by_role("dialog")


def wait_for_widget(page, state):
    page.wait_for_function(
        "s => window.WagtailLivechat && window.WagtailLivechat.status().state === s", arg=state
    )


def focused_label(page):
    """The accessible label of the focused element, looking into shadow roots."""
    return page.evaluate(
        """() => {
            let el = document.activeElement;
            while (el && el.shadowRoot && el.shadowRoot.activeElement) el = el.shadowRoot.activeElement;
            return el ? el.getAttribute("aria-label") || el.textContent.trim() : null;
        }"""
    )


def test_launcher_shows_on_the_home_page(page, demo, screenshots):
    page.goto("/")
    button = launcher(page)
    expect(button).to_be_visible()
    expect(button).to_have_attribute("aria-expanded", "false")
    # Only the host element is in the page's DOM; the widget is in its shadow root.
    assert page.evaluate("() => !!document.getElementById('wagtail-livechat-root').shadowRoot")
    assert page.evaluate("() => document.querySelectorAll('#wagtail-livechat-root *').length") == 0
    # The demo chatflow shows its welcome message as a prompt by the launcher.
    expect(page.locator("#wagtail-livechat-root").get_by_role("status")).to_contain_text(WELCOME)
    page.screenshot(path=screenshots / "widget-launcher.png")


def test_launcher_is_round_bottom_right_in_the_accent_colour(page, demo):
    page.goto("/")
    button = launcher(page)
    expect(button).to_be_visible()
    box = button.bounding_box()
    viewport = page.viewport_size
    assert box["width"] == box["height"] == 56
    assert viewport["width"] - (box["x"] + box["width"]) == pytest.approx(20, abs=1)
    assert viewport["height"] - (box["y"] + box["height"]) == pytest.approx(20, abs=1)
    style = button.evaluate(
        "b => { const s = getComputedStyle(b);"
        " return {bg: s.backgroundColor, radius: s.borderTopLeftRadius, position: s.position}; }"
    )
    assert style["bg"] == ACCENT
    assert style["radius"] == "50%"


def test_no_launcher_on_an_excluded_page(page, demo):
    with page.expect_response(re.compile(r"/livechat/config/\?")) as config:
        page.goto("/privacy-policy/")
    assert config.value.ok
    assert config.value.json() == {"chatflow": None}
    wait_for_widget(page, "none")
    assert page.locator("#wagtail-livechat-root").count() == 0
    expect(page.get_by_role("button", name="Open chat")).to_have_count(0)


def test_launcher_shows_on_a_jinja2_page(page, demo):
    page.goto("/jinja/")
    expect(page.get_by_role("heading", name="Jinja page")).to_be_visible()
    expect(launcher(page)).to_be_visible()


def test_nothing_is_stored_and_no_socket_opened_before_interaction(page, context, demo):
    sockets = []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    page.goto("/")
    expect(launcher(page)).to_be_visible()
    page.wait_for_load_state("networkidle")
    assert context.cookies() == []
    assert page.evaluate("() => [localStorage.length, sessionStorage.length]") == [0, 0]
    assert page.evaluate("() => document.cookie") == ""
    assert sockets == []


def test_launcher_opens_and_closes_the_chat(page, demo, screenshots):
    page.goto("/")
    button = launcher(page)
    button.click()
    dialog = chat_dialog(page)
    expect(dialog).to_be_visible()
    expect(dialog).to_have_accessible_name("Example team")
    expect(dialog).to_contain_text(WELCOME)
    expect(dialog.get_by_role("heading", name="Example team")).to_be_visible()
    # While the chat is open the launcher is a button that closes it.
    closer = page.locator("#wagtail-livechat-root").get_by_role(
        "button", name="Close chat", exact=True, expanded=True
    )
    expect(closer).to_be_visible()
    expect(button).to_have_count(0)
    # The prompt goes away once the chat is open.
    expect(page.locator("#wagtail-livechat-root .p")).to_have_count(0)
    # A card above the launcher, its header in the accent colour.
    card = dialog.bounding_box()
    assert dialog.evaluate("d => getComputedStyle(d).backgroundColor") == "rgb(255, 255, 255)"
    assert dialog.locator(".hd").evaluate("h => getComputedStyle(h).backgroundColor") == ACCENT
    assert card["y"] + card["height"] <= closer.bounding_box()["y"]
    page.screenshot(path=screenshots / "widget-open.png")

    dialog.get_by_role("button", name="Close chat").click()
    expect(dialog).to_be_hidden()
    expect(button).to_have_attribute("aria-expanded", "false")
    expect(button).to_be_focused()
    assert focused_label(page) == "Open chat"

    # It opens again, with one panel, and the launcher closes it.
    button.click()
    expect(dialog).to_be_visible()
    expect(page.locator("#wagtail-livechat-root").get_by_role("dialog")).to_have_count(1)
    closer.click()
    expect(dialog).to_be_hidden()
    expect(button).to_be_focused()


def test_keyboard_reaches_and_opens_the_launcher(page, demo):
    page.goto("/")
    button = launcher(page)
    expect(button).to_be_visible()
    for _ in range(30):
        page.keyboard.press("Tab")
        if focused_label(page) == "Open chat":
            break
    else:
        pytest.fail("Tab never reached the launcher")
    expect(button).to_be_focused()
    page.keyboard.press("Enter")
    dialog = chat_dialog(page)
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text(WELCOME)
    # Focus moves into the panel, to the message box, ready to type.
    expect(dialog.get_by_role("textbox", name="Message")).to_be_focused()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(button).to_be_focused()
    # The close button works by keyboard too.
    page.keyboard.press("Enter")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Close chat").focus()
    page.keyboard.press("Enter")
    expect(dialog).to_be_hidden()
    expect(button).to_be_focused()


def test_quick_clicks_while_the_chat_loads_make_one_panel(page, demo):
    """Clicks that come before chat.js has loaded neither fail nor mount a
    second panel (the page fixture fails the test on any uncaught error)."""
    page.route("**/chat.js", lambda route: (page.wait_for_timeout(300), route.continue_()))
    page.goto("/")
    button = page.locator("#wagtail-livechat-root button[aria-expanded]")  # in either state
    expect(button).to_be_visible()
    for _ in range(3):  # open, close, open: all before chat.js arrives
        button.click()
    dialog = chat_dialog(page)
    expect(dialog).to_be_visible()
    expect(button).to_have_attribute("aria-expanded", "true")
    expect(page.locator("#wagtail-livechat-root").get_by_role("dialog")).to_have_count(1)
    assert page.evaluate("() => WagtailLivechat.status().state") == "open"


def test_welcome_message_keeps_its_formatting(page, demo):
    from wagtail_livechat.models import Chatflow

    chatflow = Chatflow.objects.get(name="Website chat")
    chatflow.welcome_message = "<p>Hi! Ask <b>anything</b>, <i>really</i>.</p>"
    chatflow.save_revision().publish()
    page.goto("/")
    prompt = page.locator("#wagtail-livechat-root").get_by_role("status")
    expect(prompt).to_contain_text("Hi! Ask anything, really.")
    assert int(prompt.locator("b").evaluate("b => getComputedStyle(b).fontWeight")) >= 600
    assert prompt.locator("i").evaluate("i => getComputedStyle(i).fontStyle") == "italic"
    launcher(page).click()
    bold = chat_dialog(page).locator("b")
    expect(bold).to_have_text("anything")
    assert int(bold.evaluate("b => getComputedStyle(b).fontWeight")) >= 600


def test_query_parameter_rule_is_honoured(page, demo):
    from wagtail_livechat.models import Chatflow, QueryRule

    chatflow = Chatflow.objects.get(name="Website chat")
    # Instead of "all pages": only visits that came with ?utm_campaign=spring,
    # and never with ?nochat.
    chatflow.url_rules = [r for r in chatflow.url_rules.all() if r.operator != "all"]
    chatflow.query_rules = [
        QueryRule(kind="include", name="utm_campaign", operator="is", value="spring"),
        QueryRule(kind="exclude", name="nochat", operator="present"),
    ]
    chatflow.save_revision().publish()

    page.goto("/pricing/?utm_campaign=spring")
    expect(launcher(page)).to_be_visible()

    for url in ("/pricing/", "/pricing/?utm_campaign=autumn", "/?utm_campaign=spring&nochat=1"):
        page.goto(url)
        wait_for_widget(page, "none")
        expect(page.locator("#wagtail-livechat-root")).to_have_count(0)


def test_host_page_styles_do_not_leak_into_the_widget(page, demo):
    page.goto("/")
    button = launcher(page)
    expect(button).to_be_visible()
    # A stylesheet of the page's (constructed: its strict CSP refuses a <style>).
    page.evaluate(
        "css => { const s = new CSSStyleSheet(); s.replaceSync(css);"
        " document.adoptedStyleSheets = [...document.adoptedStyleSheets, s]; }",
        "button{background:red} button, div, p {font-size:40px}",
    )
    # The host page's own buttons turn red: the style is in force.
    own = page.evaluate(
        "() => { const b = document.createElement('button'); document.body.append(b);"
        " return getComputedStyle(b).backgroundColor; }"
    )
    assert own == "rgb(255, 0, 0)"
    assert button.evaluate("b => getComputedStyle(b).backgroundColor") == ACCENT
    assert button.bounding_box()["width"] == 56
    prompt = page.locator("#wagtail-livechat-root").get_by_role("status")
    assert prompt.evaluate("p => getComputedStyle(p).fontSize") == "15px"
