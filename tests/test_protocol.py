"""The frame validator: every malformed frame becomes a ProtocolError."""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wagtail_livechat.protocol import ProtocolError, parse


def frame(**fields):
    return json.dumps(fields)


def test_valid_visitor_message_is_stripped():
    parsed = parse(frame(type="message", id="abcdefgh-1", body="  hi  "), "visitor")
    assert parsed == {"type": "message", "id": "abcdefgh-1", "body": "hi"}


def test_hello_defaults():
    assert parse(frame(type="hello"), "visitor") == {
        "type": "hello",
        "after": 0,
        "chatflow": None,
        "page": None,
        "identity": None,
    }


@pytest.mark.parametrize(
    "text, code",
    [
        ("not json", "bad_frame"),
        ("[1, 2]", "bad_frame"),
        (frame(type="nope"), "bad_frame"),
        (frame(body="x"), "bad_frame"),
        (frame(type="message", id="short", body="x"), "bad_frame"),
        (frame(type="message", id="has space!", body="x"), "bad_frame"),
        (frame(type="message", id="abcdefgh", body="   "), "bad_frame"),
        (frame(type="message", id="abcdefgh", body=5), "bad_frame"),
        (frame(type="message", id="abcdefgh", body="x" * 4001), "too_long"),
        (frame(type="message", id="abcdefgh", body="a\x00b"), "bad_frame"),
        (frame(type="hello", after=-1), "bad_frame"),
        (frame(type="hello", after=True), "bad_frame"),
        (frame(type="hello", after="3"), "bad_frame"),
        (frame(type="hello", page={"url": "javascript:alert(1)"}), "bad_frame"),
        (frame(type="hello", page={"url": "https://x/" + "a" * 3000}), "too_long"),
        (frame(type="typing", on="yes"), "bad_frame"),
        (frame(type="email", email=None), "bad_frame"),
    ],
)
def test_bad_visitor_frames(text, code):
    with pytest.raises(ProtocolError) as error:
        parse(text, "visitor")
    assert error.value.code == code


def test_error_frame_carries_the_client_id():
    with pytest.raises(ProtocolError) as error:
        parse(frame(type="message", id="abcdefgh", body=""), "visitor")
    assert error.value.as_frame()["id"] == "abcdefgh"


def test_agent_frames():
    assert parse(frame(type="assign", conversation=3, user=None), "agent") == {
        "type": "assign",
        "conversation": 3,
        "user": None,
    }
    parsed = parse(
        frame(type="message", conversation=1, id="abcdefgh", body="x", note=True), "agent"
    )
    assert parsed["note"] is True
    with pytest.raises(ProtocolError):
        parse(frame(type="open"), "agent")
    with pytest.raises(ProtocolError):
        parse(frame(type="assign", conversation=0, user=1), "agent")


def test_agent_only_frames_are_refused_from_visitors():
    with pytest.raises(ProtocolError):
        parse(frame(type="assign", conversation=1, user=1), "visitor")


def test_message_length_is_configurable():
    with pytest.raises(ProtocolError) as error:
        parse(frame(type="message", id="abcdefgh", body="x" * 11), "visitor", max_length=10)
    assert error.value.code == "too_long"


@given(st.text(max_size=200))
def test_any_text_parses_or_raises_protocol_error(text):
    try:
        parsed = parse(text, "visitor")
    except ProtocolError:
        return
    assert parsed["type"] in {
        "hello",
        "message",
        "typing",
        "page",
        "email",
        "read",
        "transcript",
        "ping",
    }


@given(
    st.dictionaries(
        st.sampled_from(["type", "id", "body", "after", "page", "on", "seq"]),
        st.one_of(
            st.none(),
            st.booleans(),
            st.integers(),
            st.text(max_size=20),
            st.sampled_from(["message", "hello", "typing", "read"]),
        ),
    )
)
def test_any_object_parses_or_raises_protocol_error(fields):
    try:
        parse(json.dumps(fields), "visitor")
    except ProtocolError:
        pass


@pytest.mark.parametrize(
    ("side", "frame"),
    [
        ("visitor", {"type": "message", "id": "client-0001", "body": "a \ud800 b"}),
        ("visitor", {"type": "page", "url": "http://x/", "title": "\udfff", "id": None}),
        ("visitor", {"type": "page", "url": "http://x/\ud83d", "title": "", "id": None}),
        ("visitor", {"type": "hello", "page": {"url": "http://x/", "title": "\ud800"}}),
        ("visitor", {"type": "email", "email": "a\udfff@example.com"}),
        ("agent", {"type": "message", "conversation": 1, "id": "agent-0001", "body": "\ud83d"}),
    ],
)
def test_unpaired_surrogates_are_bad_frames(side, frame):
    """JSON can spell them; no UTF-8 database or socket takes them."""
    with pytest.raises(ProtocolError) as refused:
        parse(json.dumps(frame), side)
    assert refused.value.code == "bad_frame"
    if frame["type"] == "message":
        assert refused.value.frame_id == frame["id"]


