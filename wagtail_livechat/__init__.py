"""A self-hosted live chat for Wagtail sites."""

__version__ = "0.1.0"


def identify(email: str, name: str = "", external_id: str = "", max_age: int | None = None) -> str:
    """A signed, expiring token by which the site vouches for a visitor
    (see :func:`wagtail_livechat.identity.identify` and docs/identification.md)."""
    from .identity import identify as make_token

    return make_token(email, name, external_id, max_age)
