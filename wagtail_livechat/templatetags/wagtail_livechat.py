"""``{% load wagtail_livechat %}{% livechat %}``: the widget's loader.

It renders the same bytes for every visitor of a page and runs no query: the
page id comes from the template context, URLs from ``reverse`` and ``static``.
"""

from django import template

from ..config import boot_data

register = template.Library()


@register.inclusion_tag("wagtail_livechat/tag.html", takes_context=True)
def livechat(context):
    return {"boot": boot_data(context.get("page"))}
