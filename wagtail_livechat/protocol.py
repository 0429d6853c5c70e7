"""Validation of incoming websocket frames: pure, so it is fast and testable.

``parse(text, side)`` turns a frame into a clean dict or raises
:class:`ProtocolError`; consumers never see a field they have not validated.
See ``docs/protocol.md``.
"""

from __future__ import annotations

import json
import re
from urllib.parse import urlsplit

CLIENT_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
MAX_URL = 2048
MAX_TITLE = 255
MAX_EMAIL = 254
MAX_IDENTITY = 2000
MAX_INT = 2**31 - 1
# The feedback survey: a rating on a scale of five, and an optional comment.
RATING_MIN, RATING_MAX = 1, 5
MAX_COMMENT = 1000
# A label as sent (the service collapses spaces, then allows 40 characters).
MAX_LABEL = 100
# An IANA time zone name ("America/Argentina/ComodRivadavia" is the longest).
MAX_TIME_ZONE = 64
# Consents a visitor answers on the socket (the others come with ``email``).
CONSENT_KINDS = ("cookies", "data")
SURROGATE = re.compile("[\ud800-\udfff]")
# What no text field may hold: unpaired surrogates (JSON can spell them,
# ``"\ud800"``; no UTF-8 database or socket takes them) and NUL (PostgreSQL
# refuses it in text).
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


