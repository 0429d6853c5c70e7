"""Files of each kind, made here, for the attachment tests."""

import io
import zipfile

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

OOXML = "application/vnd.openxmlformats-officedocument."


def image(fmt="PNG", size=(40, 30), colour="red") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, fmt)
    return buffer.getvalue()


PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
TEXT = "Order 42: the blue one, please. Ünïcode too.\n".encode()
HTML = b"<!doctype html><script>alert(document.cookie)</script>"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


def office(
    main="word/document.xml", content_type=OOXML + "wordprocessingml.document.main+xml", extra=()
):
    """A minimal OOXML package declaring ``main`` with ``content_type``."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as package:
        package.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
            'content-types"><Default Extension="xml" ContentType="application/xml"/>'
            f'<Override PartName="/{main}" ContentType="{content_type}"/></Types>',
        )
        package.writestr(main, "<document/>")
        for name in extra:
            package.writestr(name, b"\x00")
    return buffer.getvalue()


def zipped(**files) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as package:
        for name, content in files.items():
            package.writestr(name, content)
    return buffer.getvalue()


def upload(content: bytes, name="file.bin", content_type="application/octet-stream"):
    return SimpleUploadedFile(name, content, content_type=content_type)
