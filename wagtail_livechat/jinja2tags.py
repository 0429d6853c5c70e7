"""Jinja2 support: ``{% livechat %}`` (and ``{{ livechat() }}``).

Add ``"wagtail_livechat.jinja2tags.livechat"`` to the Jinja2 environment's
``extensions``. As in Django templates, ``{% livechat nonce=csp_nonce %}``
(or ``{{ livechat(nonce=csp_nonce) }}``) passes a Content-Security-Policy
nonce; without it, the page's nonce is used where the page uses one already.
"""

from django.template.loader import render_to_string
from jinja2 import nodes
from jinja2.ext import Extension
from jinja2.utils import pass_context
from markupsafe import Markup

from .templatetags.wagtail_livechat import loader_context


@pass_context
def _livechat(context, nonce=None, identity=None):
    html = render_to_string("wagtail_livechat/tag.html", loader_context(context, nonce, identity))
    return Markup(html)  # noqa: S704  (rendered by Django's escaping template)


class LivechatExtension(Extension):
    tags = {"livechat"}

    def __init__(self, environment):
        super().__init__(environment)
        environment.globals["livechat"] = _livechat

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        kwargs = []
        while parser.stream.current.type != "block_end":
            if kwargs:
                parser.stream.expect("comma")
            key = parser.stream.expect("name")
            if key.value not in ("nonce", "identity"):
                parser.fail(f"{{% livechat %}} takes no argument {key.value!r}", key.lineno)
            parser.stream.expect("assign")
            kwargs.append(nodes.Keyword(key.value, parser.parse_expression()))
        call = nodes.Call(nodes.Name("livechat", "load"), [], kwargs, None, None)
        return nodes.Output([call], lineno=lineno)


livechat = LivechatExtension
