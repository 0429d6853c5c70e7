"""Visitor identification: the site vouches for a visitor with a signed,
expiring token (or, with WAGTAIL_LIVECHAT_IDENTIFY_USERS, its logged-in
user); anything forged or expired leaves the visitor anonymous."""

import time
from unittest import mock

import pytest
from django.core import signing
from django.template import Context, Template
from django.test import override_settings

import wagtail_livechat
from tests.livechat_factories import make_agent, make_chatflow, make_inbox
from tests.sockets import agent_socket, connect, db, receive_until, session_cookie
from wagtail_livechat import identity, service
from wagtail_livechat.models import Contact, Conversation, Visitor, VisitorFilter

# -- The token -------------------------------------------------------------


def test_a_good_token_gives_its_claims():
    token = wagtail_livechat.identify(email="ann@example.com", name="Ann Lee", external_id=42)
    assert identity.read_identity(token) == identity.Claims("ann@example.com", "Ann Lee", "42")


def test_a_forged_token_is_refused():
    token = wagtail_livechat.identify(email="ann@example.com", name="Ann")
    value, _stamp, _signature = token.rsplit(":", 2)
    forged = signing.TimestampSigner(salt=identity.IDENTIFY_SALT, key="not the site's key")
    assert identity.read_identity(forged.sign(value)) is None
    assert identity.read_identity(token[:-2] + ("AA" if token[-2:] != "AA" else "BB")) is None
    # Another claim under the same signature
    other = signing.TimestampSigner(salt=identity.IDENTIFY_SALT).sign_object(
        {"e": "eve@example.com", "n": "", "x": "", "a": 60}
    )
    assert identity.read_identity(other.rsplit(":", 1)[0] + ":" + token.rsplit(":", 1)[1]) is None
    assert identity.read_identity("") is None
    assert identity.read_identity("x" * 5000) is None
    assert identity.read_identity(None) is None


def test_a_token_signed_with_another_salt_is_refused():
    payload = {"e": "ann@example.com", "n": "Ann", "x": "", "a": 3600}
    other_salt = signing.TimestampSigner(salt="wagtail_livechat.visitor").sign_object(payload)
    assert identity.read_identity(other_salt) is None
    # and the cookie's signatures are no identification
    assert identity.read_identity(identity.sign("some-visitor-key")) is None


def test_an_expired_token_is_refused():
    token = wagtail_livechat.identify(email="ann@example.com", max_age=60)
    assert identity.read_identity(token) is not None
    with mock.patch("django.core.signing.time.time", return_value=time.time() + 61):
        assert identity.read_identity(token) is None
    with override_settings(WAGTAIL_LIVECHAT_IDENTIFY_MAX_AGE=10):
        short = wagtail_livechat.identify(email="ann@example.com")
    with mock.patch("django.core.signing.time.time", return_value=time.time() + 11):
        assert identity.read_identity(short) is None


def test_a_token_needs_an_address():
    with pytest.raises(ValueError):
        wagtail_livechat.identify(email="")


# -- The socket ------------------------------------------------------------

pytestmark_db = pytest.mark.django_db(transaction=True)


@pytest.fixture
def setup(db):
    agent = make_agent("alex", first_name="Alex")
    inbox = make_inbox(members=[agent])
    chatflow = make_chatflow(inbox)
    visitor = Visitor.objects.create()
    return agent, inbox, chatflow, visitor


async def hello(visitor, chatflow, token=None, cookie_extra=""):
    cookie = f"livechat_visitor={identity.sign(visitor.key)}{cookie_extra}"
    ws, connected, _ = await connect("/ws/livechat/visitor/", cookie)
    assert connected
    frame = {"type": "hello", "after": 0, "chatflow": chatflow.pk}
    if token is not None:
        frame["identity"] = token
    await ws.send_json_to(frame)
    welcome = await ws.receive_json_from()
    assert welcome["type"] == "welcome"
    return ws, welcome


@pytestmark_db
async def test_a_good_token_links_the_visitor_to_an_identified_contact(setup):
    agent, _inbox, chatflow, visitor = setup
    token = wagtail_livechat.identify(email="Ann@Example.com", name="Ann Lee", external_id="u-7")
    agent_ws, _ = await agent_socket(agent)
    ws, welcome = await hello(visitor, chatflow, token)
    assert welcome["identified"] is True and welcome["contact"] is True
    await ws.send_json_to({"type": "message", "id": "client-0001", "body": "Hi"})
    await receive_until(ws, "ack")
    frame, _ = await receive_until(agent_ws, "conversation")
    assert frame["conversation"]["visitor"] == "Ann Lee"
    contact = await db(Contact.objects.get)
    assert (contact.email, contact.name, contact.external_id) == (
        "ann@example.com",
        "Ann Lee",
        "u-7",
    )
    assert contact.identified_at is not None and contact.email_confirmed_at is not None
    conversation = await db(Conversation.objects.get)
    history = await db(service.conversation_context, conversation)
    assert history["contact"]["identified"] is True
    assert history["contact"]["external_id"] == "u-7"
    await ws.disconnect()
    # Again: nothing changes, one contact
    ws, welcome = await hello(visitor, chatflow, token)
    assert welcome["identified"] is True
    assert await db(Contact.objects.count) == 1
    await ws.disconnect()
    await agent_ws.disconnect()


