"""Attachments' logic without HTTP: what a file is (sniffed from its bytes,
never its name or declared type), the limits, names, storage and deletion."""

import io

import pytest
from django.core.files.storage import default_storage
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from tests import attachment_files as files
from tests.livechat_factories import make_agent, make_chatflow, make_inbox
from wagtail_livechat import attachments, service, sniff
from wagtail_livechat.models import (
    Attachment,
    Conversation,
    Message,
    Visitor,
    delete_conversation_files,
)


def kind_of(content: bytes):
    found = sniff.sniff(io.BytesIO(content))
    return found.name if found else None


@pytest.mark.parametrize(
    ("content", "kind"),
    [
        (files.image("PNG"), "png"),
        (files.image("JPEG"), "jpeg"),
        (files.image("GIF"), "gif"),
        (files.image("WEBP"), "webp"),
        (files.PDF, "pdf"),
        (files.TEXT, "text"),
        (b"\xef\xbb\xbfWith a byte order mark", "text"),
        (files.office(), "docx"),
        (files.office("xl/workbook.xml", files.OOXML + "spreadsheetml.sheet.main+xml"), "xlsx"),
        (
            files.office(
                "ppt/presentation.xml", files.OOXML + "presentationml.presentation.main+xml"
            ),
            "pptx",
        ),
        # Markup is text: it is only ever served as text/plain, as a download.
        (files.HTML, "text"),
        (files.SVG, "text"),
    ],
)
def test_kinds_are_recognised_by_their_bytes(content, kind):
    assert kind_of(content) == kind


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"MZ\x90\x00\x03\x00\x00\x00",  # a Windows executable
        b"\x7fELF\x02\x01\x01",
        b"caf\xe9 in Latin-1",  # not UTF-8
        b"text with a NUL\x00 in it",
        b"\x1b[31mterminal escapes",
        files.zipped(**{"a.txt": "just a zip"}),
        files.zipped(**{"word/document.xml": "<d/>"}),  # no [Content_Types].xml
        # A macro-enabled document, declared as such or carrying macros.
        files.office(content_type="application/vnd.ms-word.document.macroEnabled.main+xml"),
        files.office(extra=["word/vbaProject.bin"]),
        files.zipped(**{"[Content_Types].xml": "<Types/>"}),  # declares no document
        b"PK\x03\x04 but no zip after all",
        b"\x00\x00\x01\x00 an icon",
    ],
)
def test_other_content_is_refused(content):
    assert kind_of(content) is None


def test_the_name_and_the_declared_type_do_not_matter():
    upload = files.upload(files.HTML, name="cat.png", content_type="image/png")
    with override_settings(WAGTAIL_LIVECHAT_ATTACHMENT_KINDS=("png",)):
        with pytest.raises(attachments.Refused) as refused:
            attachments.check(upload)
    assert refused.value.code == "type_refused" and refused.value.status == 415
    assert attachments.check(files.upload(files.image(), name="notes.txt")).name == "png"


@pytest.mark.parametrize(
    ("name", "extension", "clean"),
    [
        ("photo.PNG", "png", "photo.png"),
        ("photo.jpeg", "jpg", "photo.jpg"),
        ("page.html", "txt", "page.html.txt"),
        ("../../etc/passwd", "txt", "passwd.txt"),
        ("C:\\Users\\ann\\report.pdf", "pdf", "report.pdf"),
        ('a"b<c>\r\nd.pdf', "pdf", "a b c d.pdf"),
        ("", "png", "attachment.png"),
        ("...", "png", "attachment.png"),
        ("x" * 300 + ".pdf", "pdf", "x" * 96 + ".pdf"),
    ],
)
def test_names_are_cleaned_and_end_in_what_the_content_is(name, extension, clean):
    assert attachments.clean_name(name, extension) == clean


@override_settings(WAGTAIL_LIVECHAT_ATTACHMENT_MAX_BYTES=1000)
def test_size_limit():
    with pytest.raises(attachments.Refused) as refused:
        attachments.check(files.upload(b"a" * 1001))
    assert refused.value.code == "too_large" and refused.value.status == 413
    assert attachments.check(files.upload(b"a" * 1000)).name == "text"


def test_empty_files_and_disabled_attachments_are_refused():
    with pytest.raises(attachments.Refused) as refused:
        attachments.check(files.upload(b""))
    assert refused.value.code == "empty"
    with override_settings(WAGTAIL_LIVECHAT_ATTACHMENT_KINDS=()):
        with pytest.raises(attachments.Refused) as refused:
            attachments.check(files.upload(files.PDF))
    assert refused.value.code == "attachments_off"


@override_settings(WAGTAIL_LIVECHAT_ATTACHMENT_KINDS=("pdf",))
def test_only_the_allowed_kinds():
    assert attachments.check(files.upload(files.PDF)).name == "pdf"
    with pytest.raises(attachments.Refused):
        attachments.check(files.upload(files.image()))


