"""The widget, the inbox and the chatflow preview under a strict
Content-Security-Policy, enforced by the example site (example_site/csp.py):
``default-src 'self'; style-src 'self'; script-src 'self'``, no inline script
or style, no eval; websockets to the same host fall under ``default-src``.

Every ``securitypolicyviolation`` event (in any frame, shadow roots included)
and every CSP error on the console is recorded; the tests assert there are
none, that the widget is styled (computed styles) and that it works.
``?csp=nonce`` asks the test settings for a nonce-based policy instead
(``script-src 'nonce-…' 'strict-dynamic'``)."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.test_chat_e2e import (
    launcher,
    log_in,
    messages,
    open_chat,
    reply,
    send,
    toggle,
)
from tests.browser.test_preview import preview, wait_for_form_watch
from wagtail_livechat.models import Chatflow, Conversation

pytestmark = pytest.mark.browser

STRICT = "default-src 'self'; style-src 'self'; script-src 'self'"
ACCENT = "rgb(46, 91, 255)"  # the demo's Sales inbox
WHITE = "rgb(255, 255, 255)"
VIEWPORT = {"width": 1280, "height": 800}
TIMEOUT_MS = 10_000

# In every frame, before the page's own scripts: report each violation.
WATCH_JS = """
document.addEventListener("securitypolicyviolation", (e) => {
  window.livechatCspViolation({
    page: location.href, directive: e.violatedDirective, blocked: e.blockedURI,
    source: e.sourceFile, line: e.lineNumber, sample: e.sample,
  });
}, true);
"""


def watch(context):
    """The CSP violations of every page and frame of this browser context:
    the events, and the console's CSP errors."""
    found = []
    context.expose_function("livechatCspViolation", lambda report: found.append(report))
    context.add_init_script(WATCH_JS)

    def on_page(page):
        page.on(
            "console",
            lambda m: "Content Security Policy" in m.text and found.append({"console": m.text}),
        )

    context.on("page", on_page)
    for page in context.pages:
        on_page(page)
    return found


def settle(page):
    """Let reports on their way (bindings are asynchronous) arrive."""
    page.wait_for_timeout(300)
    page.evaluate("() => new Promise((resolve) => requestAnimationFrame(resolve))")


@pytest.fixture
def violations(context):
    return watch(context)


@pytest.fixture
def agent(browser, live_server_url):
    """The agent's page in a second browser context, watched too."""
    context = browser.new_context(base_url=live_server_url, viewport=VIEWPORT, locale="en-US")
    context.set_default_timeout(TIMEOUT_MS)
    context.route(re.compile(rf"^(?!{re.escape(live_server_url)}/)[a-z]+://"), lambda r: r.abort())
    context.livechat_violations = watch(context)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    if errors:
        pytest.fail("Uncaught errors in the agent's page:\n" + "\n".join(errors), pytrace=False)


def policy_of(response):
    return response.headers.get("content-security-policy")


def shadow(page, script):
    """Evaluate ``script`` (a function of the shadow root) in the widget."""
    return page.evaluate(
        f"() => {{ const root = document.getElementById('wagtail-livechat-root').shadowRoot;"
        f" return ({script})(root); }}"
    )


COMPUTED = """(root) => {
  const css = (el, ...names) => { const s = getComputedStyle(el); return Object.fromEntries(names.map((n) => [n, s[n]])); };
  const chat = root.querySelector(".chat");
  return {
    column: css(root.querySelector(".l"), "position", "right", "bottom", "zIndex", "display"),
    launcher: css(root.querySelector(".btn"), "backgroundColor", "borderTopLeftRadius", "width", "height", "cursor"),
    chat: chat && css(chat, "display", "width", "backgroundColor", "borderTopLeftRadius", "overflow"),
    header: chat && css(chat.querySelector(".hd"), "backgroundColor", "color"),
    styleElements: root.querySelectorAll("style").length,
    adopted: root.adoptedStyleSheets ? root.adoptedStyleSheets.length : null,
  };
}"""


def assert_launcher_styled(page):
    """The launcher: round, in the accent colour, fixed at the bottom right."""
    button = launcher(page)
    expect(button).to_be_visible()
    styles = shadow(page, COMPUTED)
    assert styles["column"]["position"] == "fixed"
    assert (styles["column"]["right"], styles["column"]["bottom"]) == ("20px", "20px")
    assert styles["column"]["display"] == "flex"
    assert styles["launcher"]["backgroundColor"] == ACCENT
    assert styles["launcher"]["borderTopLeftRadius"] == "50%"
    assert (styles["launcher"]["width"], styles["launcher"]["height"]) == ("56px", "56px")
    box = button.bounding_box()
    assert VIEWPORT["width"] - (box["x"] + box["width"]) == pytest.approx(20, abs=1)
    assert VIEWPORT["height"] - (box["y"] + box["height"]) == pytest.approx(20, abs=1)
    return styles


