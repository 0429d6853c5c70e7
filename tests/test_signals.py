"""The chat's signals: each is sent once, after commit, with its data; never
for what rolls back; and the message path builds nothing and reads nothing
more when nobody listens, or when someone does."""

import logging
from contextlib import contextmanager, nullcontext

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from tests.livechat_factories import make_agent, make_chatflow, make_inbox
from wagtail_livechat import events, service, signals, webhooks
from wagtail_livechat.models import Contact, Conversation, Message, SurveyAnswer, Visitor, Webhook

pytestmark = [pytest.mark.django_db]


@contextmanager
def caught(*names):
    """What the named events' signals send, as ``(event, data)``."""
    seen = []

    def record(sender, event, data, **kwargs):
        seen.append((event, data))

    for name in names:
        signals.EVENTS[name].connect(record, dispatch_uid=f"test-{name}")
    try:
        yield seen
    finally:
        for name in names:
            signals.EVENTS[name].disconnect(dispatch_uid=f"test-{name}")


@pytest.fixture
def room(db):
    agent = make_agent("alex", first_name="Alex")
    inbox = make_inbox(members=[agent])
    chatflow = make_chatflow(inbox, feedback_survey=True)
    return agent, inbox, chatflow, Visitor.objects.create()


def first_message(visitor, chatflow, body="hello", client_id="c-0001"):
    message, _ = service.post_visitor_message(
        visitor, client_id=client_id, body=body, chatflow_id=chatflow.pk
    )
    return message


def test_every_event_has_its_signal():
    assert set(signals.EVENTS) == {
        "conversation.created",
        "conversation.assigned",
        "conversation.closed",
        "conversation.reopened",
        "message.created",
        "contact.created",
        "contact.updated",
        "survey.answered",
    }
    assert len(set(signals.EVENTS.values())) == len(signals.EVENTS)


def test_a_first_message_creates_a_conversation_and_a_message_after_commit(
    room, django_capture_on_commit_callbacks
):
    _agent, inbox, chatflow, visitor = room
    with caught("conversation.created", "message.created") as seen:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            message = first_message(visitor, chatflow)
        assert seen == []  # nothing before commit
        for callback in callbacks:
            callback()
    conversation = Conversation.objects.get()
    (created, created_data), (posted, posted_data) = seen
    assert created == "conversation.created"
    assert created_data == {
        "id": conversation.pk,
        "inbox": inbox.pk,
        "chatflow": chatflow.pk,
        "visitor": visitor.pk,
        "assignee": None,
        "status": "open",
        "created": conversation.created_at.isoformat(),
        "closed": None,
    }
    assert posted == "message.created"
    assert posted_data == {
        "id": message.pk,
        "seq": 1,
        "conversation": conversation.pk,
        "inbox": inbox.pk,
        "visitor": visitor.pk,
        "author": "visitor",
        "user": None,
        "name": "Visitor",
        "body": "hello",
        "note": False,
        "created": message.created_at.isoformat(),
    }


def test_nothing_is_sent_for_what_rolls_back(room, django_capture_on_commit_callbacks):
    _agent, _inbox, chatflow, visitor = room
    with caught(*signals.EVENTS) as seen, django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(RuntimeError), transaction.atomic():
            first_message(visitor, chatflow)
            raise RuntimeError
    assert seen == []


def test_assign_take_by_answering_close_and_reopen(room, django_capture_on_commit_callbacks):
    agent, _inbox, chatflow, visitor = room
    other = make_agent("bo")
    chatflow.inbox.users.add(other)
    chatflow.inbox.save()
    with django_capture_on_commit_callbacks(execute=True):
        pk = first_message(visitor, chatflow).conversation_id
    names = ("conversation.assigned", "conversation.closed", "conversation.reopened")
    with caught(*names) as seen, django_capture_on_commit_callbacks(execute=True):
        # An agent who answers an unassigned conversation takes it ...
        service.post_agent_message(agent, pk, client_id="a-1", body="hi")
        # ... once: answering again assigns nothing.
        service.post_agent_message(agent, pk, client_id="a-2", body="more")
        service.post_agent_message(agent, pk, client_id="a-3", body="note", note=True)
        service.assign(agent, pk, other.pk)
        service.set_status(agent, pk, "closed")
        service.set_status(agent, pk, "closed")  # no change, no event
        service.set_status(agent, pk, "open")
    assert [(event, data["assignee"], data["status"], data["by"]) for event, data in seen] == [
        ("conversation.assigned", agent.pk, "open", agent.pk),
        ("conversation.assigned", other.pk, "open", agent.pk),
        ("conversation.closed", other.pk, "closed", agent.pk),
        ("conversation.reopened", other.pk, "open", agent.pk),
    ]
    conversation = Conversation.objects.get(pk=pk)
    assert conversation.assigned_at is not None and conversation.reopened_at is not None


