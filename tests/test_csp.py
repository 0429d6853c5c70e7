"""Content-Security-Policy nonces in ``{% livechat %}`` (Django templates and
Jinja2), and the example site's policy (its browser tests: tests/browser/test_csp.py)."""

import re
import secrets

import pytest
from django.template import Context, Template, TemplateSyntaxError, engines
from django.test import RequestFactory
from django.utils.functional import SimpleLazyObject, empty
from jinja2 import TemplateSyntaxError as JinjaSyntaxError

pytestmark = pytest.mark.django_db

LOADER = re.compile(
    r'<script src="/static/wagtail_livechat/livechat.js"(?: nonce="(?P<nonce>[^"]*)")? defer>'
)


def nonce_of(html):
    found = LOADER.search(html)
    assert found, html
    return found.group("nonce")


def lazy_nonce(request):
    """A nonce made when first read, kept on the request: django-csp's
    ``request.csp_nonce`` (and the shape of Django 6.0's ``LazyNonce``)."""

    def make():
        request._csp_nonce = secrets.token_urlsafe(16)
        return request._csp_nonce

    request.csp_nonce = SimpleLazyObject(make)
    return request.csp_nonce


def render(source, **context):
    return Template("{% load wagtail_livechat %}" + source).render(Context(context))


def render_jinja(source, **context):
    return engines["jinja2"].from_string(source).render(context)


def test_no_nonce_without_a_policy(demo):
    request = RequestFactory().get("/")
    assert nonce_of(render("{% livechat %}", page=demo, request=request)) is None
    assert nonce_of(render("{% livechat %}")) is None
    assert nonce_of(render_jinja("{% livechat %}", page=demo, request=request)) is None


def test_a_nonce_the_page_has_not_used_is_not_made(demo):
    """A lazy nonce nobody read stays unmade: the page keeps the same bytes
    for everyone (the site's policy may well have no nonce)."""
    request = RequestFactory().get("/")
    nonce = lazy_nonce(request)
    first = render("{% livechat %}", page=demo, request=request)
    assert nonce_of(first) is None
    assert nonce_of(render_jinja("{% livechat %}", page=demo, request=request)) is None
    assert nonce._wrapped is empty
    assert not hasattr(request, "_csp_nonce")
    other = RequestFactory().get("/")
    lazy_nonce(other)
    assert render("{% livechat %}", page=demo, request=other) == first


def test_the_nonce_the_page_uses_is_put_on_the_loader(demo):
    request = RequestFactory().get("/")
    nonce = lazy_nonce(request)
    head = render("<script nonce='{{ request.csp_nonce }}'></script>", request=request)
    assert request._csp_nonce in head  # the page's head made it
    assert nonce_of(render("{% livechat %}", page=demo, request=request)) == request._csp_nonce
    assert nonce_of(render_jinja("{% livechat %}", page=demo, request=request)) == str(nonce)
    assert nonce_of(render_jinja("{{ livechat() }}", request=request)) == str(nonce)


def test_a_plain_string_nonce_is_used(demo):
    """A site's own middleware that sets the nonce it put in the header."""
    request = RequestFactory().get("/")
    request.csp_nonce = "abc123"
    assert nonce_of(render("{% livechat %}", request=request)) == "abc123"
    assert nonce_of(render_jinja("{% livechat %}", request=request)) == "abc123"


def test_the_nonce_can_be_passed(demo):
    """Where the tag is the first to use it: ``nonce=`` makes it."""
    request = RequestFactory().get("/")
    nonce = lazy_nonce(request)
    html = render("{% livechat nonce=request.csp_nonce %}", request=request)
    assert nonce_of(html) == request._csp_nonce == str(nonce)
    request = RequestFactory().get("/")
    nonce = lazy_nonce(request)
    assert nonce_of(render_jinja("{% livechat nonce=request.csp_nonce %}", request=request)) == str(
        nonce
    )
    assert nonce_of(render_jinja("{{ livechat(nonce='n0nce') }}")) == "n0nce"
    # and "" turns a nonce the page uses off
    request.csp_nonce = "abc123"
    assert nonce_of(render('{% livechat nonce="" %}', request=request)) is None
    assert nonce_of(render_jinja('{% livechat nonce="" %}', request=request)) is None


def test_the_nonce_is_escaped():
    html = render("{% livechat nonce=n %}", n='x"><script>alert(1)</script>')
    assert "<script>alert" not in html
    assert 'nonce="x&quot;&gt;&lt;script&gt;' in html


def test_djangos_context_processor_nonce(demo):
    """Django 6.0's ``csp`` context processor: ``csp_nonce``, a ``LazyNonce``."""
    csp = pytest.importorskip("django.utils.csp", reason="Django 6.0 and later")
    nonce = csp.LazyNonce()
    assert nonce_of(render("{% livechat %}", csp_nonce=nonce)) is None
    assert not nonce  # still unmade
    value = str(nonce)  # the page uses it
    assert nonce_of(render("{% livechat %}", csp_nonce=nonce)) == value
    assert nonce_of(render_jinja("{% livechat %}", csp_nonce=nonce)) == value


def test_djangos_middleware_nonce(demo):
    """Django 6.0's middleware keeps a ``LazyNonce`` as ``request._csp_nonce``."""
    csp = pytest.importorskip("django.utils.csp", reason="Django 6.0 and later")
    request = RequestFactory().get("/")
    request._csp_nonce = csp.LazyNonce()
    assert nonce_of(render("{% livechat %}", request=request)) is None
    value = str(request._csp_nonce)
    assert nonce_of(render("{% livechat %}", request=request)) == value


def test_jinja_tag_takes_only_a_nonce():
    with pytest.raises(JinjaSyntaxError, match="no argument 'page'"):
        engines["jinja2"].env.from_string("{% livechat page=1 %}")


def test_django_tag_takes_only_a_nonce():
    with pytest.raises(TemplateSyntaxError):
        Template("{% load wagtail_livechat %}{% livechat page=1 %}")


def test_livechat_nonce_tag():
    request = RequestFactory().get("/")
    request.csp_nonce = "abc123"
    assert render("{% livechat_nonce as n %}[{{ n }}]", request=request) == "[abc123]"
    assert render("{% livechat_nonce as n %}[{{ n }}]") == "[]"


# -- The example site's policy ----------------------------------------------------------

STRICT = "default-src 'self'; style-src 'self'; script-src 'self'"


def test_the_example_site_enforces_the_policy_it_claims(client, admin_client, demo):
    """What the browser tests rely on: the public pages, the inbox and the
    chatflow preview under the strict policy; Wagtail's other admin views
    exempt; ``?csp=nonce``, in the test settings, a nonce-based policy whose
    nonce the page's loader carries."""
    for path in ["/", "/pricing/?utm_source=ads", "/jinja/", "/livechat/confirm/x/"]:
        assert client.get(path).headers["Content-Security-Policy"] == STRICT, path
    assert admin_client.get("/admin/livechat/").headers["Content-Security-Policy"] == STRICT
    for path in ["/admin/login/", "/admin/", "/admin/livechat/chatflows/"]:
        assert "Content-Security-Policy" not in client.get(path).headers, path

    response = client.get("/?csp=nonce")
    policy = response.headers["Content-Security-Policy"]
    nonce = re.search(r"script-src 'nonce-([\w-]{16,})' 'strict-dynamic'", policy).group(1)
    assert nonce_of(response.content.decode()) == nonce
    again = client.get("/?csp=nonce")
    assert nonce not in again.headers["Content-Security-Policy"]  # new with each response
    # the strict pages carry no nonce: the same bytes for everyone
    assert client.get("/").content == client.get("/").content