def assert_dialog_styled(page, dialog):
    """The open chat: a white panel above the launcher, out of the page's flow."""
    styles = shadow(page, COMPUTED)
    assert styles["chat"] == {
        "display": "flex",
        "width": "360px",
        "backgroundColor": WHITE,
        "borderTopLeftRadius": "12px",
        "overflow": "hidden",
    }
    assert styles["header"] == {"backgroundColor": ACCENT, "color": WHITE}
    box = dialog.bounding_box()
    button = toggle(page).bounding_box()
    assert box["y"] + box["height"] <= button["y"]  # above the launcher
    assert VIEWPORT["width"] - (box["x"] + box["width"]) == pytest.approx(20, abs=1)
    return styles


def page_height(page):
    return page.evaluate("() => document.documentElement.scrollHeight")


# -- The strict policy -------------------------------------------------------


def test_widget_and_inbox_work_under_a_strict_csp(page, violations, agent, demo):
    visitor = page
    agent_violations = agent.context.livechat_violations
    fetched = []  # the widget's files (the budgets of tests/test_widget_size.py)
    visitor.on(
        "request",
        lambda r: "/static/wagtail_livechat/" in r.url and fetched.append(r.url.rsplit("/", 1)[1]),
    )

    response = visitor.goto("/")
    assert policy_of(response) == STRICT
    # Nothing inline in the page: the boot data is JSON (a data block, which
    # is never run) and the loader an external script.
    assert visitor.evaluate("() => document.querySelectorAll('[style]').length") == 0

    styles = assert_launcher_styled(visitor)
    # No <style> element (CSP blocks them): the loader's constructed stylesheet.
    assert (styles["styleElements"], styles["adopted"]) == (0, 1)

    assert fetched == ["livechat.js"]  # no stylesheet before interaction

    height = page_height(visitor)
    dialog = open_chat(visitor, path=None)
    styles = assert_dialog_styled(visitor, dialog)
    assert (styles["styleElements"], styles["adopted"]) == (0, 2)  # + chat.js's
    assert fetched == ["livechat.js", "chat.js"]  # and none after
    assert page_height(visitor) == height  # the panel takes no room in the page

    # The visitor writes (a websocket to the same host: default-src 'self').
    question = "Does the chat work under a strict policy?"
    send(dialog, question)
    conversation = Conversation.objects.get()

    # The agent answers from the inbox, also under the strict policy.
    log_in(agent)
    with agent.expect_response(re.compile(r"/admin/livechat/$")) as inbox:
        agent.goto("/admin/livechat/")
    assert policy_of(inbox.value) == STRICT
    expect(agent.locator(".livechat-connection")).to_have_attribute("data-state", "connected")
    row = agent.locator(f"tr[data-conversation='{conversation.pk}']")
    expect(row).to_contain_text(question)
    # inbox.css applies (a <link> from the site: style-src 'self').
    toolbar = agent.locator(".livechat-toolbar").evaluate("el => getComputedStyle(el).display")
    assert toolbar == "flex"

    row.get_by_role("link").click()
    agent.wait_for_url(f"**/admin/livechat/{conversation.pk}/")
    assert policy_of(agent.request.get(f"/admin/livechat/{conversation.pk}/")) == STRICT
    expect(agent.locator(".livechat-connection")).to_have_attribute("data-state", "connected")
    agent_log = agent.get_by_role("log")
    expect(agent_log.locator(".livechat-message--visitor")).to_contain_text(question)
    layout = agent.locator(".livechat-layout").evaluate("el => getComputedStyle(el).display")
    assert layout == "grid"
    answer = "Yes: no inline script or style needed."
    reply(agent, answer)

    # The visitor sees the reply.
    expect(messages(dialog, "agent")).to_contain_text(answer)

    settle(visitor)
    settle(agent)
    assert violations == []
    assert agent_violations == []

    # The policy is enforced and the watch sees what it blocks: a style
    # attribute set in the widget is refused, and reported.
    shadow(visitor, "(root) => root.querySelector('.l').setAttribute('style', 'right: 300px')")
    settle(visitor)
    assert [v.get("directive") for v in violations if "directive" in v] == ["style-src-attr"]
    assert shadow(visitor, "(root) => getComputedStyle(root.querySelector('.l')).right") == "20px"