def test_a_visitor_writing_to_a_closed_conversation_reopens_it(
    room, django_capture_on_commit_callbacks
):
    agent, _inbox, chatflow, visitor = room
    with django_capture_on_commit_callbacks(execute=True):
        pk = first_message(visitor, chatflow).conversation_id
    with caught("conversation.reopened", "conversation.closed") as seen:
        with django_capture_on_commit_callbacks(execute=True):
            service.post_visitor_message(
                visitor, client_id="c-2", body="still open", conversation_id=pk
            )
            assert service.end_by_visitor(visitor, pk)
            service.post_visitor_message(visitor, client_id="c-3", body="back", conversation_id=pk)
            service.post_visitor_message(visitor, client_id="c-4", body="again", conversation_id=pk)
    assert [(event, data["status"], data["by"]) for event, data in seen] == [
        ("conversation.closed", "closed", None),
        ("conversation.reopened", "open", None),
    ]
    assert seen[1][1]["id"] == pk and seen[1][1]["visitor"] == visitor.pk
    assert Conversation.objects.get(pk=pk).status == "open"


def test_contacts_created_and_updated_wherever_they_are_saved(
    room, django_capture_on_commit_callbacks
):
    _agent, _inbox, chatflow, visitor = room
    with caught("contact.created", "contact.updated") as seen:
        with django_capture_on_commit_callbacks(execute=True):
            service.capture_email(visitor, email="Ann@Example.com", subscribe=False, consent=False)
        with django_capture_on_commit_callbacks(execute=True):
            service.confirm_email(visitor.pk, Contact.objects.get().pk)
        with django_capture_on_commit_callbacks(execute=True):
            service.confirm_email(visitor.pk, Contact.objects.get().pk)  # nothing new
        with django_capture_on_commit_callbacks(execute=True):
            contact = Contact.objects.get()
            contact.name = "Ann"
            contact.save()  # as the admin does
    assert [event for event, _data in seen] == [
        "contact.created",
        "contact.updated",
        "contact.updated",
    ]
    assert seen[0][1]["email"] == "ann@example.com" and seen[0][1]["email_confirmed"] is None
    assert seen[1][1]["email_confirmed"] is not None
    assert seen[2][1]["name"] == "Ann" and seen[2][1]["id"] == contact.pk


def test_a_survey_answer(room, django_capture_on_commit_callbacks):
    agent, _inbox, chatflow, visitor = room
    conversation = Conversation.objects.create(
        inbox=chatflow.inbox, chatflow=chatflow, visitor=visitor, assignee=agent, status="closed"
    )
    with caught("survey.answered") as seen, django_capture_on_commit_callbacks(execute=True):
        service.answer_survey(visitor, conversation.pk, 4, "good")
    answer = SurveyAnswer.objects.get()
    assert seen == [
        (
            "survey.answered",
            {
                "id": answer.pk,
                "conversation": conversation.pk,
                "chatflow": chatflow.pk,
                "agent": agent.pk,
                "rating": 4,
                "scale": 5,
                "comment": "good",
                "created": answer.created_at.isoformat(),
            },
        )
    ]


def test_nobody_listening_builds_nothing(db, django_capture_on_commit_callbacks):
    def build():
        raise AssertionError("built a payload nobody wants")

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        events.emit("message.created", Message, build)
    assert callbacks == []
    with caught("message.created") as seen, django_capture_on_commit_callbacks(execute=True):
        events.emit("message.created", Message, lambda: {"built": True})
    assert seen == [("message.created", {"built": True})]


