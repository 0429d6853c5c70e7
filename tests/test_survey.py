"""The feedback survey: ended by an agent or the visitor, answered once by the
conversation's own visitor, shown in the inbox thread (live and on reload),
and reported in Wagtail's Reports menu with CSV and XLSX exports."""

import csv
import io
import re

import pytest
from django.contrib.auth.models import Group, Permission
from django.urls import reverse
from openpyxl import load_workbook

from tests.livechat_factories import make_agent, make_chatflow, make_inbox
from tests.sockets import agent_socket, db, receive_until, visitor_socket
from wagtail_livechat import protocol, service
from wagtail_livechat.models import Chatflow, Conversation, SurveyAnswer, Visitor

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture
def setup(db):
    agent = make_agent("alex", first_name="Alex", last_name="Agent")
    inbox = make_inbox(members=[agent])
    chatflow = make_chatflow(inbox, feedback_survey=True, survey_question="How did we do?")
    visitor = Visitor.objects.create()
    return agent, inbox, chatflow, visitor


def conversation_of(visitor, chatflow, *, assignee=None, status="open"):
    return Conversation.objects.create(
        inbox=chatflow.inbox,
        chatflow=chatflow,
        visitor=visitor,
        assignee=assignee,
        status=status,
    )


# -- Frames ------------------------------------------------------------------


def frame(**fields):
    import json

    return json.dumps({"type": "survey", "conversation": 1, "rating": 5, **fields})


def test_survey_frame_takes_a_rating_from_one_to_five_and_an_optional_comment():
    parsed = protocol.parse(frame(comment="  Quick and kind.  "), "visitor")
    assert parsed == {
        "type": "survey",
        "conversation": 1,
        "rating": 5,
        "comment": "Quick and kind.",
    }
    assert protocol.parse(frame(), "visitor")["comment"] == ""


@pytest.mark.parametrize(
    "fields, code",
    [
        ({"rating": 0}, "bad_frame"),
        ({"rating": 6}, "bad_frame"),
        ({"rating": 4.5}, "bad_frame"),
        ({"rating": "5"}, "bad_frame"),
        ({"rating": True}, "bad_frame"),
        ({"rating": None}, "bad_frame"),
        ({"conversation": 0}, "bad_frame"),
        ({"conversation": "1"}, "bad_frame"),
        ({"comment": 5}, "bad_frame"),
        ({"comment": "x" * 1001}, "too_long"),
        ({"comment": "a\x00b"}, "bad_frame"),
    ],
)
def test_survey_frame_refuses_what_is_out_of_bounds(fields, code):
    with pytest.raises(protocol.ProtocolError) as error:
        protocol.parse(frame(**fields), "visitor")
    assert error.value.code == code


def test_end_and_consent_frames():
    import json

    assert protocol.parse(json.dumps({"type": "end", "conversation": 3}), "visitor") == {
        "type": "end",
        "conversation": 3,
    }
    assert protocol.parse(
        json.dumps({"type": "consent", "kind": "cookies", "given": True}), "visitor"
    ) == {"type": "consent", "kind": "cookies", "given": True}
    for bad in (
        {"kind": "everything", "given": True},
        {"kind": ["data"], "given": True},
        {"kind": "data"},
    ):
        with pytest.raises(protocol.ProtocolError):
            protocol.parse(json.dumps({"type": "consent", **bad}), "visitor")
    with pytest.raises(protocol.ProtocolError):
        protocol.parse(json.dumps({"type": "end"}), "visitor")


# -- Service -----------------------------------------------------------------


def test_an_answer_keeps_the_chatflow_and_the_agent_at_close(setup):
    agent, inbox, chatflow, visitor = setup
    conversation = conversation_of(visitor, chatflow, assignee=agent, status="closed")
    data = service.answer_survey(visitor, conversation.pk, 4, "Fine")
    answer = SurveyAnswer.objects.get()
    assert (answer.conversation, answer.chatflow, answer.agent) == (conversation, chatflow, agent)
    assert (answer.rating, answer.comment) == (4, "Fine")
    assert data["rating"] == 4 and data["scale"] == 5 and data["agent"]["name"] == "Alex Agent"


