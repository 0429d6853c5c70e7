"""``{% load wagtail_livechat %}{% livechat %}``: the widget's loader.

It renders the same bytes for every visitor of a page and runs no query: the
page id comes from the template context, URLs from ``reverse`` and ``static``.
The one exception is a Content-Security-Policy nonce, on a page that uses one
(it is per response anyway): see ``csp_nonce``.
"""

from django import template
from django.utils.functional import SimpleLazyObject, empty

from ..config import boot_data

register = template.Library()


def csp_nonce(context) -> str:
    """The Content-Security-Policy nonce of this response if the page uses
    one, else "".

    Django (6.0 and later: the ``csp`` context processor's ``csp_nonce``, which
    is ``request._csp_nonce``) and django-csp (``request.csp_nonce``) make the
    nonce lazily, when something first reads it. It is taken only once the
    page has used it (a ``<script nonce>`` in its head, say), never made here:
    a site whose policy has no nonce keeps sending every visitor the same
    bytes. Where the tag comes first, pass it: ``{% livechat nonce=csp_nonce %}``.
    """
    request = context.get("request")
    for nonce in (
        context.get("csp_nonce"),
        getattr(request, "csp_nonce", None),
        getattr(request, "_csp_nonce", None),
    ):
        if isinstance(nonce, SimpleLazyObject) and nonce._wrapped is empty:
            continue  # not made yet: the page does not use it (so far)
        if nonce:
            return str(nonce)
    return ""


def loader_context(context, nonce=None, identity=None) -> dict:
    """What ``tag.html`` renders: the boot data, and the nonce (given, or the
    page's if it uses one; ``""`` for none). ``identity``: a token of
    :func:`wagtail_livechat.identify`, only in pages rendered per user."""
    boot = boot_data(context.get("page"))
    if identity:
        boot["identity"] = str(identity)
    return {
        "boot": boot,
        "nonce": csp_nonce(context) if nonce is None else str(nonce or ""),
    }


@register.inclusion_tag("wagtail_livechat/tag.html", takes_context=True)
def livechat(context, nonce=None, identity=None):
    return loader_context(context, nonce, identity)


@register.simple_tag(takes_context=True)
def livechat_nonce(context):
    """``{% livechat_nonce as nonce %}``: the nonce ``{% livechat %}`` would use."""
    return csp_nonce(context)
