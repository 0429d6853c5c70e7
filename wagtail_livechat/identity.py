"""The visitor's identity cookie: a random key, signed by the server."""

from dataclasses import dataclass

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


# -- Visitors the site vouches for -----------------------------------------

IDENTIFY_SALT = "wagtail_livechat.identify"
MAX_TOKEN_LENGTH = 2000


@dataclass(frozen=True)
class Claims:
    """Who the site says a visitor is."""

    email: str
    name: str = ""
    external_id: str = ""


def identify(email: str, name: str = "", external_id: str = "", max_age: int | None = None) -> str:
    """A token by which the site vouches for a visitor: signed with the
    site's ``SECRET_KEY`` and dated, it is refused once ``max_age`` seconds
    old (default ``WAGTAIL_LIVECHAT_IDENTIFY_MAX_AGE``). Put it only in pages
    rendered for that user (``{% livechat identity=token %}`` or
    ``WagtailLivechat.identify(token)``), never in a page a cache may serve
    to someone else."""
    email = (email or "").strip()
    if not email:
        raise ValueError("identify() needs an email address.")
    max_age = conf.IDENTIFY_MAX_AGE if max_age is None else int(max_age)
    payload = {"e": email, "n": name or "", "x": str(external_id or ""), "a": max_age}
    return signing.TimestampSigner(salt=IDENTIFY_SALT).sign_object(payload, compress=True)


def read_identity(token) -> Claims | None:
    """The claims of a genuine, unexpired token; None for anything else."""
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    signer = signing.TimestampSigner(salt=IDENTIFY_SALT)
    try:
        payload = signer.unsign_object(token)
        # The age the site chose travels signed inside the token.
        signer.unsign(token, max_age=int(payload["a"]))
        email, name, external_id = payload["e"], payload["n"], payload["x"]
    except (signing.BadSignature, ValueError, TypeError, KeyError):
        return None
    if not all(isinstance(v, str) for v in (email, name, external_id)):
        return None
    return Claims(email.strip(), name.strip()[:150], external_id.strip()[:255])


def user_claims(user) -> Claims | None:
    """What ``WAGTAIL_LIVECHAT_IDENTIFY_USERS`` vouches for: a logged-in
    Django user with an email address."""
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    email = getattr(user, "email", "") or ""
    if not email:
        return None
    return Claims(email, user.get_full_name() or user.get_username(), str(user.pk))


def claims_for(token, user) -> Claims | None:
    """Who a visitor is as the site vouches: a token first, else (with
    ``WAGTAIL_LIVECHAT_IDENTIFY_USERS``) the logged-in user."""
    claims = read_identity(token) if token else None
    if claims is None and conf.IDENTIFY_USERS:
        claims = user_claims(user)
    return claims