def test_only_the_conversations_visitor_answers_once_after_it_ended(setup):
    agent, inbox, chatflow, visitor = setup
    stranger = Visitor.objects.create()
    conversation = conversation_of(visitor, chatflow, status="open")
    with pytest.raises(service.ServiceError) as error:
        service.answer_survey(visitor, conversation.pk, 5, "")
    assert error.value.code == "not_closed"
    Conversation.objects.filter(pk=conversation.pk).update(status="closed")
    with pytest.raises(service.NotFound):
        service.answer_survey(stranger, conversation.pk, 1, "Spite")
    service.answer_survey(visitor, conversation.pk, 5, "First")
    with pytest.raises(service.ServiceError) as error:
        service.answer_survey(visitor, conversation.pk, 1, "Second")
    assert error.value.code == "answered"
    assert list(SurveyAnswer.objects.values_list("rating", "comment")) == [(5, "First")]


def test_a_chatflow_without_the_survey_takes_no_answer(setup):
    agent, inbox, chatflow, visitor = setup
    quiet = make_chatflow(inbox, name="Quiet")
    conversation = conversation_of(visitor, quiet, status="closed")
    with pytest.raises(service.ServiceError) as error:
        service.answer_survey(visitor, conversation.pk, 5, "")
    assert error.value.code == "forbidden"
    assert not SurveyAnswer.objects.exists()


def test_the_database_refuses_a_rating_out_of_range(setup):
    from django.db import IntegrityError, transaction

    agent, inbox, chatflow, visitor = setup
    conversation = conversation_of(visitor, chatflow, status="closed")
    with pytest.raises(IntegrityError), transaction.atomic():
        SurveyAnswer.objects.create(conversation=conversation, rating=9)


# -- Over the sockets ----------------------------------------------------------


async def test_agent_closes_visitor_answers_the_inbox_sees_it_live(setup):
    agent, inbox, chatflow, visitor = setup
    ws, _ = await visitor_socket(visitor, chatflow)
    await ws.send_json_to({"type": "message", "id": "client-0001", "body": "Hi"})
    ack, _ = await receive_until(ws, "ack")
    pk = ack["message"]["conversation"]
    agent_ws, _ = await agent_socket(agent)
    await agent_ws.send_json_to({"type": "open", "conversation": pk})
    history, _ = await receive_until(agent_ws, "history")
    assert history["survey"] is None
    await agent_ws.send_json_to(
        {"type": "message", "conversation": pk, "id": "agent-0001", "body": "Hello"}
    )
    await receive_until(agent_ws, "ack")
    await agent_ws.send_json_to({"type": "close", "conversation": pk})

    closed, _ = await receive_until(ws, "closed")
    assert closed["conversation"] == pk
    await ws.send_json_to(
        {"type": "survey", "conversation": pk, "rating": 5, "comment": "<b>Great</b>"}
    )
    saved, _ = await receive_until(ws, "survey_saved")
    assert saved["conversation"] == pk

    shown, _ = await receive_until(agent_ws, "survey")
    assert shown["conversation"] == pk
    assert shown["survey"]["rating"] == 5 and shown["survey"]["comment"] == "<b>Great</b>"
    assert shown["survey"]["agent"] == {"id": agent.pk, "name": "Alex Agent"}

    # Twice: refused, the first answer stays.
    await ws.send_json_to({"type": "survey", "conversation": pk, "rating": 1})
    error, _ = await receive_until(ws, "error")
    assert error["code"] == "answered"
    assert await db(lambda: list(SurveyAnswer.objects.values_list("rating", flat=True))) == [5]

    # On a fresh open, the history carries it.
    await agent_ws.send_json_to({"type": "open", "conversation": pk})
    history, _ = await receive_until(agent_ws, "history")
    assert history["survey"]["rating"] == 5
    await ws.disconnect()
    await agent_ws.disconnect()


