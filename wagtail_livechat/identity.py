"""The visitor's identity cookie: a random key, signed by the server."""

from django.core import signing

from .conf import conf

SALT = "wagtail_livechat.visitor"


def sign(key: str) -> str:
    return signing.Signer(salt=SALT).sign(key)


def unsign(value: str | None) -> str | None:
    """The visitor key of a cookie value, or None if it is missing or forged."""
    if not value or len(value) > 200:
        return None
    try:
        return signing.Signer(salt=SALT).unsign(value)
    except signing.BadSignature:
        return None


def set_cookie(response, key: str, secure: bool) -> None:
    response.set_cookie(
        conf.VISITOR_COOKIE,
        sign(key),
        max_age=conf.VISITOR_MAX_AGE,
        httponly=True,
        samesite="Lax",
        secure=secure,
    )


CONFIRM_SALT = "wagtail_livechat.confirm"
CONFIRM_MAX_AGE = 3 * 24 * 60 * 60


def confirmation_token(visitor_id: int, contact_id: int) -> str:
    """What the link mailed to a typed address carries: signed and dated."""
    return signing.dumps([visitor_id, contact_id], salt=CONFIRM_SALT, compress=True)


def read_confirmation(token: str) -> tuple[int, int] | None:
    """``(visitor id, contact id)`` of a genuine link less than three days old."""
    if len(token) > 200:
        return None
    try:
        visitor_id, contact_id = signing.loads(token, salt=CONFIRM_SALT, max_age=CONFIRM_MAX_AGE)
    except (signing.BadSignature, ValueError, TypeError):
        return None
    if not all(isinstance(v, int) for v in (visitor_id, contact_id)):
        return None
    return visitor_id, contact_id
