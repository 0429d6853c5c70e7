"""In a real browser: visitors the site vouches for, the widget in each
language, two chatflows in two inboxes, "online" only with an agent
connected, the chat heading's modes, and the chatflow editor's Target and
Display tabs."""

import re
import time
from unittest import mock

import pytest
from django.core import signing
from django.core.files.uploadedfile import SimpleUploadedFile
from playwright.sync_api import expect
from wagtail.users.models import UserProfile

import wagtail_livechat
from tests.browser.test_chat_e2e import (
    chat_dialog,
    launcher,
    log_in,
    messages,
    open_chat,
    open_inbox,
    reply,
    send,
    wait_for,
    widget,
)
from wagtail_livechat import identity
from wagtail_livechat.models import Chatflow, Conversation, Inbox, QueryRule

pytestmark = pytest.mark.browser

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


@pytest.fixture
def agent(browser, live_server_url):
    context = browser.new_context(base_url=live_server_url, locale="en-US")
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


def website_chat():
    return Chatflow.objects.get(name="Website chat")


def republish(chatflow, **fields):
    for name, value in fields.items():
        setattr(chatflow, name, value)
    chatflow.save_revision().publish()


def header_status(page):
    return chat_dialog(page).locator(".hd small")


# -- Identification ----------------------------------------------------------


def token_of(kind):
    if kind == "good":
        return wagtail_livechat.identify(email="ann@example.com", name="Ann Lee", external_id="7")
    if kind == "forged":
        return signing.TimestampSigner(salt=identity.IDENTIFY_SALT, key="a guess").sign_object(
            {"e": "ann@example.com", "n": "Ann Lee", "x": "7", "a": 3600}
        )
    with mock.patch("django.core.signing.time.time", return_value=time.time() - 7200):
        return wagtail_livechat.identify(email="ann@example.com", name="Ann Lee", max_age=3600)


@pytest.mark.parametrize("kind", ["good", "forged", "expired"])
def test_identification_token(page, agent, demo, kind):
    log_in(agent)
    open_inbox(agent)
    page.goto("/")
    expect(launcher(page)).to_be_visible()
    page.evaluate("(t) => window.WagtailLivechat.identify(t)", token_of(kind))
    dialog = open_chat(page, path=None)
    send(dialog, "Hello, it is me")
    wait_for(page, Conversation.objects.exists, "the conversation")
    conversation = Conversation.objects.select_related("visitor__contact").get()
    if kind == "good":
        assert conversation.visitor.contact.email == "ann@example.com"
        assert conversation.visitor.contact.identified_at is not None
        expect(agent.get_by_text("Ann Lee").first).to_be_visible()
        agent.goto(f"/admin/livechat/{conversation.pk}/")
        expect(agent.get_by_text("ann@example.com").first).to_be_visible()
    else:
        assert conversation.visitor.contact is None
        expect(agent.get_by_text(f"Visitor {conversation.visitor.pk}").first).to_be_visible()
        expect(agent.get_by_text("Ann Lee")).to_have_count(0)


# -- Languages ---------------------------------------------------------------


@pytest.mark.parametrize(
    "language, open_label, send_label",
    [
        ("en", "Open chat", "Send"),
        ("nl", "Chat openen", None),
        ("de", "Chat öffnen", None),
        ("fr", "Ouvrir le chat", None),
        ("es", "Abrir el chat", "Enviar"),
    ],
)
def test_the_widget_speaks_the_chatflow_language(page, demo, language, open_label, send_label):
    republish(website_chat(), language=language, data_consent="explicit", data_consent_text="")
    page.goto("/")
    button = widget(page).get_by_role("button", name=open_label, exact=True)
    expect(button).to_be_visible()
    button.click()
    dialog = chat_dialog(page)
    expect(dialog).to_be_visible()
    if send_label:
        expect(dialog.get_by_role("button", name=send_label, exact=True)).to_be_visible()
    # The default texts follow the chatflow's language too.
    if language == "es":
        expect(dialog.get_by_text("Guardamos lo que escribes", exact=False)).to_be_visible()


# -- Two chatflows, two inboxes; online only with an agent connected -----------


def test_two_chatflows_in_two_inboxes_and_online_only_with_an_agent(page, agent, demo):
    sales = Inbox.objects.get(name="Sales")
    support = Inbox.objects.create(name="Partners")  # no members
    support_chat = Chatflow(name="Partner chat", inbox=support, team_name="Partners", live=False)
    support_chat.query_rules = [
        QueryRule(kind="include", name="team", operator="is", value="support")
    ]
    support_chat.save()
    support_chat.save_revision().publish()
    support_chat.refresh_from_db()
    sales_chat = website_chat()
    sales_chat.query_rules = [
        *sales_chat.query_rules.all(),
        QueryRule(kind="exclude", name="team", operator="is", value="support"),
    ]
    sales_chat.save_revision().publish()

    # Nobody connected: the sales chat is offline, before and after the welcome.
    dialog = open_chat(page, "/")
    expect(header_status(page)).to_have_text("Offline")

    log_in(agent)  # a member of Sales only
    open_inbox(agent)
    dialog = open_chat(page, "/")
    expect(header_status(page)).to_have_text("Online")
    send(dialog, "A question for sales")
    wait_for(page, lambda: Conversation.objects.filter(inbox=sales).exists(), "sales")

    # The support chat: its inbox has nobody, so offline; its conversation
    # is a new one, in Partners.
    dialog = open_chat(page, "/?team=support")
    expect(dialog.get_by_role("heading", name="Partners")).to_be_visible()
    expect(header_status(page)).to_have_text("Offline")
    send(dialog, "A question for support")
    wait_for(page, lambda: Conversation.objects.count() == 2, "two conversations")
    rows = sorted(Conversation.objects.values_list("inbox__name", "chatflow__name", "last_message"))
    assert rows == [
        ("Partners", "Partner chat", "A question for support"),
        ("Sales", "Website chat", "A question for sales"),
    ]
    # Back on the sales chat, its own thread.
    dialog = open_chat(page, "/")
    expect(messages(dialog, "visitor").filter(has_text="A question for sales")).to_be_visible()
    expect(messages(dialog, "visitor").filter(has_text="support")).to_have_count(0)

    # The agent leaves: offline again.
    agent.goto("/admin/")
    dialog = open_chat(page, "/")
    expect(header_status(page)).to_have_text("Offline")