async def test_the_visitor_ends_the_chat_and_a_reload_still_offers_the_survey(setup):
    agent, inbox, chatflow, visitor = setup
    ws, _ = await visitor_socket(visitor, chatflow)
    await ws.send_json_to({"type": "message", "id": "client-0001", "body": "Hi"})
    ack, _ = await receive_until(ws, "ack")
    pk = ack["message"]["conversation"]
    agent_ws, _ = await agent_socket(agent)

    await ws.send_json_to({"type": "end", "conversation": pk})
    closed, _ = await receive_until(ws, "closed")
    assert closed["conversation"] == pk
    summary, _ = await receive_until(agent_ws, "conversation")
    assert summary["conversation"]["status"] == "closed"
    assert await db(lambda: Conversation.objects.get().status) == "closed"
    # Ending it again answers at once.
    await ws.send_json_to({"type": "end", "conversation": pk})
    again, _ = await receive_until(ws, "closed")
    assert again["conversation"] == pk
    await ws.disconnect()

    ws, welcome = await visitor_socket(visitor, chatflow)
    assert welcome["survey"] is True and welcome["conversation"]["status"] == "closed"
    await ws.send_json_to({"type": "survey", "conversation": pk, "rating": 3})
    await receive_until(ws, "survey_saved")
    await ws.disconnect()
    ws, welcome = await visitor_socket(visitor, chatflow)
    assert welcome["survey"] is False
    await ws.disconnect()
    await agent_ws.disconnect()


async def test_a_visitor_cannot_end_or_answer_anothers_conversation(setup):
    agent, inbox, chatflow, visitor = setup
    other = await db(Visitor.objects.create)
    conversation = await db(conversation_of, other, chatflow, status="closed")
    ws, _ = await visitor_socket(visitor, chatflow)
    await ws.send_json_to({"type": "survey", "conversation": conversation.pk, "rating": 1})
    error, _ = await receive_until(ws, "error")
    assert error["code"] == "not_found"
    await ws.send_json_to({"type": "end", "conversation": conversation.pk})
    error, _ = await receive_until(ws, "error")
    assert error["code"] == "not_found"
    await ws.send_json_to({"type": "survey", "conversation": conversation.pk, "rating": 7})
    error, _ = await receive_until(ws, "error")
    assert error["code"] == "bad_frame"
    assert not await db(SurveyAnswer.objects.exists)
    await ws.disconnect()

    anonymous, _ = await visitor_socket(None, chatflow)
    await anonymous.send_json_to({"type": "survey", "conversation": conversation.pk, "rating": 1})
    error, _ = await receive_until(anonymous, "error")
    assert error["code"] == "not_found"
    await anonymous.disconnect()


# -- The inbox page --------------------------------------------------------------


@pytest.mark.django_db
def test_the_thread_shows_the_answer_on_reload_as_text(client, setup):
    agent, inbox, chatflow, visitor = setup
    conversation = conversation_of(visitor, chatflow, assignee=agent, status="closed")
    url = reverse("wagtail_livechat_inbox:conversation", args=[conversation.pk])
    client.force_login(agent)
    page = client.get(url).content.decode()
    assert 'data-livechat-conversation-target="survey" hidden' in page
    service.answer_survey(visitor, conversation.pk, 2, "<script>alert(1)</script>")
    page = client.get(url).content.decode()
    assert 'data-livechat-conversation-target="survey" hidden' not in page
    assert '<span data-slot="rating">2</span>' in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert(1)" not in page


# -- The report --------------------------------------------------------------


@pytest.fixture
def answers(setup):
    agent, inbox, chatflow, visitor = setup
    other_agent = make_agent("blake", first_name="Blake")
    inbox.users.add(other_agent)
    inbox.save()
    other_flow = make_chatflow(inbox, name="Support", feedback_survey=True)
    rows = [
        (chatflow, agent, 5, '=HYPERLINK("http://evil")'),
        (chatflow, agent, 4, ""),
        (chatflow, other_agent, 2, "Slow"),
        (other_flow, other_agent, 1, "<b>bad</b>"),
    ]
    for flow, who, rating, comment in rows:
        conversation = conversation_of(
            Visitor.objects.create(), flow, assignee=who, status="closed"
        )
        service.answer_survey(conversation.visitor, conversation.pk, rating, comment)
    return agent, other_agent, chatflow, other_flow


