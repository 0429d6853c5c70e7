"""The loader tag: ``{% livechat %}`` in Django templates and in Jinja2."""

import json
import re

import pytest
from django.contrib.auth.models import AnonymousUser
from django.template import Context, Template, engines
from django.test import Client, RequestFactory, override_settings

pytestmark = pytest.mark.django_db

BOOT = re.compile(
    r'<script id="wagtail-livechat" type="application/json">(?P<json>.*?)</script>'
    r'<script src="(?P<src>[^"]+)" defer></script>',
    re.S,
)


def boot_of(html):
    found = BOOT.search(html)
    assert found, html
    return found.group(0), json.loads(found.group("json"))


def render_django(page, request):
    template = Template("{% load wagtail_livechat %}{% livechat %}")
    return template.render(Context({"page": page, "request": request}))


def test_tag_renders_the_boot_data(demo):
    html = render_django(demo, RequestFactory().get("/"))
    snippet, boot = boot_of(html)
    assert snippet == html.strip()
    assert boot == {
        "config": "/livechat/config/",
        "visitor": "/livechat/visitor/",
        "search": "/livechat/search/",
        "upload": "/livechat/attachments/",
        "page": demo.pk,
        "chat": "/static/wagtail_livechat/chat.js",
        "ws": "/ws/livechat/",
        "defer": False,
    }
    assert BOOT.search(html).group("src") == "/static/wagtail_livechat/livechat.js"


def test_tag_without_a_page(db):
    html = Template("{% load wagtail_livechat %}{% livechat %}").render(Context({}))
    assert boot_of(html)[1]["page"] is None
    # something called "page" that is no Wagtail page is not sent either
    html = render_django({"pk": 3}, None)
    assert boot_of(html)[1]["page"] is None


@override_settings(WAGTAIL_LIVECHAT_DEFER=True)
def test_tag_follows_the_defer_setting(demo):
    assert boot_of(render_django(demo, None))[1]["defer"] is True


def test_tag_runs_no_query(demo, django_assert_num_queries):
    request = RequestFactory().get("/")
    request.user = AnonymousUser()
    with django_assert_num_queries(0):
        render_django(demo, request)


def test_tag_renders_the_same_for_every_visitor(admin_user, demo, django_assert_num_queries):
    factory = RequestFactory()
    anonymous = factory.get("/", HTTP_ACCEPT_LANGUAGE="nl", HTTP_REFERER="https://a.example/")
    anonymous.user = AnonymousUser()
    logged_in = factory.get("/?utm_source=ads", HTTP_ACCEPT_LANGUAGE="fr")
    logged_in.user = admin_user
    logged_in.COOKIES["livechat_visitor"] = "someone"
    with django_assert_num_queries(0):
        first = render_django(demo, anonymous)
        second = render_django(demo, logged_in)
    assert first == second


# -- Jinja2 ------------------------------------------------------------------------------


def test_jinja2_tag_renders_the_same_html(demo, django_assert_num_queries):
    jinja = engines["jinja2"]
    django_html = render_django(demo, None)
    with django_assert_num_queries(0):
        tag_html = jinja.from_string("{% livechat %}").render({"page": demo})
        call_html = jinja.from_string("{{ livechat() }}").render({"page": demo})
    assert tag_html == django_html
    assert call_html == django_html
    assert boot_of(jinja.from_string("{% livechat %}").render({}))[1]["page"] is None


def test_jinja_page_of_the_demo(client, demo):
    from example_site.home.models import JinjaPage

    jinja_page = JinjaPage.objects.get()
    response = client.get("/jinja/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "This page is rendered by Jinja2." in html
    snippet, boot = boot_of(html)
    assert boot["page"] == jinja_page.pk
    assert snippet == render_django(jinja_page, None).strip()


# -- Whole pages ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/pricing/", "/help/billing/", "/jinja/"])
def test_demo_pages_hold_no_per_visitor_data(admin_user, demo, path):
    anonymous = Client().get(path, HTTP_ACCEPT_LANGUAGE="de")
    assert anonymous.status_code == 200
    assert not anonymous.cookies
    assert "Set-Cookie" not in anonymous.headers
    html = anonymous.content.decode()
    assert "csrf" not in html.lower()
    assert html.count('id="wagtail-livechat"') == 1
    _snippet, boot = boot_of(html)
    assert set(boot) == {"config", "visitor", "search", "upload", "page", "chat", "ws", "defer"}

    # another anonymous visitor, and a logged-in one, get the very same bytes
    other = Client(HTTP_REFERER="https://search.example/").get(path + "?utm_source=ads")
    assert other.content == anonymous.content
    logged_in = Client()
    logged_in.force_login(admin_user)
    response = logged_in.get(path)
    assert response.content == anonymous.content
    assert "admin" not in boot_of(response.content.decode())[0]
