"""Wagtail's audit log records who assigned, closed and reopened a
conversation (in the service's transaction, from a socket too), and who
exported or erased a contact; a refused change records nothing."""

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.urls import reverse
from wagtail.log_actions import registry
from wagtail.models import ModelLogEntry

from tests.livechat_factories import make_agent, make_chatflow, make_inbox
from tests.sockets import agent_socket, db, receive_until
from wagtail_livechat import audit, personal_data, service
from wagtail_livechat.models import Contact, Conversation, Visitor


@pytest.fixture
def room(db):
    olivia = make_agent("olivia", first_name="Olivia", last_name="Owner")
    sam = make_agent("sam", first_name="Sam")
    inbox = make_inbox(members=[olivia, sam])
    chatflow = make_chatflow(inbox)
    visitor = Visitor.objects.create()
    conversation = Conversation.objects.create(inbox=inbox, chatflow=chatflow, visitor=visitor)
    return olivia, sam, conversation


def entries(conversation):
    return list(
        ModelLogEntry.objects.filter(
            content_type=ContentType.objects.get_for_model(Conversation),
            object_id=str(conversation.pk),
        ).order_by("pk")
    )


@pytest.mark.django_db
def test_assign_close_and_reopen_are_logged_with_who_did_it(room):
    olivia, sam, conversation = room
    service.assign(olivia, conversation.pk, sam.pk)
    agent = service.agent_for(sam)  # what a socket holds: an id, not a user
    service.set_status(agent, conversation.pk, "closed")
    service.set_status(agent, conversation.pk, "closed")  # no change: no entry
    service.set_status(olivia, conversation.pk, "open")
    service.assign(olivia, conversation.pk, None)

    logged = entries(conversation)
    assert [(e.action, e.user_id) for e in logged] == [
        (audit.ASSIGN, olivia.pk),
        (audit.CLOSE, sam.pk),
        (audit.REOPEN, olivia.pk),
        (audit.ASSIGN, olivia.pk),
    ]
    label = f"Conversation {conversation.pk}"
    assert [e.message for e in logged] == [
        f"{label}: assigned to Sam",
        f"{label}: closed",
        f"{label}: reopened",
        f"{label}: unassigned",
    ]
    assert logged[0].data["assignee"] == sam.pk
    assert logged[1].user_display_name == "Sam"


@pytest.mark.django_db
def test_the_visitor_closing_is_logged_without_a_user(room):
    _olivia, _sam, conversation = room
    assert service.end_by_visitor(conversation.visitor, conversation.pk)
    (entry,) = entries(conversation)
    assert entry.action == audit.CLOSE and entry.user_id is None
    assert entry.message.endswith("closed by the visitor")


@pytest.mark.django_db
def test_a_refused_change_or_a_rolled_back_one_logs_nothing(room):
    olivia, _sam, conversation = room
    outsider = make_agent("outsider")
    with pytest.raises(service.ServiceError):
        service.assign(olivia, conversation.pk, outsider.pk)  # not a member
    with pytest.raises(service.ServiceError):
        service.set_status(outsider, conversation.pk, "closed")
    with pytest.raises(RuntimeError), transaction.atomic():
        service.set_status(olivia, conversation.pk, "closed")
        raise RuntimeError  # the entry is in the same transaction
    assert entries(conversation) == []


@pytest.mark.django_db
def test_the_actions_are_registered_with_labels(room):
    actions = dict(registry.get_choices())
    for action in (audit.ASSIGN, audit.CLOSE, audit.REOPEN, audit.EXPORT, audit.ERASE):
        assert actions[action]


@pytest.mark.django_db
def test_site_history_lists_the_chats_entries(admin_client, room):
    olivia, sam, conversation = room
    service.set_status(olivia, conversation.pk, "closed")
    response = admin_client.get(reverse("wagtailadmin_reports:site_history"))
    assert f"Conversation {conversation.pk}: closed" in response.content.decode()


@pytest.mark.django_db
def test_exports_and_erasures_are_logged_and_erasure_scrubs_earlier_labels(room):
    olivia, _sam, _conversation = room
    contact = Contact.objects.create(email="ann@example.com", name="Ann")
    personal_data.record_export(contact, olivia)
    personal_data.erase(contact, user=olivia, keep_consents=False)
    logged = ModelLogEntry.objects.for_instance(contact).order_by("pk")
    assert [e.action for e in logged] == [audit.EXPORT, audit.ERASE]
    assert all(e.user_id == olivia.pk for e in logged)
    assert all("Ann" not in e.label for e in logged)
    assert logged[1].data == {"mode": "anonymise"}


@pytest.mark.django_db(transaction=True)
async def test_a_socket_closing_a_conversation_is_logged(room):
    olivia, sam, conversation = room
    ws, _ = await agent_socket(olivia)
    await ws.send_json_to({"type": "close", "conversation": conversation.pk})
    await ws.send_json_to({"type": "assign", "conversation": conversation.pk, "user": sam.pk})
    expected = [(audit.CLOSE, olivia.pk), (audit.ASSIGN, olivia.pk)]
    for _ in range(100):  # until both frames are handled (each answers twice)
        await receive_until(ws, "conversation")
        logged = [(e.action, e.user_id) for e in await db(entries, conversation)]
        if len(logged) == len(expected):
            break
    await ws.disconnect()
    assert logged == expected