class ProtocolError(Exception):
    def __init__(self, code: str, message: str, frame_id: str | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.frame_id = frame_id

    def as_frame(self) -> dict:
        frame = {"type": "error", "code": self.code, "message": self.message}
        if self.frame_id:
            frame["id"] = self.frame_id
        return frame


def _int(frame, name, *, required=True, minimum=0, maximum=MAX_INT, nullable=False):
    value = frame.get(name)
    if value is None:
        if nullable or not required:
            return None
        raise ProtocolError("bad_frame", f"“{name}” is required.")
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        raise ProtocolError("bad_frame", f"“{name}” must be a whole number from {minimum}.")
    return value


def _bool(frame, name, default=None):
    """A true/false field; without a ``default`` it must be there."""
    value = frame.get(name, default)
    if not isinstance(value, bool):
        raise ProtocolError("bad_frame", f"“{name}” must be true or false.")
    return value


def _text(value, name):
    """Refuse text that cannot be stored or sent on (``UNSTORABLE``)."""
    if UNSTORABLE.search(value):
        raise ProtocolError("bad_frame", f"“{name}” is not valid text.")
    return value


def _str(frame, name, maximum, *, required=True):
    value = frame.get(name, "" if not required else None)
    if not isinstance(value, str):
        raise ProtocolError("bad_frame", f"“{name}” must be text.")
    if len(value) > maximum:
        raise ProtocolError("too_long", f"“{name}” is longer than {maximum} characters.")
    return _text(value, name)


def _choice(frame, name, choices):
    value = frame.get(name)
    if value not in choices or not isinstance(value, str):
        raise ProtocolError("bad_frame", f"“{name}” must be one of {', '.join(choices)}.")
    return value


def _present(frame, name):
    """True if the field is there (null counts: it can mean "nobody")."""
    if name not in frame:
        raise ProtocolError("bad_frame", f"“{name}” is required.")
    return True


def _client_id(frame):
    value = frame.get("id")
    if not isinstance(value, str) or not CLIENT_ID.match(value):
        raise ProtocolError("bad_frame", "“id” must be 8 to 64 letters, digits, - or _.")
    return value


def _body(frame, max_length, frame_id):
    body = frame.get("body")
    if not isinstance(body, str):
        raise ProtocolError("bad_frame", "“body” must be text.", frame_id)
    body = body.strip()
    if not body:
        raise ProtocolError("bad_frame", "A message cannot be empty.", frame_id)
    if len(body) > max_length:
        raise ProtocolError("too_long", f"Keep messages under {max_length} characters.", frame_id)
    if "\x00" in body:
        raise ProtocolError("bad_frame", "A message cannot contain NUL characters.", frame_id)
    if SURROGATE.search(body):
        raise ProtocolError("bad_frame", "A message must be valid text.", frame_id)
    return body


def _page(value):
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ProtocolError("bad_frame", "“page” must be an object.")
    url = _str(value, "url", MAX_URL)
    try:
        # What the service parses again (its host, its path) must parse:
        # "http://[::1" raises.
        parts = urlsplit(url)
        valid = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        valid = False
    if not valid or not url.startswith(("http://", "https://")):
        raise ProtocolError("bad_frame", "“page.url” must be an http or https URL.")
    return {
        "url": url,
        "title": _str(value, "title", MAX_TITLE, required=False),
        "id": _int(value, "id", required=False, minimum=1),
    }


def _message(frame, max_length):
    frame_id = _client_id(frame)
    return {"id": frame_id, "body": _body(frame, max_length, frame_id)}


VISITOR_TYPES = {
    "hello": lambda f, n: {
        "after": _int(f, "after", required=False) or 0,
        "chatflow": _int(f, "chatflow", required=False, minimum=1),
        "page": _page(f.get("page")),
        # The site's token vouching for the visitor (docs/identification.md).
        "identity": _str(f, "identity", MAX_IDENTITY, required=False) or None,
    },
    # ``tz``: the browser's time zone, sent with the messages that may start
    # a conversation (stored only then).
    "message": lambda f, n: {
        **_message(f, n),
        **({"tz": _str(f, "tz", MAX_TIME_ZONE)} if f.get("tz") is not None else {}),
    },
    "typing": lambda f, n: {"on": _bool(f, "on")},
    "page": lambda f, n: {"page": _page(f)},
    "email": lambda f, n: {
        "email": _str(f, "email", MAX_EMAIL).strip(),
        "subscribe": _bool(f, "subscribe", False),
        "consent": _bool(f, "consent", False),
    },
    "read": lambda f, n: {"seq": _int(f, "seq")},
    "transcript": lambda f, n: {},
    "ping": lambda f, n: {},
    "end": lambda f, n: {"conversation": _int(f, "conversation", minimum=1)},
    "survey": lambda f, n: {
        "conversation": _int(f, "conversation", minimum=1),
        "rating": _int(f, "rating", minimum=RATING_MIN, maximum=RATING_MAX),
        "comment": _str(f, "comment", MAX_COMMENT, required=False).strip(),
    },
    "consent": lambda f, n: {
        "kind": _choice(f, "kind", CONSENT_KINDS),
        "given": _bool(f, "given"),
    },
}

AGENT_TYPES = {
    "hello": lambda f, n: {},
    "open": lambda f, n: {
        "conversation": _int(f, "conversation", minimum=1),
        "after": _int(f, "after", required=False) or 0,
    },
    "leave": lambda f, n: {"conversation": _int(f, "conversation", minimum=1)},
    "message": lambda f, n: {
        "conversation": _int(f, "conversation", minimum=1),
        **_message(f, n),
        "note": _bool(f, "note", False),
    },
    "typing": lambda f, n: {
        "conversation": _int(f, "conversation", minimum=1),
        "on": _bool(f, "on"),
    },
    "assign": lambda f, n: {
        "conversation": _int(f, "conversation", minimum=1),
        "user": _present(f, "user") and _int(f, "user", minimum=1, nullable=True),
    },
    "close": lambda f, n: {"conversation": _int(f, "conversation", minimum=1)},
    "reopen": lambda f, n: {"conversation": _int(f, "conversation", minimum=1)},
    "read": lambda f, n: {
        "conversation": _int(f, "conversation", minimum=1),
        "seq": _int(f, "seq"),
    },
    "availability": lambda f, n: {"available": _bool(f, "available")},
    "label": lambda f, n: {
        "conversation": _int(f, "conversation", minimum=1),
        "label": _str(f, "label", MAX_LABEL),
        "add": _bool(f, "add"),
    },
    "ping": lambda f, n: {},
}

SIDES = {"visitor": VISITOR_TYPES, "agent": AGENT_TYPES}


def parse(text: str | None, side: str, *, max_length: int = 4000) -> dict:
    """A validated frame: ``{"type": ..., **fields}``."""
    if not isinstance(text, str):
        raise ProtocolError("bad_frame", "Frames are JSON text.")
    try:
        frame = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: "[[[[..." nested deep
        raise ProtocolError("bad_frame", "Frames are JSON text.") from None
    if not isinstance(frame, dict):
        raise ProtocolError("bad_frame", "A frame is a JSON object.")
    kind = frame.get("type")
    handlers = SIDES[side]
    if not isinstance(kind, str) or kind not in handlers:
        raise ProtocolError("bad_frame", "Unknown frame type.")
    try:
        return {"type": kind, **handlers[kind](frame, max_length)}
    except ProtocolError as error:
        # An answer to a message frame names it, so the client knows which
        # of its pending messages failed.
        frame_id = frame.get("id")
        if kind == "message" and error.frame_id is None and isinstance(frame_id, str):
            if len(frame_id) <= 64 and not SURROGATE.search(frame_id):
                error.frame_id = frame_id
        raise
