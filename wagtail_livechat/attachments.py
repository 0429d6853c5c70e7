"""Receiving an attachment: check it against the limits, recognise it by its
content (``sniff``), read images through Pillow, and store it. Sending it is
the conversation service's (``post_visitor_message``/``post_agent_message``
with ``attachment=``), so a file is a message like any other: numbered,
fanned out, idempotent by its client id.

All of this runs in the HTTP upload (``attachment_views``), never on a
socket's path.
"""

from __future__ import annotations

import re

from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _
from PIL import Image

from . import sniff
from .conf import conf
from .models import Attachment

# Characters no file name keeps: separators, controls and what shells,
# headers and file systems read specially.
_UNSAFE = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]+')
MAX_NAME = 100
_PILLOW_FORMATS = {"png": "PNG", "jpeg": "JPEG", "gif": "GIF", "webp": "WEBP"}


class Refused(Exception):
    """Why a file is not taken: ``code`` for clients, ``message`` for people,
    ``status`` for HTTP."""

    def __init__(self, code: str, message: str, status: int = 400):
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


def enabled() -> bool:
    return bool(conf.ATTACHMENT_KINDS)


def too_large() -> Refused:
    return Refused(
        "too_large",
        _("The file is too large: send at most %(size)s.")
        % {"size": filesizeformat(conf.ATTACHMENT_MAX_BYTES)},
        status=413,
    )


def clean_name(name: str, extension: str) -> str:
    """The sender's file name without a path or unsafe characters, at most
    ``MAX_NAME`` long, ending in the extension of what the content is (a
    ``page.html`` that is text downloads as ``page.html.txt``)."""
    name = _UNSAFE.sub(" ", name.replace("\\", "/").rsplit("/", 1)[-1]).strip(" .")
    stem, dot, given = name.rpartition(".")
    if dot and given.lower() in (extension, "jpeg" if extension == "jpg" else extension):
        name = stem
    name = name[: MAX_NAME - len(extension) - 1].strip(" .") or "attachment"
    return f"{name}.{extension}"


def image_size(file, kind: sniff.Kind) -> tuple[int, int]:
    """Width and height of an image Pillow can decode as the kind it was
    sniffed as, within ``ATTACHMENT_MAX_PIXELS``: only such an image is
    ever shown inline."""
    refused = Refused("type_refused", _("This image could not be read."), status=415)
    try:
        with Image.open(file, formats=[_PILLOW_FORMATS[kind.name]]) as image:
            width, height = image.size
            if width * height > conf.ATTACHMENT_MAX_PIXELS:
                raise Refused("too_large", _("The image has too many pixels."), status=413)
            image.load()  # decodes it: a broken or truncated image fails here
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise refused from None
    finally:
        file.seek(0)
    return width, height


def check(upload) -> sniff.Kind:
    """The upload's kind, if it is within the limits and allowed."""
    if not enabled():
        raise Refused("attachments_off", _("Files cannot be sent here."), status=403)
    if upload.size > conf.ATTACHMENT_MAX_BYTES:
        raise too_large()
    if upload.size == 0:
        raise Refused("empty", _("The file is empty."))
    kind = sniff.sniff(upload)
    if kind is None or kind.name not in conf.ATTACHMENT_KINDS:
        raise Refused("type_refused", _("This type of file cannot be sent."), status=415)
    return kind


def receive(upload, *, conversation, sender: str) -> Attachment:
    """Check and store an uploaded file for ``conversation`` (whom the caller
    authorised); returns the stored :class:`Attachment`, not yet sent."""
    kind = check(upload)
    if conversation.attachments.count() >= conf.ATTACHMENT_MAX_PER_CONVERSATION:
        raise Refused(
            "too_many",
            _("This conversation has as many files as it may hold (%(count)s).")
            % {"count": conf.ATTACHMENT_MAX_PER_CONVERSATION},
            status=409,
        )
    width = height = None
    if kind.image:
        width, height = image_size(upload, kind)
    attachment = Attachment(
        conversation=conversation,
        name=clean_name(upload.name or "", kind.extension),
        size=upload.size,
        content_type=kind.mime,
        extension=kind.extension,
        kind=Attachment.Kind.IMAGE if kind.image else Attachment.Kind.DOCUMENT,
        width=width,
        height=height,
        sender=sender,
    )
    attachment.file.save(attachment.name, upload, save=False)
    try:
        attachment.save()
    except Exception:
        attachment.file.delete(save=False)
        raise
    return attachment
