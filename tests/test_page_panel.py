"""The "Live chat" panel of a page, edited in the page editor."""

import pytest
from bs4 import BeautifulSoup
from django.core.cache import cache

from example_site.home.models import StandardPage
from tests.test_admin_chatflow import errors_of, rendered_form
from wagtail_livechat.models import Chatflow, Inbox, UrlRule

pytestmark = pytest.mark.django_db

FORM_ID = "page-edit-form"


def ask(client, page, path=None):
    params = {"url": "https://example.com" + (path or page.url), "page": page.pk}
    response = client.get("/livechat/config/", params)
    assert response.status_code == 200, response.content
    return response.json()["chatflow"]


def edit_url(page):
    return f"/admin/pages/{page.pk}/edit/"


@pytest.fixture
def pricing(demo):
    return StandardPage.objects.get(slug="pricing")


@pytest.fixture
def forced(demo, django_capture_on_commit_callbacks):
    """A published chatflow whose own rules show it nowhere."""
    chatflow = Chatflow(
        name="Pricing chat", inbox=Inbox.objects.get(name="Support"), team_name="Pricing team"
    )
    chatflow.url_rules = [UrlRule(kind="exclude", operator="all")]
    chatflow.save()
    with django_capture_on_commit_callbacks(execute=True):
        chatflow.save_revision().publish()
    return chatflow


def edit_page(client, page, commit, publish=True, **changes):
    data, _ = rendered_form(client.get(edit_url(page)).content.decode(), FORM_ID)
    data.update(changes)
    if publish:
        data["action-publish"] = "action-publish"
    with commit(execute=True):
        return client.post(edit_url(page), data)


def test_page_editor_shows_the_live_chat_panel(admin_client, pricing):
    response = admin_client.get(edit_url(pricing))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Live chat" in html
    data, names = rendered_form(html, FORM_ID)
    assert {"livechat_mode", "livechat_chatflow"} <= names
    assert data["livechat_mode"] == "inherit"
    form = BeautifulSoup(html, "html.parser").find("form", id=FORM_ID)
    modes = {
        o["value"]: o.get_text(strip=True)
        for o in form.find("select", attrs={"name": "livechat_mode"}).find_all("option")
    }
    assert modes == {
        "inherit": "Follow the chatflows' targeting rules",
        "chatflow": "Always show a specific chatflow",
        "off": "No chat on this page",
    }
    # the chatflow is chosen with the snippet chooser
    assert form.find("input", attrs={"name": "livechat_chatflow"})["type"] == "hidden"
    assert "/admin/snippets/choose/wagtail_livechat/chatflow/" in html


def test_mode_off_hides_the_chat_on_that_page_only(
    admin_client, client, pricing, django_capture_on_commit_callbacks
):
    assert ask(client, pricing)["heading"]["name"] == "Example team"
    response = edit_page(
        admin_client, pricing, django_capture_on_commit_callbacks, livechat_mode="off"
    )
    assert response.status_code == 302, errors_of(response)
    pricing.refresh_from_db()
    assert pricing.livechat_mode == "off"
    assert ask(client, pricing) is None
    # other pages still follow the rules
    assert ask(client, StandardPage.objects.get(slug="about")) is not None
    # back to inherit
    edit_page(admin_client, pricing, django_capture_on_commit_callbacks, livechat_mode="inherit")
    assert ask(client, pricing)["heading"]["name"] == "Example team"


def test_forced_chatflow_shows_on_that_page(
    admin_client, client, pricing, forced, django_capture_on_commit_callbacks
):
    assert ask(client, pricing)["id"] != forced.pk
    response = edit_page(
        admin_client,
        pricing,
        django_capture_on_commit_callbacks,
        livechat_mode="chatflow",
        livechat_chatflow=str(forced.pk),
    )
    assert response.status_code == 302, errors_of(response)
    payload = ask(client, pricing)
    assert payload["id"] == forced.pk
    assert payload["heading"]["name"] == "Pricing team"
    # the forced chatflow's own exclusions do not matter on that page ...
    assert ask(client, pricing, path="/pricing/?anything=1")["id"] == forced.pk
    # ... and it does not show anywhere else
    about = StandardPage.objects.get(slug="about")
    assert ask(client, about)["heading"]["name"] == "Example team"


def test_forced_chatflow_that_is_unpublished_gives_nothing(
    admin_client, client, pricing, forced, django_capture_on_commit_callbacks
):
    edit_page(
        admin_client,
        pricing,
        django_capture_on_commit_callbacks,
        livechat_mode="chatflow",
        livechat_chatflow=str(forced.pk),
    )
    assert ask(client, pricing)["id"] == forced.pk
    with django_capture_on_commit_callbacks(execute=True):
        forced.unpublish()
    # not the chatflow the rules would pick: nothing
    assert ask(client, pricing) is None
    with django_capture_on_commit_callbacks(execute=True):
        forced.save_revision().publish()
    assert ask(client, pricing)["id"] == forced.pk


def test_forced_chatflow_that_was_never_published_gives_nothing(
    admin_client, client, pricing, django_capture_on_commit_callbacks
):
    draft = Chatflow.objects.create(
        name="Draft chat", inbox=Inbox.objects.get(name="Sales"), team_name="D", live=False
    )
    response = edit_page(
        admin_client,
        pricing,
        django_capture_on_commit_callbacks,
        livechat_mode="chatflow",
        livechat_chatflow=str(draft.pk),
    )
    assert response.status_code == 302, errors_of(response)
    assert ask(client, pricing) is None


def test_forced_mode_needs_a_chatflow(
    admin_client, client, pricing, django_capture_on_commit_callbacks
):
    revisions = pricing.revisions.count()
    response = edit_page(
        admin_client,
        pricing,
        django_capture_on_commit_callbacks,
        livechat_mode="chatflow",
        livechat_chatflow="",
    )
    assert response.status_code == 200
    assert "Choose the chatflow to show." in response.content.decode()
    pricing.refresh_from_db()
    assert pricing.livechat_mode == "inherit"
    assert pricing.revisions.count() == revisions
    assert ask(client, pricing) is not None


def test_page_draft_does_not_reach_visitors(
    admin_client, client, pricing, django_capture_on_commit_callbacks
):
    response = edit_page(
        admin_client,
        pricing,
        django_capture_on_commit_callbacks,
        publish=False,
        livechat_mode="off",
    )
    assert response.status_code == 302, errors_of(response)
    pricing.refresh_from_db()
    assert pricing.has_unpublished_changes
    assert pricing.get_latest_revision_as_object().livechat_mode == "off"
    cache.clear()
    assert ask(client, pricing) is not None