@pytestmark_db
@pytest.mark.parametrize("kind", ["forged", "expired", "garbage"])
async def test_a_bad_token_leaves_the_visitor_anonymous(setup, kind):
    agent, _inbox, chatflow, visitor = setup
    token = wagtail_livechat.identify(email="ann@example.com", name="Ann Lee", max_age=60)
    if kind == "forged":
        token = signing.TimestampSigner(salt=identity.IDENTIFY_SALT, key="guess").sign_object(
            {"e": "ann@example.com", "n": "Ann Lee", "x": "", "a": 60}
        )
    elif kind == "garbage":
        token = "not-a-token"
    agent_ws, _ = await agent_socket(agent)
    later = time.time() + (61 if kind == "expired" else 0)
    with mock.patch("django.core.signing.time.time", return_value=later):
        ws, welcome = await hello(visitor, chatflow, token)
    assert welcome["identified"] is False and welcome["contact"] is False
    await ws.send_json_to({"type": "message", "id": "client-0001", "body": "Hi"})
    await receive_until(ws, "ack")
    frame, _ = await receive_until(agent_ws, "conversation")
    assert frame["conversation"]["visitor"] == f"Visitor {visitor.pk}"
    assert not await db(Contact.objects.exists)
    await ws.disconnect()
    await agent_ws.disconnect()


@pytestmark_db
async def test_identifying_mid_conversation_tells_the_inbox(setup):
    agent, _inbox, chatflow, visitor = setup
    ws, _ = await hello(visitor, chatflow)
    await ws.send_json_to({"type": "message", "id": "client-0001", "body": "Hi"})
    await receive_until(ws, "ack")
    await ws.disconnect()
    agent_ws, _ = await agent_socket(agent)
    ws, welcome = await hello(visitor, chatflow, wagtail_livechat.identify("bo@example.com", "Bo"))
    assert welcome["identified"] is True
    frame, _ = await receive_until(agent_ws, "conversation")
    assert frame["conversation"]["visitor"] == "Bo"
    await ws.disconnect()
    await agent_ws.disconnect()


@pytestmark_db
async def test_logged_in_users_are_identified_only_with_the_setting(setup):
    agent, _inbox, chatflow, visitor = setup
    user = await db(make_agent, "carol", first_name="Carol", last_name="King")
    session = await db(session_cookie, user)
    ws, welcome = await hello(visitor, chatflow, cookie_extra=f"; {session}")
    assert welcome["identified"] is False
    await ws.disconnect()
    with override_settings(WAGTAIL_LIVECHAT_IDENTIFY_USERS=True):
        ws, welcome = await hello(visitor, chatflow, cookie_extra=f"; {session}")
        assert welcome["identified"] is True
        await ws.disconnect()
    contact = await db(Contact.objects.get)
    assert (contact.email, contact.name, contact.external_id) == (
        user.email,
        "Carol King",
        str(user.pk),
    )


@pytest.mark.django_db
def test_external_id_keeps_one_contact_when_the_address_changes():
    visitor = Visitor.objects.create()
    service.identify_visitor(visitor, identity.Claims("old@example.com", "Dee", "9"))
    visitor = Visitor.objects.select_related("contact").get(pk=visitor.pk)
    service.identify_visitor(visitor, identity.Claims("new@example.com", "Dee", "9"))
    assert list(Contact.objects.values_list("email", "external_id")) == [("new@example.com", "9")]


# -- The config endpoint's filters -----------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("attribute, value", [("contact", "known"), ("logged_in", "yes")])
def test_known_contact_and_logged_in_filters_use_the_token(client, attribute, value):
    chatflow = make_chatflow(make_inbox())
    VisitorFilter.objects.create(chatflow=chatflow, attribute=attribute, value=value)
    chatflow.save_revision().publish()

    def shown(**params):
        response = client.get("/livechat/config/", {"url": "http://testserver/", **params})
        return response.json()["chatflow"] is not None

    assert not shown()
    assert shown(identity=wagtail_livechat.identify("ann@example.com"))
    forged = signing.TimestampSigner(salt=identity.IDENTIFY_SALT, key="guess").sign_object(
        {"e": "ann@example.com", "n": "", "x": "", "a": 60}
    )
    assert not shown(identity=forged)
    token = wagtail_livechat.identify("ann@example.com", max_age=60)
    with mock.patch("django.core.signing.time.time", return_value=time.time() + 61):
        assert not shown(identity=token)
    user = make_agent("dan")
    client.force_login(user)
    with override_settings(WAGTAIL_LIVECHAT_IDENTIFY_USERS=True):
        assert shown()


def test_the_tag_puts_the_token_in_the_boot_data():
    token = wagtail_livechat.identify("ann@example.com")
    html = Template("{% load wagtail_livechat %}{% livechat identity=token %}").render(
        Context({"token": token})
    )
    assert f'"identity": "{token}"' in html
    plain = Template("{% load wagtail_livechat %}{% livechat %}").render(Context({}))
    assert "identity" not in plain
