"""The attachment endpoints: a visitor's upload (identity cookie, Origin
check), an agent's (session, CSRF, membership), the download both use
(only the conversation's visitor and its inbox's members; images inline,
everything else a download; always nosniff); and the message frame that
an upload fans out to the sockets."""

import re
import uuid

import pytest
from django.test import Client, override_settings

from tests import attachment_files as files
from tests.livechat_factories import make_agent, make_chatflow, make_inbox
from tests.sockets import agent_socket, db, receive_until, visitor_socket
from wagtail_livechat import identity, service
from wagtail_livechat.models import Attachment, Conversation, Message, Visitor

UPLOAD = "/livechat/attachments/"
ORIGIN = "http://testserver"


def make_setup():
    """Ann's inbox and a conversation its visitor started."""
    ann = make_agent("ann", first_name="Ann")
    inbox = make_inbox(members=[ann])
    chatflow = make_chatflow(inbox)
    visitor = Visitor.objects.create()
    message = service.post_visitor_message(
        visitor, client_id="first-0001", body="Hi", chatflow_id=chatflow.pk
    )[0]
    conversation = Conversation.objects.select_related("chatflow").get(pk=message.conversation_id)
    return ann, inbox, conversation, visitor


@pytest.fixture
def setup(db):
    return make_setup()


def as_visitor(visitor, client=None):
    client = client or Client()
    client.cookies["livechat_visitor"] = identity.sign(visitor.key)
    return client


def send(client, content=None, name="photo.png", conversation=None, origin=ORIGIN, **fields):
    data = {"id": fields.pop("id", f"c-{uuid.uuid4().hex}"), **fields}
    if content is not None:
        data["file"] = files.upload(content, name=name, content_type="image/png")
    if conversation is not None:
        data["conversation"] = conversation.pk
    headers = {"HTTP_ORIGIN": origin} if origin else {}
    return client.post(UPLOAD, data, **headers)


def attach_url(conversation):
    return f"/admin/livechat/{conversation.pk}/attachments/"


# -- The visitor's upload -----------------------------------------------------------


def test_a_visitor_sends_an_image(setup):
    _ann, _inbox, conversation, visitor = setup
    response = send(
        as_visitor(visitor),
        files.image(size=(64, 48)),
        conversation=conversation,
        body="my screen",
        id="photo-0001",
    )
    assert response.status_code == 201, response.content
    message = response.json()["message"]
    assert message["seq"] == 2 and message["author"] == "visitor" and message["body"] == "my screen"
    attachment = message["attachment"]
    assert attachment["name"] == "photo.png" and attachment["kind"] == "image"
    assert (attachment["width"], attachment["height"]) == (64, 48)
    assert re.fullmatch(r"/livechat/attachments/[0-9a-f-]{36}/", attachment["url"])
    stored = Message.objects.get(conversation=conversation, seq=2)
    assert stored.client_id == "photo-0001" and stored.attachment.sender == f"v{visitor.pk}"


def test_resending_the_same_id_stores_one_file(setup):
    _ann, _inbox, conversation, visitor = setup
    client = as_visitor(visitor)
    first = send(client, files.PDF, conversation=conversation, id="same-00001")
    again = send(client, files.PDF, conversation=conversation, id="same-00001")
    assert first.status_code == 201 and again.status_code == 200
    assert again.json()["message"] == first.json()["message"]
    assert Attachment.objects.count() == 1 and conversation.messages.count() == 2


def test_a_visitor_without_an_identity_may_not_send(setup):
    _ann, _inbox, conversation, _visitor = setup
    response = send(Client(), files.PDF, conversation=conversation)
    assert response.status_code == 403 and response.json()["error"] == "no_identity"
    forged = Client()
    forged.cookies["livechat_visitor"] = "forged:value"
    assert send(forged, files.PDF, conversation=conversation).status_code == 403
    assert Attachment.objects.count() == 0


@pytest.mark.parametrize("origin", [None, "http://evil.example", "https://testserver"])
def test_a_foreign_origin_is_refused(setup, origin):
    _ann, _inbox, conversation, visitor = setup
    response = send(as_visitor(visitor), files.PDF, conversation=conversation, origin=origin)
    assert response.status_code == 403 and response.json()["error"] == "forbidden_origin"
    assert Attachment.objects.count() == 0


