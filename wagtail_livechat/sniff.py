"""What a file is, decided from its bytes: never from the client's MIME type
or its name, which a sender chooses freely. Pure functions over bytes and
file objects, so that they are fast to test.

Only the kinds in ``KINDS`` are ever recognised; anything else (SVG, HTML,
scripts, archives, executables, macro-enabled office files) is refused.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass


@dataclass(frozen=True)
class Kind:
    name: str  # what settings name it (WAGTAIL_LIVECHAT_ATTACHMENT_KINDS)
    mime: str  # the Content-Type it is served with
    extension: str  # the extension its downloads carry
    image: bool = False  # shown inline as a thumbnail once Pillow has read it


_OOXML = "application/vnd.openxmlformats-officedocument."
KINDS = {
    kind.name: kind
    for kind in (
        Kind("png", "image/png", "png", image=True),
        Kind("jpeg", "image/jpeg", "jpg", image=True),
        Kind("gif", "image/gif", "gif", image=True),
        Kind("webp", "image/webp", "webp", image=True),
        Kind("pdf", "application/pdf", "pdf"),
        Kind("text", "text/plain; charset=utf-8", "txt"),
        Kind("docx", _OOXML + "wordprocessingml.document", "docx"),
        Kind("xlsx", _OOXML + "spreadsheetml.sheet", "xlsx"),
        Kind("pptx", _OOXML + "presentationml.presentation", "pptx"),
    )
}

# The main part of each office kind and the content type the package must
# declare for it: a macro-enabled document (docm, xlsm) declares another.
_OFFICE = {
    "docx": ("word/document.xml", _OOXML + "wordprocessingml.document.main+xml"),
    "xlsx": ("xl/workbook.xml", _OOXML + "spreadsheetml.sheet.main+xml"),
    "pptx": ("ppt/presentation.xml", _OOXML + "presentationml.presentation.main+xml"),
}
# [Content_Types].xml is a few kilobytes; more is no office file (or a bomb).
_MAX_CONTENT_TYPES = 256 * 1024
_MAX_ZIP_ENTRIES = 10_000
# Text: UTF-8 with no control characters but tab, newlines and form feed.
_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0e-\x1f\x7f]")


def _magic(head: bytes) -> str | None:
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head.startswith(b"PK\x03\x04"):
        return "zip"
    return None


def office_kind(file) -> str | None:
    """``docx``, ``xlsx`` or ``pptx`` when the zip is that office package
    (its declared main part is there, with the plain, macro-free content
    type), else None. Reads only the zip's directory and its small
    ``[Content_Types].xml``: nothing is decompressed beyond that."""
    try:
        with zipfile.ZipFile(file) as package:
            entries = package.infolist()
            if len(entries) > _MAX_ZIP_ENTRIES:
                return None
            names = {entry.filename for entry in entries}
            if any(name.lower().endswith("vbaproject.bin") for name in names):
                return None
            types = package.getinfo("[Content_Types].xml")
            if types.file_size > _MAX_CONTENT_TYPES:
                return None
            declared = package.read(types).decode("utf-8", "replace")
    # zipfile raises NotImplementedError for a compression method it lacks:
    # such a document is refused like a broken one.
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, NotImplementedError):
        return None
    for name, (part, content_type) in _OFFICE.items():
        if part in names and f'PartName="/{part}"' in declared:
            # The part's own override must carry exactly the plain type.
            override = re.search(rf'<Override[^>]*PartName="/{re.escape(part)}"[^>]*>', declared)
            if override and f'ContentType="{content_type}"' in override.group(0):
                return name
    return None


def is_text(data: bytes) -> bool:
    """Plain UTF-8 text (a byte order mark allowed), no control characters."""
    if not data or _CONTROL.search(data):
        return False
    try:
        data.removeprefix(b"\xef\xbb\xbf").decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def sniff(file) -> Kind | None:
    """The kind of a seekable binary file, read from its content; None when
    it is none of ``KINDS``. Leaves the file at its start."""
    file.seek(0)
    head = file.read(16)
    file.seek(0)
    found = _magic(head)
    if found == "zip":
        found = office_kind(file)
        file.seek(0)
    elif found is None:
        found = "text" if is_text(file.read()) else None
        file.seek(0)
    return KINDS.get(found) if found else None
