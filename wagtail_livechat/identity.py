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