# -- Heading ----------------------------------------------------------------


def test_alias_for_the_visitor_real_names_for_agents(page, agent, demo):
    republish(website_chat(), heading_mode="branding", use_team_alias=True)
    log_in(agent)
    open_inbox(agent)
    dialog = open_chat(page, "/")
    send(dialog, "Who is there?")
    wait_for(page, Conversation.objects.exists, "the conversation")
    conversation = Conversation.objects.get()
    agent.goto(f"/admin/livechat/{conversation.pk}/")
    reply(agent, "Happy to help")
    answer = messages(dialog, "agent").filter(has_text="Happy to help")
    expect(answer.locator(".name")).to_have_text("Example team")
    agent.reload()
    expect(
        agent.locator(".livechat-message__name").filter(has_text=re.compile("^Alex$"))
    ).to_be_visible()
    expect(agent.locator(".livechat-message__name").filter(has_text="Example team")).to_have_count(
        0
    )


def test_agents_heading_names_and_avatars_not_a_leftover_team_name(page, agent, demo):
    from django.contrib.auth import get_user_model

    admin = get_user_model().objects.get(username="admin")
    profile = UserProfile.get_for_user(admin)
    profile.avatar = SimpleUploadedFile("alex.png", PNG, content_type="image/png")
    profile.save()
    chatflow = website_chat()
    chatflow.heading_users.add(admin)
    republish(chatflow, heading_mode="agents", team_name="Old team", use_team_alias=True)
    log_in(agent)
    open_inbox(agent)
    dialog = open_chat(page, "/")
    expect(dialog.get_by_role("heading", name="Alex")).to_be_visible()
    expect(dialog.get_by_text("Old team")).to_have_count(0)
    face = dialog.locator(".hd img:not([hidden])")
    expect(face).to_have_count(1)
    assert face.get_attribute("src").endswith(".png")
    send(dialog, "Hi")
    wait_for(page, Conversation.objects.exists, "the conversation")
    agent.goto(f"/admin/livechat/{Conversation.objects.get().pk}/")
    reply(agent, "Hello from Alex")
    answer = messages(dialog, "agent").filter(has_text="Hello from Alex")
    expect(answer.locator(".name")).to_have_text("Alex")


# -- The editor ---------------------------------------------------------------


def test_target_and_display_fields_follow_the_options(agent, demo):
    log_in(agent)
    chatflow = website_chat()
    agent.goto(f"/admin/livechat/chatflows/edit/{chatflow.pk}/")
    agent.get_by_role("tab", name="Target").click()
    operator = agent.locator("[name='url_rules-0-operator']")
    value_box = agent.locator("[name='url_rules-0-value']")
    operator.select_option("all")
    expect(value_box).to_be_hidden()
    operator.select_option("is")
    expect(value_box).to_be_visible()
    expect(agent.locator("label[for='id_url_rules-0-value'] .w-required-mark")).to_have_count(1)
    # Page subtrees are chosen with Wagtail's page chooser, one row each.
    agent.get_by_role("button", name="Add page subtree").click()
    chooser = agent.locator("[name='page_subtrees-0-page']").locator("xpath=..")
    chooser.get_by_role("button", name="Choose a page").click()
    modal = agent.locator(".modal-dialog")
    expect(modal.get_by_role("heading", name=re.compile("Choose a page"))).to_be_visible()
    modal.get_by_role("link", name="Home", exact=True).first.click()
    expect(modal).to_be_hidden()
    expect(chooser).to_contain_text("Home")

    agent.get_by_role("tab", name="Display").click()
    mode = agent.locator("[name='heading_mode']")
    team_name = agent.locator("[name='team_name']")
    users = agent.locator("[data-field-wrapper]").filter(
        has=agent.locator("[name='heading_users']")
    )
    mode.select_option("agents")
    expect(team_name).to_be_hidden()
    expect(users).to_be_visible()
    mode.select_option("branding")
    expect(team_name).to_be_visible()
    expect(users).to_be_hidden()
    behaviour = agent.locator("[name='desktop_behaviour']")
    trigger = agent.locator("[name='trigger']")
    seconds = agent.locator("[name='trigger_seconds']")
    behaviour.select_option("launcher")
    expect(trigger).to_be_hidden()
    expect(seconds).to_be_hidden()
    behaviour.select_option("prompt_and_open")
    expect(trigger).to_be_visible()
    trigger.select_option("time_on_page")
    expect(seconds).to_be_visible()
    trigger.select_option("scroll")
    expect(seconds).to_be_hidden()


def test_chatflow_list_shows_live_and_draft(agent, demo):
    chatflow = website_chat()
    chatflow.team_name = "Changed"
    chatflow.save_revision()
    log_in(agent)
    agent.goto("/admin/livechat/chatflows/")
    row = agent.locator("tr").filter(has_text="Website chat")
    expect(row.get_by_text("live + draft")).to_be_visible()
