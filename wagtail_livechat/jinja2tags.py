"""Jinja2 support: ``{% livechat %}`` (and ``{{ livechat() }}``).

Add ``"wagtail_livechat.jinja2tags.livechat"`` to the Jinja2 environment's
``extensions``.
"""

from django.template.loader import render_to_string
from jinja2 import nodes
from jinja2.ext import Extension
from jinja2.utils import pass_context
from markupsafe import Markup

from .config import boot_data


@pass_context
def _livechat(context):
    html = render_to_string("wagtail_livechat/tag.html", {"boot": boot_data(context.get("page"))})
    return Markup(html)  # noqa: S704  (rendered by Django's escaping template)


class LivechatExtension(Extension):
    tags = {"livechat"}

    def __init__(self, environment):
        super().__init__(environment)
        environment.globals["livechat"] = _livechat

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        call = nodes.Call(nodes.Name("livechat", "load"), [], [], None, None)
        return nodes.Output([call], lineno=lineno)


livechat = LivechatExtension
