"""Issue 8 in Chromium: the feedback survey from the close to the inbox thread
to the report and its CSV; consents recorded from the widget; the contact
owner in the heading and in routing; "Reset to the default text" in the
chatflow editor."""

import csv
import io
import re

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone, translation
from playwright.sync_api import expect

from tests.browser import test_chat_e2e as e2e
from tests.browser.test_chat_e2e import (
    chat_dialog,
    launcher,
    log_in,
    message_box,
    messages,
    open_chat,
    open_conversation,
    open_inbox,
    reply,
    send,
    wait_for,
)
from wagtail_livechat import defaults
from wagtail_livechat.models import (
    Chatflow,
    ConsentRecord,
    Contact,
    Conversation,
    SurveyAnswer,
    Visitor,
)

pytestmark = pytest.mark.browser

QUESTION = "How did we do today?"


@pytest.fixture
def visitor(page):
    return e2e._record_dialogs(page)


@pytest.fixture
def agent(browser, live_server_url):
    """The agent's page, in a browser context of its own."""
    context = browser.new_context(base_url=live_server_url, viewport=e2e.VIEWPORT, locale="en-US")
    context.set_default_timeout(e2e.TIMEOUT_MS)
    context.route(re.compile(rf"^(?!{re.escape(live_server_url)}/)[a-z]+://"), lambda r: r.abort())
    page = e2e._record_dialogs(context.new_page())
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert not errors, errors


def website_chat(**fields):
    chatflow = Chatflow.objects.get(name="Website chat")
    for name, value in fields.items():
        setattr(chatflow, name, value)
    chatflow.save_revision().publish()
    chatflow.refresh_from_db()
    return chatflow


def answer_survey(dialog, rating, comment):
    survey = dialog.get_by_role("group", name=QUESTION)
    expect(survey).to_be_visible()
    expect(survey.get_by_role("radio")).to_have_count(5)
    survey.get_by_label(str(rating), exact=True).check()
    dialog.get_by_label("Comment (optional)").fill(comment)
    dialog.get_by_role("button", name="Send feedback").click()
    expect(dialog.get_by_text("Thank you for your feedback.")).to_be_visible()


def test_survey_from_the_agents_close_to_the_report_and_its_csv(visitor, agent, demo):
    website_chat(feedback_survey=True, survey_question=QUESTION)
    dialog = open_chat(visitor, "/")
    send(dialog, "Do you ship to Norway?")

    log_in(agent)
    conversation = Conversation.objects.get()
    thread = open_conversation(agent, conversation)
    reply(agent, "Yes, within five days.")
    expect(messages(dialog, "agent")).to_contain_text("within five days")
    agent.get_by_role("button", name="Close conversation").click()

    expect(dialog.get_by_text("The conversation has ended.")).to_be_visible()
    comment = "<img src=x onerror=alert(1)> Quick & kind"
    answer_survey(dialog, 4, comment)
    wait_for(visitor, SurveyAnswer.objects.exists, "the answer")
    answer = SurveyAnswer.objects.get()
    assert (answer.rating, answer.comment, answer.conversation_id) == (4, comment, conversation.pk)
    assert answer.agent.username == "admin" and answer.chatflow.name == "Website chat"

    # Live in the thread, as text; and after a reload.
    survey = agent.get_by_role("region", name="Feedback survey")
    expect(survey).to_be_visible()
    expect(survey.locator("[data-slot=rating]")).to_have_text("4")
    expect(survey.locator("[data-slot=comment]")).to_have_text(comment)
    expect(survey.locator("img")).to_have_count(0)
    assert thread.is_visible()
    agent.reload()
    expect(agent.get_by_role("region", name="Feedback survey")).to_contain_text(comment)
    assert visitor.livechat_dialogs == [] and agent.livechat_dialogs == []

    # The report, in the Reports menu, with its totals and exports.
    agent.goto("/admin/")
    agent.get_by_role("button", name="Reports").click()
    agent.get_by_role("link", name="Chat feedback").click()
    expect(agent.get_by_role("heading", name="Feedback survey")).to_be_visible()
    expect(
        agent.get_by_text("1 answer: average rating 4.0 out of 5, 100% satisfied")
    ).to_be_visible()
    expect(agent.locator("table.listing")).to_contain_text(comment)
    expect(agent.locator("table.listing img")).to_have_count(0)
    response = agent.request.get("/admin/reports/livechat-survey/?export=csv")
    rows = list(csv.reader(io.StringIO(response.text())))
    assert rows[0][:3] == ["Answered", "Rating (1-5)", "Comment"]
    assert rows[1][1:] == ["4", comment, "Website chat", "Alex", str(conversation.pk)]
    response = agent.request.get("/admin/reports/livechat-survey/?export=csv&group=agent")
    assert list(csv.reader(io.StringIO(response.text())))[1] == ["admin", "1", "4.0", "100"]
    response = agent.request.get("/admin/reports/livechat-survey/?export=xlsx")
    assert response.headers["content-type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml"
    )