def test_only_into_the_visitors_own_conversation(setup):
    _ann, _inbox, conversation, _visitor = setup
    other = Visitor.objects.create()
    response = send(as_visitor(other), files.PDF, conversation=conversation)
    assert response.status_code == 404 and response.json()["error"] == "not_found"
    # A visitor with no conversation yet: write first, then attach.
    assert send(as_visitor(other), files.PDF).status_code == 404
    assert Attachment.objects.count() == 0


def test_a_type_not_allowed_is_refused_whatever_its_name(setup):
    _ann, _inbox, conversation, visitor = setup
    with override_settings(WAGTAIL_LIVECHAT_ATTACHMENT_KINDS=("png", "jpeg")):
        response = send(as_visitor(visitor), files.HTML, name="cat.png", conversation=conversation)
    assert response.status_code == 415
    body = response.json()
    assert body["error"] == "type_refused" and body["message"]
    assert Attachment.objects.count() == 0 and conversation.messages.count() == 1


@override_settings(WAGTAIL_LIVECHAT_ATTACHMENT_MAX_BYTES=1000)
def test_too_large_is_refused_before_it_is_read(setup):
    _ann, _inbox, conversation, visitor = setup
    response = send(as_visitor(visitor), b"a" * 1001, name="a.txt", conversation=conversation)
    assert response.status_code == 413 and response.json()["error"] == "too_large"
    # A body far past the limit is refused from its Content-Length alone.
    big = send(as_visitor(visitor), b"a" * 100_000, name="a.txt", conversation=conversation)
    assert big.status_code == 413
    assert Attachment.objects.count() == 0


@override_settings(WAGTAIL_LIVECHAT_ATTACHMENT_MAX_PER_CONVERSATION=1)
def test_count_limit(setup):
    _ann, _inbox, conversation, visitor = setup
    client = as_visitor(visitor)
    assert send(client, files.PDF, conversation=conversation).status_code == 201
    response = send(client, files.PDF, conversation=conversation)
    assert response.status_code == 409 and response.json()["error"] == "too_many"


def test_bad_fields(setup):
    _ann, _inbox, conversation, visitor = setup
    client = as_visitor(visitor)
    assert send(client, files.PDF, conversation=conversation, id="short").status_code == 400
    assert send(client, None, conversation=conversation).json()["error"] == "no_file"
    long_caption = "x" * 4001
    assert send(client, files.PDF, conversation=conversation, body=long_caption).status_code == 400
    assert client.get(UPLOAD).status_code == 405


# -- The agent's upload ---------------------------------------------------------------


