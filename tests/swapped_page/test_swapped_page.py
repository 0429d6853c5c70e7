"""The live chat on a site whose page model is its own (WAGTAIL_PAGE_MODEL).

Every path that reads pages runs here against ``swapped_page.SitePage``;
``wagtail.models.Page`` has no manager on such a site ("Manager isn't
available; 'wagtailcore.Page' has been swapped"), so a query through it fails.
"""

import json
import re
from io import StringIO

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from wagtail.models import Page, Site

from tests.livechat_factories import make_agent, make_chatflow, make_inbox
from tests.swapped_page.models import ArticlePage, SitePage
from wagtail_livechat import service
from wagtail_livechat.models import Chatflow, PageSubtree, Visitor
from wagtail_livechat.pages import page_model, page_model_name

pytestmark = pytest.mark.django_db

SITE = "http://testserver"


@pytest.fixture
def pages(db):
    """A help centre of articles under the default site's home page."""
    home = Site.objects.get(is_default_site=True).root_page
    help_root = home.add_child(instance=ArticlePage(title="Help", slug="help"))
    articles = [
        help_root.add_child(instance=ArticlePage(title=title, slug=slug, summary=summary))
        for title, slug, summary in [
            ("Resetting your password", "reset-password", "Forgot the password?"),
            ("Billing", "billing", "Invoices and payments"),
            ("Shipping", "shipping", "Where your parcel is"),
        ]
    ]
    about = home.add_child(instance=ArticlePage(title="About", slug="about"))
    return {"home": home, "help": help_root, "articles": articles, "about": about}


def config(client, page):
    response = client.get("/livechat/config/", {"url": SITE + page.url, "page": page.pk})
    assert response.status_code == 200, response.content
    return response.json()["chatflow"]


def test_the_page_model_is_the_sites_own():
    assert page_model_name() == "swapped_page.SitePage"
    assert page_model() is SitePage
    assert Page._meta.swapped == "swapped_page.SitePage"
    assert Chatflow._meta.get_field("knowledge_base_root").related_model is SitePage
    assert PageSubtree._meta.get_field("page").related_model is SitePage


def test_migrations_point_at_the_sites_page_model():
    """Our migrations name the page model through the setting: with a
    hard-coded wagtailcore.Page, makemigrations would see a change here."""
    out = StringIO()
    call_command("makemigrations", "wagtail_livechat", check=True, dry_run=True, stdout=out)
    assert "No changes detected" in out.getvalue()


def test_page_targets_and_the_page_panel(client, pages, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        chatflow = make_chatflow(make_inbox())
        chatflow.page_subtrees = [PageSubtree(page=pages["help"])]
        chatflow.target_page_types.set([ContentType.objects.get_for_model(ArticlePage)])
        chatflow.save()
    article = pages["articles"][0]
    assert config(client, article)["id"] == chatflow.pk
    assert config(client, pages["about"]) is None  # outside the subtree

    # The "Live chat" panel of a page of the site's own model.
    with django_capture_on_commit_callbacks(execute=True):
        article.livechat_mode = "off"
        article.save_revision().publish()
    assert config(client, ArticlePage.objects.get(pk=article.pk)) is None
    with django_capture_on_commit_callbacks(execute=True):
        other = make_chatflow(make_inbox(name="Support"), name="Other")
        about = pages["about"]
        about.livechat_mode = "chatflow"
        about.livechat_chatflow = other
        about.save_revision().publish()
    assert config(client, ArticlePage.objects.get(pk=about.pk))["id"] == other.pk


def test_the_tag_gives_the_widget_the_page_id(client, pages):
    article = pages["articles"][1]
    html = client.get(article.url).content.decode()
    boot = json.loads(re.search(r"<script[^>]*>(\{.*?\})</script>", html, re.S).group(1))
    assert boot["page"] == article.pk


def test_knowledge_base_search(client, pages):
    call_command("update_index", stdout=StringIO())
    chatflow = make_chatflow(
        make_inbox(), chat_type="knowledge_base", knowledge_base_root=pages["help"]
    )
    response = client.get("/livechat/search/", {"chatflow": chatflow.pk, "q": "password"})
    assert response.status_code == 200, response.content
    assert [r["title"] for r in response.json()["results"]] == ["Resetting your password"]
    response = client.get("/livechat/search/", {"chatflow": chatflow.pk, "q": "about"})
    assert response.json()["results"] == []  # not under the knowledge base


def test_agents_see_the_page_the_visitor_is_on(pages):
    visitor = Visitor.objects.create()
    article = pages["articles"][2]
    service.update_visitor_page(visitor, {"url": SITE + article.url, "id": article.pk})
    visitor.refresh_from_db()
    assert visitor.page_id == article.pk
    shown = service.visitor_page(visitor)
    assert shown["edit_url"] == f"/admin/pages/{article.pk}/edit/"
    # A page id that is not at the URL the visitor reported is not believed.
    service.update_visitor_page(visitor, {"url": SITE + article.url, "id": pages["about"].pk})
    visitor.refresh_from_db()
    assert visitor.page_id is None


def test_the_chatflow_editor_offers_the_sites_pages(client, pages):
    client.force_login(make_agent("editor", superuser=True))
    response = client.get("/admin/livechat/chatflows/add/")
    assert response.status_code == 200
    html = response.content.decode()
    for model in (SitePage, ArticlePage):
        pk = ContentType.objects.get_for_model(model).pk
        assert re.search(rf'value="{pk}"', html), model
    # The knowledge base's page chooser lists the site's pages.
    chooser = client.get("/admin/choose-page/", {"q": "Help"})
    assert chooser.status_code == 200
    assert "Help" in chooser.content.decode()