def test_the_visitor_ends_the_chat_and_rates_it(visitor, demo):
    website_chat(feedback_survey=True, survey_question=QUESTION)
    dialog = open_chat(visitor, "/")
    end = dialog.get_by_role("button", name="End chat")
    expect(end).to_be_hidden()  # no conversation yet
    send(dialog, "Just looking, thanks.")
    expect(end).to_be_visible()
    end.click()
    expect(dialog.get_by_text("The conversation has ended.")).to_be_visible()
    expect(end).to_be_hidden()
    wait_for(visitor, lambda: Conversation.objects.get().status == "closed", "closed")
    answer_survey(dialog, 2, "")
    wait_for(visitor, SurveyAnswer.objects.exists, "the answer")
    assert SurveyAnswer.objects.get().rating == 2

    # A reload after the answer offers no second survey.
    visitor.reload()
    launcher(visitor).click()
    dialog = chat_dialog(visitor)
    expect(dialog.get_by_text("Just looking, thanks.")).to_be_visible()
    expect(dialog.get_by_role("group", name=QUESTION)).to_have_count(0)


def test_the_widget_records_each_consent_with_the_text_it_showed(visitor, agent, demo):
    data_text = "We keep your messages for 30 days."
    chatflow = website_chat(
        data_consent="explicit", data_consent_text=data_text, cookie_consent="before_chat"
    )
    dialog = open_chat(visitor, "/")
    dialog.get_by_label("I agree").check()
    box = message_box(dialog)
    box.fill("Hello")
    box.press("Enter")
    dialog.get_by_role("button", name="Accept").click()
    expect(messages(dialog, "visitor").filter(has_text="Hello")).to_be_visible()
    wait_for(visitor, lambda: ConsentRecord.objects.count() == 2, "two consent records")
    records = {r.kind: r for r in ConsentRecord.objects.all()}
    assert records["data"].text == data_text and records["data"].given
    assert records["cookies"].text == str(defaults.COOKIE_CONSENT_TEXT)
    for record in records.values():
        assert record.chatflow == chatflow and record.revision_id == chatflow.live_revision_id
        assert record.visitor == Visitor.objects.get()

    # An administrator reads them under Live chat › Consent records: read only.
    log_in(agent)
    agent.get_by_role("button", name="Live chat").click()
    agent.get_by_role("link", name="Consent records").click()
    table = agent.get_by_role("table")
    expect(table).to_contain_text(data_text)
    expect(table).to_contain_text(str(defaults.COOKIE_CONSENT_TEXT))
    expect(table).to_contain_text("Website chat")
    expect(agent.get_by_role("link", name=re.compile("Add consent record"))).to_have_count(0)
    agent.get_by_role("link", name=re.compile("Data processing")).first.click()
    expect(agent.get_by_role("main")).to_contain_text(data_text)
    expect(agent.get_by_role("link", name="Edit")).to_have_count(0)
    expect(agent.get_by_role("link", name="Delete")).to_have_count(0)


def test_the_owner_heads_the_chat_and_gets_the_contacts_new_conversation(visitor, agent, demo):
    admin = get_user_model().objects.get(username="admin")
    website_chat(heading_mode="owner", team_name="Demo team", owner_routing="owner")
    dialog = open_chat(visitor, "/")
    heading = dialog.get_by_role("heading", level=2)
    expect(heading).to_have_text("Demo team")  # an unknown visitor: the fallback
    send(dialog, "Hello")  # the visitor now has an identity
    # The visitor proves who they are (as the mailed link does), a contact
    # owned by Alex; their first conversation is gone.
    contact = Contact.objects.create(email="ann@example.com", name="Ann", owner=admin)
    Visitor.objects.update(contact=contact, contact_confirmed_at=timezone.now())
    Conversation.objects.all().delete()

    log_in(agent)
    open_inbox(agent)  # the owner is connected and available
    visitor.reload()
    dialog = open_chat(visitor, None)
    expect(dialog.get_by_role("heading", level=2)).to_have_text("Alex")
    send(dialog, "It's Ann again")
    conversation = Conversation.objects.get()
    assert conversation.assignee == admin and not conversation.auto_assigned


def test_reset_to_the_default_text_in_the_chatflow_editor(agent, demo):
    # The texts show (and can be reset) when the chatflow asks for them.
    chatflow = website_chat(
        data_consent_text="Our own text",
        data_consent="explicit",
        cookie_consent="before_chat",
        feedback_survey=True,
        language="en",
    )
    log_in(agent)
    agent.goto(f"/admin/livechat/chatflows/edit/{chatflow.pk}/")
    agent.get_by_role("tab", name="Options").click()
    field = agent.locator("textarea[name=data_consent_text]")
    expect(field).to_have_value("Our own text")
    agent.locator("select[name=language]").select_option("nl")
    field.locator("xpath=following-sibling::button[1]").click()
    with translation.override("nl"):
        dutch = str(defaults.DATA_CONSENT_TEXT)
    expect(field).to_have_value(dutch)
    agent.locator("select[name=language]").select_option("en")
    field.locator("xpath=following-sibling::button[1]").click()
    expect(field).to_have_value(str(defaults.DATA_CONSENT_TEXT))
    assert agent.get_by_role("button", name="Reset to the default text").count() == 3