def test_a_failing_receiver_is_logged_and_the_others_still_hear(
    db, caplog, django_capture_on_commit_callbacks
):
    def broken(sender, **kwargs):
        raise ValueError("boom")

    signals.message_created.connect(broken, dispatch_uid="test-broken")
    try:
        with caught("message.created") as seen, caplog.at_level(logging.ERROR, "wagtail_livechat"):
            with django_capture_on_commit_callbacks(execute=True):
                events.emit("message.created", Message, {"x": 1})
    finally:
        signals.message_created.disconnect(dispatch_uid="test-broken")
    assert seen == [("message.created", {"x": 1})]
    (record,) = [r for r in caplog.records if r.name == "wagtail_livechat"]
    assert record.name == "wagtail_livechat" and record.event == "message.created"
    assert "boom" in caplog.text


def _statements(captured):
    return [
        q["sql"].split()[0].upper()
        for q in captured
        if not q["sql"].upper().startswith(("SAVEPOINT", "RELEASE", "BEGIN", "COMMIT"))
    ]


@pytest.mark.parametrize("listening", ["nobody", "receiver", "webhook"])
def test_the_message_path_reads_nothing_more_whoever_listens(
    room, listening, django_capture_on_commit_callbacks
):
    agent, _inbox, chatflow, visitor = room
    if listening == "webhook":
        Webhook.objects.create(name="w", url="http://127.0.0.1:9/", events=["message.created"])
        webhooks.forget()
    with django_capture_on_commit_callbacks(execute=False):
        pk = first_message(visitor, chatflow).conversation_id
        service.post_agent_message(agent, pk, client_id="a-0", body="warm")
    assert webhooks.subscribed("message.created") is (listening == "webhook")
    seat = service.agent_for(agent)  # what a socket holds: authorising costs no query
    listener = caught("message.created") if listening == "receiver" else nullcontext()
    with listener:
        with CaptureQueriesContext(connection) as captured:
            with django_capture_on_commit_callbacks(execute=False) as callbacks:
                service.post_visitor_message(
                    visitor, client_id="c-9", body="again", conversation_id=pk
                )
                service.post_agent_message(seat, pk, client_id="a-9", body="answer")
    # Each message: UPDATE and INSERT, on PostgreSQL one statement (a CTE).
    each = ["WITH"] if connection.vendor == "postgresql" else ["UPDATE", "INSERT"]
    assert _statements(captured) == each * 2, captured
    # Fan-out for each message, and the events only when someone listens.
    assert len(callbacks) == (2 if listening == "nobody" else 4)


def test_a_chatflow_that_assigns_says_so_with_the_new_conversation(
    db, django_capture_on_commit_callbacks
):
    agent = make_agent("alex")
    chatflow = make_chatflow(make_inbox(members=[agent]), auto_assign=True)
    visitor = Visitor.objects.create()
    names = ("conversation.created", "conversation.assigned")
    with caught(*names) as seen, django_capture_on_commit_callbacks(execute=True):
        first_message(visitor, chatflow)
    assert [(event, data["assignee"], data.get("by", "-")) for event, data in seen] == [
        ("conversation.created", agent.pk, "-"),
        ("conversation.assigned", agent.pk, None),
    ]


@pytest.mark.django_db(transaction=True)
async def test_a_message_sent_over_a_socket_reaches_a_receiver():
    from tests.sockets import db as in_thread
    from tests.sockets import receive_until, visitor_socket

    agent = await in_thread(make_agent, "alex")
    chatflow = await in_thread(make_chatflow, await in_thread(make_inbox, members=[agent]))
    visitor = await in_thread(Visitor.objects.create)
    ws, _ = await visitor_socket(visitor, chatflow)
    with caught("message.created", "conversation.created") as seen:
        await ws.send_json_to({"type": "message", "id": "client-0001", "body": "over the socket"})
        await receive_until(ws, "ack")
    await ws.disconnect()
    assert [event for event, _data in seen] == ["conversation.created", "message.created"]
    assert seen[1][1]["body"] == "over the socket" and seen[1][1]["visitor"] == visitor.pk