def test_an_image_is_read_through_and_its_size_known():
    kind = sniff.KINDS["png"]
    assert attachments.image_size(io.BytesIO(files.image(size=(64, 48))), kind) == (64, 48)
    broken = files.image(size=(64, 48))[:60]  # the header, then nothing
    with pytest.raises(attachments.Refused) as refused:
        attachments.image_size(io.BytesIO(broken), kind)
    assert refused.value.code == "type_refused"
    # JPEG bytes behind a PNG signature are no PNG.
    with pytest.raises(attachments.Refused):
        attachments.image_size(io.BytesIO(b"\x89PNG\r\n\x1a\n" + files.image("JPEG")), kind)


@override_settings(WAGTAIL_LIVECHAT_ATTACHMENT_MAX_PIXELS=100)
def test_too_many_pixels():
    with pytest.raises(attachments.Refused) as refused:
        attachments.image_size(io.BytesIO(files.image(size=(11, 10))), sniff.KINDS["png"])
    assert refused.value.code == "too_large"


# -- Stored and sent --------------------------------------------------------------


@pytest.fixture
def conversation(db):
    agent = make_agent("ann", first_name="Ann")
    chatflow = make_chatflow(make_inbox(members=[agent]))
    visitor = Visitor.objects.create()
    message = service.post_visitor_message(
        visitor, client_id="first-0001", body="Hi", chatflow_id=chatflow.pk
    )[0]
    return Conversation.objects.get(pk=message.conversation_id)


def test_a_file_is_stored_under_a_random_name_with_what_it_is(conversation):
    stored = attachments.receive(
        files.upload(files.image(size=(64, 48)), name="../Me at the beach.PNG"),
        conversation=conversation,
        sender="v1",
    )
    assert stored.name == "Me at the beach.png"
    assert stored.kind == "image" and (stored.width, stored.height) == (64, 48)
    assert stored.content_type == "image/png" and stored.size == len(files.image(size=(64, 48)))
    assert stored.file.name.startswith("livechat/attachments/")
    assert stored.file.name.endswith(f"/{stored.key.hex}.png") and "beach" not in stored.file.name
    assert default_storage.exists(stored.file.name)
    data = stored.data()
    assert data == {
        "name": "Me at the beach.png",
        "size": stored.size,
        "kind": "image",
        "type": "image/png",
        "url": f"/livechat/attachments/{stored.key}/",
        "width": 64,
        "height": 48,
    }
    document = attachments.receive(files.upload(files.TEXT), conversation=conversation, sender="v1")
    assert "width" not in document.data() and document.data()["type"] == "text/plain"


@override_settings(WAGTAIL_LIVECHAT_ATTACHMENT_MAX_PER_CONVERSATION=2)
def test_a_conversation_holds_at_most_so_many_files(conversation):
    for _ in range(2):
        attachments.receive(files.upload(files.PDF), conversation=conversation, sender="v1")
    with pytest.raises(attachments.Refused) as refused:
        attachments.receive(files.upload(files.PDF), conversation=conversation, sender="v1")
    assert refused.value.code == "too_many" and refused.value.status == 409
    assert Attachment.objects.count() == 2


def test_a_message_with_a_file_costs_the_queries_of_a_plain_one(conversation):
    """Sending stays one UPDATE and one INSERT: the file is one more column."""
    visitor = conversation.visitor
    stored = attachments.receive(files.upload(files.PDF), conversation=conversation, sender="v")
    with CaptureQueriesContext(connection) as plain:
        service.post_visitor_message(
            visitor, client_id="plain-0001", body="text", conversation_id=conversation.pk
        )
    with CaptureQueriesContext(connection) as with_file:
        message, created = service.post_visitor_message(
            visitor,
            client_id="file-00001",
            body="",
            conversation_id=conversation.pk,
            attachment=stored,
        )
    assert created and len(with_file) == len(plain)
    assert service.message_data(message)["attachment"] == stored.data()
    conversation.refresh_from_db()
    assert conversation.last_message == f"\N{PAPERCLIP} {stored.name}"
    # Read back (history) with its file, in one query.
    with CaptureQueriesContext(connection) as read:
        page, _through, _more = service.page_after(conversation.pk, 0, notes=False)
    assert len(read) == 1
    assert page[-1]["attachment"] == stored.data() and "attachment" not in page[0]


def test_deleting_a_conversations_files_keeps_its_messages(
    conversation, django_capture_on_commit_callbacks
):
    stored = attachments.receive(files.upload(files.PDF), conversation=conversation, sender="v")
    message, _ = service.post_visitor_message(
        conversation.visitor,
        client_id="file-00001",
        body="the invoice",
        conversation_id=conversation.pk,
        attachment=stored,
    )
    name = stored.file.name
    with django_capture_on_commit_callbacks(execute=True):
        assert delete_conversation_files([conversation.pk]) == 1
    assert not default_storage.exists(name)
    message = Message.objects.get(pk=message.pk)
    assert message.attachment_id is None and message.body == "the invoice"
    assert "attachment" not in service.message_data(message)


def test_deleting_a_conversation_deletes_its_files(
    conversation, django_capture_on_commit_callbacks
):
    stored = attachments.receive(files.upload(files.PDF), conversation=conversation, sender="v")
    with django_capture_on_commit_callbacks(execute=True):
        conversation.delete()
    assert not default_storage.exists(stored.file.name)