def test_chatflow_preview_under_a_strict_csp(page, violations, admin_user, demo):
    """The preview is our page inside Wagtail's editor (which runs inline
    scripts of its own, so the example site exempts it: see settings)."""
    chatflow = Chatflow.objects.get(name="Website chat")
    log_in(page)
    page.goto(f"/admin/livechat/chatflows/edit/{chatflow.pk}/")
    with page.expect_response(
        lambda r: "/chatflows/preview/" in r.url and r.request.method == "GET"
    ) as shown:
        page.get_by_role("button", name="Toggle preview").click()
    assert policy_of(shown.value) == STRICT

    frame = preview(page)
    dialog = frame.locator("#wagtail-livechat-root").get_by_role("dialog")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("heading", name="Example team")).to_be_visible()
    styles = frame.locator("#wagtail-livechat-root").evaluate(
        f"host => ({COMPUTED})(host.shadowRoot)"
    )
    assert styles["column"]["position"] == "fixed"
    assert styles["launcher"]["backgroundColor"] == ACCENT
    assert styles["chat"]["backgroundColor"] == WHITE
    assert styles["header"]["backgroundColor"] == ACCENT
    # The stand-in page's own styles come from preview.css.
    widths = frame.locator(".skeleton").evaluate_all(
        "els => els.map((e) => Math.round((e.offsetWidth / els[0].offsetWidth) * 100))"
    )
    assert widths == [100, 80, 60]
    assert frame.locator("body").evaluate("b => getComputedStyle(b).margin") == "0px"

    # A change in the form reaches the preview, still without a violation.
    wait_for_form_watch(page)
    page.get_by_role("tab", name="Display").click()
    page.get_by_label("Team name").fill("Help desk")
    expect(preview(page).get_by_role("dialog").get_by_role("heading")).to_have_text("Help desk")

    settle(page)
    assert violations == []


# -- A nonce-based policy ----------------------------------------------------


@pytest.mark.parametrize("path", ["/?csp=nonce", "/jinja/?csp=nonce"], ids=["django", "jinja2"])
def test_widget_under_a_nonce_based_csp(page, violations, demo, path):
    """``script-src 'nonce-…' 'strict-dynamic'``: no script runs without the
    response's nonce, which the tag puts on the loader (the example site's
    middleware made it for this response), and chat.js loads from it."""
    response = page.goto(path)
    nonce = re.search(r"'nonce-([^']+)'", policy_of(response)).group(1)
    assert "'strict-dynamic'" in policy_of(response)
    assert f'nonce="{nonce}"' in response.text()
    loader = page.locator("script[src$='/wagtail_livechat/livechat.js']")
    assert loader.evaluate("s => s.nonce") == nonce

    assert_launcher_styled(page)
    dialog = open_chat(page, path=None)
    assert_dialog_styled(page, dialog)
    send(dialog, "Hello under a nonce")
    assert Conversation.objects.get().messages.filter(body="Hello under a nonce").count() == 1

    settle(page)
    assert violations == []


NO_CONSTRUCTED_SHEETS_JS = """
delete ShadowRoot.prototype.adoptedStyleSheets;
delete Document.prototype.adoptedStyleSheets;
"""


def test_a_browser_without_constructed_stylesheets_uses_the_nonce(page, violations, demo):
    """Browsers without constructed stylesheets (Safari before 16.4) get
    <style> elements: with the page's nonce, they pass a nonce-based policy."""
    page.context.add_init_script(NO_CONSTRUCTED_SHEETS_JS)
    response = page.goto("/?csp=nonce")
    nonce = re.search(r"'nonce-([^']+)'", policy_of(response)).group(1)
    styles = assert_launcher_styled(page)
    assert (styles["styleElements"], styles["adopted"]) == (1, None)
    dialog = open_chat(page, path=None)
    assert shadow(page, "(root) => [...root.querySelectorAll('style')].map((s) => s.nonce)") == [
        nonce,
        nonce,
    ]
    assert_dialog_styled(page, dialog)
    settle(page)
    assert violations == []

    # Under the strict policy (no nonce), such a browser shows the widget
    # unstyled: what every browser did before the constructed stylesheets.
    page.goto("/")
    expect(launcher(page)).to_have_count(1)
    settle(page)
    assert {v.get("directive") for v in violations if "directive" in v} == {"style-src-elem"}
    assert shadow(page, "(root) => getComputedStyle(root.querySelector('.l')).position") == (
        "static"
    )