def test_an_agent_sends_a_document_with_the_session_and_csrf(setup):
    ann, _inbox, conversation, _visitor = setup
    client = Client(enforce_csrf_checks=True)
    client.force_login(ann)
    data = {"id": "agent-file-1", "file": files.upload(files.office(), name="offer.docx")}
    refused = client.post(attach_url(conversation), data)
    assert refused.status_code == 403 and Attachment.objects.count() == 0  # no CSRF token
    client.get("/admin/livechat/")  # the admin's pages set the CSRF cookie
    token = client.cookies["csrftoken"].value
    data["file"] = files.upload(files.office(), name="offer.docx")
    response = client.post(attach_url(conversation), data, HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 201, response.content
    message = response.json()["message"]
    assert message["author"] == "agent" and message["name"] == "Ann"
    assert message["attachment"]["kind"] == "document"
    assert message["attachment"]["type"] == files.OOXML + "wordprocessingml.document"
    conversation.refresh_from_db()
    assert conversation.assignee_id == ann.pk  # answering takes it, as a message does


def test_an_agent_of_another_inbox_may_not_send(setup):
    _ann, _inbox, conversation, _visitor = setup
    bob = make_agent("bob")
    make_inbox("Support", members=[bob])
    client = Client()
    client.force_login(bob)
    data = {"id": "agent-file-1", "file": files.upload(files.PDF)}
    response = client.post(attach_url(conversation), data)
    assert response.status_code == 403 and Attachment.objects.count() == 0
    assert client.post("/admin/livechat/999999/attachments/", data).status_code == 404


# -- Downloads ------------------------------------------------------------------------


def upload_as_visitor(visitor, conversation, content, name):
    response = send(as_visitor(visitor), content, name=name, conversation=conversation)
    assert response.status_code == 201, response.content
    return response.json()["message"]["attachment"]["url"]


def test_an_image_is_shown_inline_to_its_visitor_and_the_inbox(setup):
    ann, _inbox, conversation, visitor = setup
    content = files.image()
    url = upload_as_visitor(visitor, conversation, content, "photo.png")
    agent = Client()
    agent.force_login(ann)
    for client in (as_visitor(visitor), agent):
        response = client.get(url)
        assert response.status_code == 200
        assert b"".join(response.streaming_content) == content
        assert response["Content-Type"] == "image/png"
        assert response["Content-Disposition"].startswith("inline")
        assert response["X-Content-Type-Options"] == "nosniff"
        assert "sandbox" in response["Content-Security-Policy"]
        assert response["Cache-Control"].startswith("private")
    download = agent.get(url + "?download")
    assert download["Content-Disposition"] == 'attachment; filename="photo.png"'


@pytest.mark.parametrize(
    ("content", "name", "served_as", "type_"),
    [
        (files.HTML, "page.html", "page.html.txt", "text/plain; charset=utf-8"),
        (files.SVG, "logo.svg", "logo.svg.txt", "text/plain; charset=utf-8"),
        (files.PDF, "invoice.pdf", "invoice.pdf", "application/pdf"),
    ],
)
def test_anything_but_an_image_is_only_ever_a_download(setup, content, name, served_as, type_):
    _ann, _inbox, conversation, visitor = setup
    url = upload_as_visitor(visitor, conversation, content, name)
    response = as_visitor(visitor).get(url)
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="{served_as}"'
    assert response["Content-Type"] == type_
    assert response["X-Content-Type-Options"] == "nosniff"


def test_nobody_else_downloads(setup):
    _ann, _inbox, conversation, visitor = setup
    url = upload_as_visitor(visitor, conversation, files.image(), "photo.png")
    bob = make_agent("bob")
    make_inbox("Support", members=[bob])
    stranger = Client()
    stranger.force_login(bob)
    for client in (Client(), as_visitor(Visitor.objects.create()), stranger):
        response = client.get(url)
        assert response.status_code == 403 and response.json()["error"] == "forbidden"
    assert Client().get(f"/livechat/attachments/{uuid.uuid4()}/").status_code == 404


def test_an_agents_note_with_a_file_is_not_the_visitors(setup):
    ann, _inbox, conversation, visitor = setup
    client = Client()
    client.force_login(ann)
    response = client.post(
        attach_url(conversation),
        {"id": "note-file-01", "note": "on", "file": files.upload(files.PDF)},
    )
    assert response.status_code == 201 and response.json()["message"]["note"] is True
    url = response.json()["message"]["attachment"]["url"]
    assert client.get(url).status_code == 200
    assert as_visitor(visitor).get(url).status_code == 403


def test_the_inbox_shows_the_thumbnail_and_the_download_link(setup):
    ann, _inbox, conversation, visitor = setup
    url = upload_as_visitor(visitor, conversation, files.image(size=(64, 48)), "photo.png")
    client = Client()
    client.force_login(ann)
    page = client.get(f"/admin/livechat/{conversation.pk}/").content.decode()
    assert f'<img src="{url}" alt="photo.png" width="64" height="48"' in page
    assert f'href="{url}?download" download="photo.png"' in page
    assert 'data-action="livechat-conversation#pick"' in page


# -- The message frame ----------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
async def test_an_upload_reaches_the_sockets_as_a_message_with_its_file():
    ann, _inbox, conversation, visitor = await db(make_setup)
    agent_ws, _ = await agent_socket(ann)
    await agent_ws.send_json_to({"type": "open", "conversation": conversation.pk})
    await receive_until(agent_ws, "viewers")
    visitor_ws, _ = await visitor_socket(visitor, conversation.chatflow)

    response = await db(
        send, as_visitor(visitor), files.image(size=(20, 10)), conversation=conversation
    )
    assert response.status_code == 201
    sent = response.json()["message"]
    frame, _ = await receive_until(agent_ws, "message")
    assert frame["message"] == sent
    assert frame["message"]["attachment"] == {
        "name": "photo.png",
        "size": len(files.image(size=(20, 10))),
        "kind": "image",
        "type": "image/png",
        "url": sent["attachment"]["url"],
        "width": 20,
        "height": 10,
    }
    assert frame["conversation"]["last_message"] == "\N{PAPERCLIP} photo.png"
    mine, _ = await receive_until(visitor_ws, "message")
    assert mine["message"] == sent
    # ...and a reconnecting socket reads it in its history.
    again, welcome = await visitor_socket(visitor, conversation.chatflow)
    assert welcome["messages"][-1] == sent
    for ws in (agent_ws, visitor_ws, again):
        await ws.disconnect()
