"""The chat heading: a team alias only with the custom branding, agents under
their own names and avatars, and agents always seeing who answered."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from wagtail.users.models import UserProfile

from tests.livechat_factories import make_agent, make_chatflow, make_inbox
from tests.sockets import agent_socket, db, receive_until, visitor_socket
from wagtail_livechat import service
from wagtail_livechat.config import public_chatflow
from wagtail_livechat.models import Conversation, Visitor

pytestmark = [pytest.mark.django_db(transaction=True)]

# A 1x1 PNG.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


def chatflow_with(inbox, team_name, **fields):
    chatflow = make_chatflow(inbox, publish=False, **fields)
    chatflow.team_name = team_name
    chatflow.save()
    chatflow.save_revision().publish()
    chatflow.refresh_from_db()
    return chatflow


@pytest.fixture
def agents(db):
    alex = make_agent("alex", first_name="Alex")
    bo = make_agent("bo", first_name="Bo")
    inbox = make_inbox(members=[alex, bo])
    return alex, bo, inbox


def test_agents_heading_shows_agents_not_a_leftover_team_name(agents):
    alex, bo, inbox = agents
    profile = UserProfile.get_for_user(alex)
    profile.avatar = SimpleUploadedFile("alex.png", PNG, content_type="image/png")
    profile.save()
    chatflow = chatflow_with(inbox, "Old team", heading_mode="agents", use_team_alias=True)
    chatflow.heading_users.add(alex, bo)
    heading = public_chatflow(chatflow)["heading"]
    assert heading["name"] == "" and heading["avatar"] is None and heading["alias"] is False
    people = {p["name"]: p["avatar"] for p in heading["agents"]}
    assert set(people) == {"Alex", "Bo"}
    assert people["Alex"] and people["Alex"].endswith(".png") and people["Bo"] is None

    branding = chatflow_with(inbox, "Team", heading_mode="branding", use_team_alias=True)
    heading = public_chatflow(branding)["heading"]
    assert (heading["name"], heading["alias"]) == ("Team", True)


async def conversation_with(visitor, chatflow):
    ws, _ = await visitor_socket(visitor, chatflow)
    await ws.send_json_to({"type": "message", "id": "client-0001", "body": "Hello"})
    ack, _ = await receive_until(ws, "ack")
    return ws, ack["message"]["conversation"]


async def test_agents_mode_ignores_a_leftover_alias(agents):
    alex, _bo, inbox = agents
    chatflow = await db(
        chatflow_with, inbox, "Old team", heading_mode="agents", use_team_alias=True
    )
    visitor = await db(Visitor.objects.create)
    ws, pk = await conversation_with(visitor, chatflow)
    await db(service.post_agent_message, alex, pk, client_id="agent-0001", body="Hi")
    frame, _ = await receive_until(ws, "message")
    assert frame["message"]["name"] == "Alex"
    await ws.disconnect()


async def test_alias_hides_the_agent_from_the_visitor_only(agents):
    alex, bo, inbox = agents
    chatflow = await db(
        chatflow_with, inbox, "Help team", heading_mode="branding", use_team_alias=True
    )
    visitor = await db(Visitor.objects.create)
    ws, pk = await conversation_with(visitor, chatflow)
    a, _ = await agent_socket(alex)
    b, _ = await agent_socket(bo)
    for sock in (a, b):
        await sock.send_json_to({"type": "open", "conversation": pk})
        await receive_until(sock, "history")
    await a.send_json_to({"type": "message", "conversation": pk, "id": "agent-0001", "body": "Hi"})
    ack, _ = await receive_until(a, "ack")
    assert ack["message"]["name"] == "Alex"  # the sender sees themselves
    seen_by_bo, _ = await receive_until(b, "message")
    assert seen_by_bo["message"]["name"] == "Alex"  # a colleague sees who answered
    seen_by_visitor, _ = await receive_until(ws, "message")
    assert seen_by_visitor["message"]["name"] == "Help team"  # the visitor, the team

    # Read back from the record: the same on each side.
    await b.send_json_to({"type": "open", "conversation": pk, "after": 0})
    history, _ = await receive_until(b, "history")
    assert [m["name"] for m in history["messages"]] == ["Visitor", "Alex"]
    conversation = await db(Conversation.objects.get, pk=pk)
    assert [m["name"] for m in await db(service.recent_messages, conversation)] == [
        "Visitor",
        "Alex",
    ]
    await ws.disconnect()
    ws, welcome = await visitor_socket(visitor, chatflow)
    assert [m["name"] for m in welcome["messages"]] == ["Visitor", "Help team"]
    for sock in (ws, a, b):
        await sock.disconnect()