REPORT = "wagtail_livechat_survey_report"


@pytest.mark.django_db
def test_report_lists_answers_with_totals_and_filters(admin_client, answers):
    agent, other_agent, chatflow, other_flow = answers
    page = admin_client.get(reverse(REPORT)).content.decode()
    assert "Feedback survey" in page
    assert "4 answers: average rating 3.0 out of 5, 50% satisfied" in page
    assert "&lt;b&gt;bad&lt;/b&gt;" in page and "<b>bad</b>" not in page

    page = admin_client.get(reverse(REPORT), {"chatflow": chatflow.pk}).content.decode()
    assert "3 answers: average rating 3.67 out of 5, 67% satisfied" in page
    page = admin_client.get(reverse(REPORT), {"agent": other_agent.pk}).content.decode()
    assert "2 answers: average rating 1.5 out of 5, 0% satisfied" in page
    page = admin_client.get(reverse(REPORT), {"group": "chatflow"}).content.decode()
    assert "Per chatflow" in page and "3.67" in page and re.search(r">\s*67\s*<", page)


def read_csv(response):
    text = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(text)))


@pytest.mark.django_db
def test_report_exports_answers_and_results_per_chatflow_agent_and_time(admin_client, answers):
    agent, other_agent, chatflow, other_flow = answers
    response = admin_client.get(reverse(REPORT), {"export": "csv"})
    assert response["Content-Disposition"] == 'attachment; filename="feedback-survey.csv"'
    rows = read_csv(response)
    assert rows[0] == ["Answered", "Rating (1-5)", "Comment", "Chatflow", "Agent", "Conversation"]
    assert sorted(r[1] for r in rows[1:]) == ["1", "2", "4", "5"]
    # A formula is text in a spreadsheet program.
    assert '\'=HYPERLINK("http://evil")' in [r[2] for r in rows]

    # An answer whose chatflow was deleted since: a blank cell.
    Chatflow.objects.filter(name="Support").delete()
    assert read_csv(admin_client.get(reverse(REPORT), {"export": "csv"}))[1][2:4] == [
        "<b>bad</b>",
        "",
    ]
    rows = read_csv(admin_client.get(reverse(REPORT), {"export": "csv", "group": "chatflow"}))
    assert rows == [
        ["Group", "Answers", "Average rating", "Satisfied (4 or 5), %"],
        ["Chat", "3", "3.67", "67"],
        ["—", "1", "1.0", "0"],
    ]
    rows = read_csv(admin_client.get(reverse(REPORT), {"export": "csv", "group": "agent"}))
    assert rows[1:] == [["alex", "2", "4.5", "100"], ["blake", "2", "1.5", "0"]]
    rows = read_csv(admin_client.get(reverse(REPORT), {"export": "csv", "group": "month"}))
    assert len(rows) == 2 and rows[1][1:] == ["4", "3.0", "50"]

    response = admin_client.get(reverse(REPORT), {"export": "xlsx", "group": "day"})
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    values = list(sheet.values)
    assert values[0] == ("Group", "Answers", "Average rating", "Satisfied (4 or 5), %")
    assert values[1][1:] == (4, 3.0, 50)


@pytest.mark.django_db
def test_report_needs_its_permission_and_is_in_the_reports_menu(admin_client, answers):
    from django.test import Client

    agent = answers[0]
    client = Client()
    client.force_login(agent)
    response = client.get(reverse(REPORT))
    assert response.status_code in (302, 403)
    group = Group.objects.create(name="Chat leads")
    group.permissions.add(Permission.objects.get(codename="view_surveyanswer"))
    agent.groups.add(group)
    assert client.get(reverse(REPORT)).status_code == 200
    assert reverse(REPORT) in client.get(reverse("wagtailadmin_home")).content.decode()
    # The permission can be given in the groups' editor.
    page = admin_client.get(reverse("wagtailusers_groups:edit", args=[group.pk])).content.decode()
    permission = Permission.objects.get(codename="view_surveyanswer")
    assert f'value="{permission.pk}"' in page
