"""Contact owners: set in the admin (members only), shown in the widget's
heading for a proven contact, and given the contact's new conversations when
the chatflow routes to the owner (away: emailed, and the conversation left
unassigned or assigned as usual)."""

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from tests.livechat_factories import make_agent, make_chatflow, make_inbox
from tests.sockets import agent_socket, db, visitor_socket
from wagtail_livechat import service, tasks
from wagtail_livechat.models import AgentStatus, Contact, Conversation, Visitor

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture
def team(db):
    owner = make_agent("olivia", first_name="Olivia", last_name="Owner")
    other = make_agent("alex", first_name="Alex")
    inbox = make_inbox(members=[owner, other])
    contact = Contact.objects.create(email="ann@example.com", name="Ann", owner=owner)
    visitor = Visitor.objects.create(contact=contact, contact_confirmed_at=timezone.now())
    return owner, other, inbox, contact, visitor


def start(visitor, chatflow, body="Hello"):
    message, _ = service.post_visitor_message(
        visitor,
        client_id=f"c-{visitor.pk}-{body}"[:64].ljust(8, "x"),
        body=body,
        chatflow_id=chatflow.pk,
    )
    return Conversation.objects.get(pk=message.conversation_id)


# -- Heading -----------------------------------------------------------------


async def test_the_heading_shows_the_owner_of_a_proven_contact(team):
    owner, other, inbox, contact, visitor = team
    chatflow = await db(make_chatflow, inbox, heading_mode="owner")
    ws, welcome = await visitor_socket(visitor, chatflow)
    assert welcome["owner"] == {"name": "Olivia", "avatar": None}
    await ws.disconnect()

    # An address only typed (not confirmed) is nobody's business.
    await db(Visitor.objects.filter(pk=visitor.pk).update, contact_confirmed_at=None)
    ws, welcome = await visitor_socket(visitor, chatflow)
    assert welcome["owner"] is None
    await ws.disconnect()


async def test_other_heading_modes_and_contacts_without_owner_get_no_owner(team):
    owner, other, inbox, contact, visitor = team
    branding = await db(make_chatflow, inbox, heading_mode="branding")
    ws, welcome = await visitor_socket(visitor, branding)
    assert welcome["owner"] is None
    await ws.disconnect()
    owned = await db(make_chatflow, inbox, name="Owned", heading_mode="owner")
    await db(Contact.objects.filter(pk=contact.pk).update, owner=None)
    ws, welcome = await visitor_socket(visitor, owned)
    assert welcome["owner"] is None
    await ws.disconnect()
    anonymous, welcome = await visitor_socket(None, owned)
    assert welcome["owner"] is None
    await anonymous.disconnect()


# -- Routing -------------------------------------------------------------------


async def test_an_available_owner_gets_the_new_conversation(team):
    owner, other, inbox, contact, visitor = team
    chatflow = await db(make_chatflow, inbox, owner_routing="owner", auto_assign=True)
    owner_ws, _ = await agent_socket(owner)  # connected and available
    conversation = await db(start, visitor, chatflow)
    assert await db(lambda: conversation.assignee) == owner and not conversation.auto_assigned
    await db(tasks.drain)
    assert mail.outbox == []
    await owner_ws.disconnect()


async def test_an_away_owner_is_emailed_and_the_conversation_waits_unassigned(team):
    owner, other, inbox, contact, visitor = team
    await db(AgentStatus.objects.create, user=owner, available=False)
    chatflow = await db(make_chatflow, inbox, owner_routing="owner", auto_assign=True)
    sockets = [(await agent_socket(user))[0] for user in (owner, other)]
    conversation = await db(start, visitor, chatflow)
    assert conversation.assignee_id is None
    await db(tasks.drain)
    owner_mails = [m for m in mail.outbox if m.to == [owner.email]]
    assert len(owner_mails) == 1
    assert "Ann" in owner_mails[0].subject
    link = reverse("wagtail_livechat_inbox:conversation", args=[conversation.pk])
    assert link in owner_mails[0].body
    for ws in sockets:
        await ws.disconnect()


async def test_an_owner_who_is_not_connected_is_away(team):
    owner, other, inbox, contact, visitor = team
    chatflow = await db(make_chatflow, inbox, owner_routing="owner", auto_assign=True)
    other_ws, _ = await agent_socket(other)  # the inbox is online, the owner is not here
    conversation = await db(start, visitor, chatflow)
    assert conversation.assignee_id is None
    await db(tasks.drain)
    assert [m.to for m in mail.outbox if "while you were away" in m.subject] == [[owner.email]]
    await other_ws.disconnect()


async def test_an_away_owner_is_emailed_and_routing_goes_on_as_usual_when_configured(team):
    owner, other, inbox, contact, visitor = team
    await db(AgentStatus.objects.create, user=owner, available=False)
    chatflow = await db(make_chatflow, inbox, owner_routing="owner_or_routing", auto_assign=True)
    other_ws, _ = await agent_socket(other)
    conversation = await db(start, visitor, chatflow)
    assert conversation.assignee_id == other.pk and conversation.auto_assigned
    await db(tasks.drain)
    assert [m.to for m in mail.outbox if "while you were away" in m.subject] == [[owner.email]]
    await other_ws.disconnect()


def test_routing_ignores_owners_who_are_not_members_or_unproven_contacts(team):
    owner, other, inbox, contact, visitor = team
    stranger = make_agent("sam", first_name="Sam")
    chatflow = make_chatflow(inbox, owner_routing="owner", auto_assign=True)
    Contact.objects.filter(pk=contact.pk).update(owner=stranger)
    assert start(visitor, chatflow).assignee in (owner, other)  # round robin, not Sam
    Conversation.objects.all().delete()
    Contact.objects.filter(pk=contact.pk).update(owner=owner)
    Visitor.objects.filter(pk=visitor.pk).update(contact_confirmed_at=None)
    visitor.refresh_from_db()
    conversation = start(visitor, chatflow, body="Again")
    assert conversation.auto_assigned  # the usual routing: the address was never proven
    tasks.drain()
    assert not [m for m in mail.outbox if "while you were away" in m.subject]


def test_off_routes_as_usual(team):
    owner, other, inbox, contact, visitor = team
    chatflow = make_chatflow(inbox, auto_assign=False)
    assert start(visitor, chatflow).assignee is None


# -- Admin ---------------------------------------------------------------------


@pytest.mark.django_db
def test_an_editor_sets_the_owner_among_inbox_members_only(admin_client, team):
    owner, other, inbox, contact, visitor = team
    stranger = make_agent("sam", first_name="Sam")
    url = reverse("wagtail_livechat_contacts:edit", args=[contact.pk])
    page = admin_client.get(url).content.decode()
    assert f'<option value="{other.pk}"' in page
    assert f'<option value="{stranger.pk}"' not in page
    response = admin_client.post(url, {"email": contact.email, "name": "Ann", "owner": other.pk})
    assert response.status_code == 302
    contact.refresh_from_db()
    assert contact.owner == other
    response = admin_client.post(url, {"email": contact.email, "name": "Ann", "owner": stranger.pk})
    assert response.status_code == 200  # the form again, with the error
    contact.refresh_from_db()
    assert contact.owner == other
    listing = admin_client.get(reverse("wagtail_livechat_contacts:list")).content.decode()
    assert "ann@example.com" in listing