@pytest.mark.parametrize(
    ("side", "frame"),
    [
        ("agent", {"type": "availability"}),
        ("agent", {"type": "assign", "conversation": 1}),
        ("agent", {"type": "typing", "conversation": 1}),
        ("visitor", {"type": "typing"}),
    ],
)
def test_required_fields_have_no_silent_default(side, frame):
    with pytest.raises(ProtocolError):
        parse(json.dumps(frame), side)


def test_an_error_about_a_message_frame_names_it():
    with pytest.raises(ProtocolError) as refused:
        parse(json.dumps({"type": "message", "id": "agent-0001", "body": "x"}), "agent")
    assert refused.value.frame_id == "agent-0001"  # the conversation was missing


@pytest.mark.parametrize(
    ("side", "frame"),
    [
        ("visitor", {"type": "page", "url": "http://x/\x00", "title": "", "id": None}),
        ("visitor", {"type": "page", "url": "http://x/", "title": "a\x00b", "id": None}),
        ("visitor", {"type": "hello", "page": {"url": "http://x/", "title": "\x00"}}),
        ("visitor", {"type": "email", "email": "a\x00@example.com"}),
    ],
)
def test_nul_in_any_text_is_a_bad_frame(side, frame):
    """SQLite stores NUL, PostgreSQL refuses it: refused before either."""
    with pytest.raises(ProtocolError) as refused:
        parse(json.dumps(frame), side)
    assert refused.value.code == "bad_frame"


@pytest.mark.parametrize(
    "url",
    [
        "http://[::1",  # urlsplit raises "Invalid IPv6 URL"
        "http://[::1/x",
        "https://[zz/",
        "http://a\uff03b/",  # NFKC turns it into "#": urlsplit raises
        "http:///no-host",
        "http://",
        " http://x/",
        "httpx://x/",
    ],
)
def test_a_page_url_that_does_not_parse_is_a_bad_frame(url):
    """The service reads the page URL's host; a URL that does not parse
    once crashed the socket there."""
    for frame in (
        {"type": "page", "url": url, "title": "", "id": None},
        {"type": "hello", "page": {"url": url, "title": ""}},
    ):
        with pytest.raises(ProtocolError) as refused:
            parse(json.dumps(frame), "visitor")
        assert refused.value.code == "bad_frame"


@pytest.mark.parametrize(
    "url", ["http://[::1]/", "http://[::1]:8000/x", "https://intranet/", "http://x:99999/"]
)
def test_page_urls_that_parse_are_accepted(url):
    assert parse(json.dumps({"type": "page", "url": url, "title": "t"}), "visitor")["page"]["url"]


@pytest.mark.parametrize(
    "text",
    [
        "[" * 100_000,
        '{"type": "hello", "after": ' + "9" * 10_000 + "}",
        '{"type": "hello", "after": 1e999}',
        '{"type": "hello", "after": NaN}',
        '{"type": "hello", "after": -Infinity}',
        '{"type": "hello", "after": 2.0}',
        '{"type": "read", "seq": 18446744073709551616}',
        '{"type": "message", "id": "\\ud800\\udc00x1234", "body": "x"}',
        '{"type": "message", "id": "abcdefgh", "body": "\\udfff"}',
        '{"type": "message", "id": "abcdefgh", "body": "\\ud83d"}',
        '{"type": "message", "id": "abcdefgh", "body": {"a": [[[[]]]]}}',
        '{"type": "\\ud800"}',
        '{"type": "hello"',
        '{"type": "hello"}{"type": "hello"}',
        "\x00",
        "",
    ],
)
def test_hostile_text_is_a_protocol_error(text):
    with pytest.raises(ProtocolError) as refused:
        parse(text, "visitor")
    assert refused.value.code in ("bad_frame", "too_long")


def test_paired_surrogates_four_byte_characters_and_rtl_overrides_are_text():
    body = "\U0001f600 \u202eevil\u202c \U0010ffff"
    escaped = json.dumps({"type": "message", "id": "abcdefgh", "body": body})
    assert "\\ud83d\\ude00" in escaped  # JSON spells the pair; it parses whole
    assert parse(escaped, "visitor")["body"] == body
