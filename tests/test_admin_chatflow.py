"""The chatflow and inbox admin, through the test client, as editors use it."""

import json
import re
from datetime import time

import pytest
from bs4 import BeautifulSoup
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.http import QueryDict
from django.urls import reverse
from wagtail.models import Locale, Site
from wagtail.test.utils.form_data import inline_formset, nested_form_data, rich_text

from example_site.home.models import ArticlePage, KnowledgeBasePage, StandardPage
from wagtail_livechat import config
from wagtail_livechat.models import Chatflow, Inbox, OfficeHours, QueryRule, UrlRule
from wagtail_livechat.targeting import QueryRule as QueryRuleData
from wagtail_livechat.targeting import Targeting
from wagtail_livechat.targeting import UrlRule as UrlRuleData
from wagtail_livechat.targeting import VisitorFilter as VisitorFilterData

pytestmark = pytest.mark.django_db

WELCOME_FEATURES = ["bold", "italic", "link"]


def url(name, *args):
    return reverse(f"wagtail_livechat_chatflows:{name}", args=args)


def inbox_url(name, *args):
    return reverse(f"wagtail_livechat_inboxes:{name}", args=args)


# -- Reading the rendered form ----------------------------------------------------------


def rendered_form(html, form_id="w-editor-form"):
    """The data a browser would submit for the form as rendered, and the names
    of all its fields (the empty formset templates apart)."""
    form = BeautifulSoup(html, "html.parser").find("form", id=form_id)
    assert form is not None, f"no form #{form_id}"
    data = QueryDict(mutable=True)
    names = set()
    for field in form.find_all(["input", "select", "textarea"]):
        name = field.get("name")
        if not name or name == "csrfmiddlewaretoken" or "__prefix__" in name:
            continue
        names.add(name)
        if field.name == "textarea":
            data[name] = field.get_text().removeprefix("\n")
        elif field.name == "select":
            chosen = field.find_all("option", selected=True)
            if not chosen and not field.has_attr("multiple"):
                chosen = field.find_all("option")[:1]
            for option in chosen:
                data.appendlist(name, option.get("value", option.get_text()))
        elif field.get("type") in ("checkbox", "radio"):
            if field.has_attr("checked"):
                data.appendlist(name, field.get("value", "on"))
        elif field.get("type") not in ("submit", "button", "file"):
            data[name] = field.get("value", "")
    return data, names


def template_names(html, form_id="w-editor-form"):
    """Names of the fields of the empty form of each inline formset."""
    form = BeautifulSoup(html, "html.parser").find("form", id=form_id)
    names = set()
    for template in form.find_all("template"):
        for field in BeautifulSoup(template.decode_contents(), "html.parser").find_all(
            ["input", "select", "textarea"]
        ):
            if "__prefix__" in field.get("name", ""):
                names.add(field["name"])
    for field in form.find_all(["input", "select", "textarea"]):
        if "__prefix__" in field.get("name", ""):
            names.add(field["name"])
    return names


def errors_of(response):
    """Form errors of a re-rendered edit view, formsets included."""
    assert response.status_code == 200, response.status_code
    form = response.context["form"]
    errors = dict(form.errors)
    for name, formset in form.formsets.items():
        for i, form_errors in enumerate(formset.errors):
            for field, messages in form_errors.items():
                errors[f"{name}-{i}-{field}"] = messages
    return errors


def ask(client, path="/", page=None, **params):
    params = {"url": "https://example.com" + path, **params}
    if page is not None:
        params["page"] = page.pk
    response = client.get("/livechat/config/", params)
    assert response.status_code == 200, response.content
    return response.json()["chatflow"]


# -- Fixtures ------------------------------------------------------------------------------


@pytest.fixture
def site(admin_client, demo, django_user_model):
    """The demo, logged in as the superuser, with a Sales team group."""
    sales = Inbox.objects.get(name="Sales")
    team = Group.objects.create(name="Sales team")
    sam = django_user_model.objects.create_user("sam", "sam@example.com", first_name="Sam")
    sam.groups.add(team)
    sales.groups.add(team)
    sales.save()
    return {
        "client": admin_client,
        "admin": django_user_model.objects.get(username="admin"),
        "sales": sales,
        "support": Inbox.objects.get(name="Support"),
        "team": team,
        "sam": sam,
        "outsider": django_user_model.objects.create_user("olivia", "olivia@example.com"),
        "website_chat": Chatflow.objects.get(name="Website chat"),
        "help": KnowledgeBasePage.objects.get(),
    }


@pytest.fixture
def image():
    from wagtail.images import get_image_model
    from wagtail.images.tests.utils import get_test_image_file

    return get_image_model().objects.create(title="Team", file=get_test_image_file())


def minimal(inbox, name="Second chat", **fields):
    """POST data for a valid chatflow with every required field."""
    data = {
        "name": name,
        "inbox": inbox.pk,
        "welcome_message": rich_text("<p>Hello</p>", features=WELCOME_FEATURES),
        "chat_type": "live_chat",
        "email_capture": "when_away",
        "email_capture_text": "Your email?",
        "owner_routing": "off",
        "url_rules": inline_formset([]),
        "query_rules": inline_formset([]),
        "visitor_filters": inline_formset([]),
        "page_subtrees": inline_formset([]),
        "heading_mode": "branding",
        "team_name": "Second team",
        "desktop_behaviour": "prompt",
        "mobile_behaviour": "launcher",
        "language": "en",
        "cookie_consent": "off",
        "data_consent": "off",
        "survey_question": "How was it?",
    }
    data.update(fields)
    return with_lists(data)


def with_lists(data):
    """``nested_form_data`` that keeps lists as several values of one field
    (a multiple select), as the test client posts them."""
    lists = {k: v for k, v in data.items() if isinstance(v, list)}
    flat = nested_form_data({k: v for k, v in data.items() if k not in lists})
    return {**flat, **lists}


def create(client, data, commit, publish=True):
    if publish:
        data = dict(data, **{"action-publish": "action-publish"})
    with commit(execute=True):
        response = client.post(url("add"), data)
    return response


# -- Create, with every field of the four tabs ---------------------------------------------


def test_create_view_renders_the_four_tabs(site):
    response = site["client"].get(url("add"))
    assert response.status_code == 200
    html = response.content.decode()
    for tab in ("Build", "Target", "Display", "Options"):
        assert f">{tab}<" in html.replace("\n", "").replace("  ", "")
    for label in ("Website URL", "Query parameters", "Visitor information and behaviour"):
        assert label in html
    _, names = rendered_form(html)
    assert {"name", "inbox", "url_rules-TOTAL_FORMS", "target_locales", "survey_question"} <= names


def test_page_types_offered_are_the_page_models(site):
    """The "page types" list offers the site's page models, not every model
    of every app (users, images, chatflows...)."""
    html = site["client"].get(url("add")).content.decode()
    field = BeautifulSoup(html, "html.parser").find(attrs={"name": "target_page_types"})
    offered = {o.get("value") for o in field.find_all(["option", "input"]) if o.get("value")}
    pages = {str(ContentType.objects.get_for_model(m).pk) for m in (ArticlePage, StandardPage)}
    assert pages <= offered
    assert str(ContentType.objects.get_for_model(Chatflow).pk) not in offered
    assert str(ContentType.objects.get_for_model(Group).pk) not in offered


def test_the_visits_filter_says_why_it_needs_a_chat_first(site):
    """Visits are counted only once a visitor has chatted (nothing is stored
    before): the Target tab says so beside the filters."""
    html = site["client"].get(url("add")).content.decode()
    assert "“Number of visits” only matches visitors who have chatted before" in html


def test_page_subtrees_are_chosen_with_wagtails_page_chooser(site):
    """Each page subtree is a row with Wagtail's page chooser (a list of
    every page of the site would be unusable, and it has no tree)."""
    from wagtail.admin.widgets import AdminPageChooser

    form_class = Chatflow.snippet_viewset.get_edit_handler().get_form_class()
    subtree_form = form_class.formsets["page_subtrees"].form
    assert isinstance(subtree_form.base_fields["page"].widget, AdminPageChooser)
    html = site["client"].get(url("add")).content.decode()
    template = BeautifulSoup(html, "html.parser").find(
        "template", id="id_page_subtrees-EMPTY_FORM_TEMPLATE"
    )
    assert template is not None
    assert 'name="page_subtrees-__prefix__-page"' in template.decode_contents()
    assert reverse("wagtailadmin_choose_page") in template.decode_contents()
    assert "target_pages" not in html


def test_create_saves_every_field_of_every_tab(
    site, image, django_capture_on_commit_callbacks, django_assert_num_queries
):
    client = site["client"]
    form_html = client.get(url("add")).content.decode()
    _, rendered = rendered_form(form_html)
    templates = template_names(form_html)

    help_root = site["help"]
    article_type = ContentType.objects.get_for_model(ArticlePage)
    default_site = Site.objects.get(is_default_site=True)
    english = Locale.objects.get(language_code="en")
    data = with_lists(
        {
            # Build
            "name": "Help centre",
            "inbox": site["sales"].pk,
            "welcome_message": rich_text(
                '<p>Need <b>help</b>? See <a href="https://example.com/faq">the FAQ</a>.</p>',
                features=WELCOME_FEATURES,
            ),
            "chat_type": "knowledge_base",
            "knowledge_base_root": help_root.pk,
            "auto_assign": "on",
            "assign_users": [site["admin"].pk, site["sam"].pk],
            "assign_groups": [site["team"].pk],
            "owner_routing": "owner_or_routing",
            "email_capture": "before_chat",
            "email_capture_text": "Where can we write to you?",
            # Target
            "url_rules": inline_formset(
                [
                    {"kind": "include", "operator": "begins_with", "value": "/help/"},
                    {"kind": "include", "operator": "wildcard", "value": "/docs/*/faq/"},
                    {"kind": "exclude", "operator": "is", "value": "/help/billing/"},
                ]
            ),
            "query_rules": inline_formset(
                [
                    {"kind": "include", "name": "utm_source", "operator": "is", "value": "help"},
                    {"kind": "exclude", "name": "nochat", "operator": "present", "value": ""},
                ]
            ),
            "visitor_filters": inline_formset(
                [
                    {"group": "1", "attribute": "device", "operator": "is", "value": "desktop"},
                    {"group": "1", "attribute": "visits", "operator": "gte", "value": "2"},
                    {"group": "2", "attribute": "language", "operator": "is", "value": "nl"},
                ]
            ),
            "page_subtrees": inline_formset([{"page": help_root.pk}]),
            "target_page_types": [article_type.pk],
            "target_sites": [default_site.pk],
            "target_locales": [english.pk],
            # Display
            "heading_mode": "agents",
            "team_name": "Help team",
            "avatar": image.pk,
            "use_team_alias": "on",
            "heading_users": [site["admin"].pk],
            "heading_groups": [site["team"].pk],
            "desktop_behaviour": "prompt_and_open",
            "trigger": "time_on_page",
            "trigger_seconds": "30",
            "trigger_scroll_percent": "50",
            "mobile_behaviour": "prompt",
            # Options
            "language": "nl",
            "cookie_consent": "before_chat",
            "cookie_consent_text": "Mag dit een cookie zetten?",
            "data_consent": "explicit",
            "data_consent_text": "We bewaren wat u schrijft.",
            "communication_consent": "on",
            "subscription_type": "Nieuwsbrief",
            "communication_consent_label": "Stuur me de nieuwsbrief",
            "feedback_survey": "on",
            "survey_question": "Hoe was dit gesprek?",
        }
    )
    # Every field the form renders is posted, and nothing it does not render.
    posted = set(data)
    expanded_templates = {
        name.replace("__prefix__", str(i)) for name in templates for i in range(3)
    }
    assert rendered <= posted, rendered - posted
    assert posted <= rendered | expanded_templates | {
        "auto_assign",
        "use_team_alias",
        "communication_consent",
        "feedback_survey",
    }, posted - rendered - expanded_templates

    site["website_chat"].unpublish()
    response = create(client, data, django_capture_on_commit_callbacks)
    assert response.status_code == 302, errors_of(response)
    assert response["Location"] == url("list")

    c = Chatflow.objects.get(name="Help centre")
    # Build
    assert c.inbox == site["sales"]
    assert re.fullmatch(
        r'<p data-block-key="\w+">Need <b>help</b>\? See '
        r'<a href="https://example\.com/faq">the FAQ</a>\.</p>',
        c.welcome_message,
    ), c.welcome_message
    assert c.chat_type == "knowledge_base"
    assert c.knowledge_base_root_id == help_root.pk
    assert c.auto_assign is True
    assert set(c.assign_users.all()) == {site["admin"], site["sam"]}
    assert list(c.assign_groups.all()) == [site["team"]]
    assert c.owner_routing == "owner_or_routing"
    assert c.email_capture == "before_chat"
    assert c.email_capture_text == "Where can we write to you?"
    # Target
    assert [(r.kind, r.operator, r.value) for r in c.url_rules.all()] == [
        ("include", "begins_with", "/help/"),
        ("include", "wildcard", "/docs/*/faq/"),
        ("exclude", "is", "/help/billing/"),
    ]
    assert [(r.kind, r.name, r.operator, r.value) for r in c.query_rules.all()] == [
        ("include", "utm_source", "is", "help"),
        ("exclude", "nochat", "present", ""),
    ]
    assert [(f.group, f.attribute, f.operator, f.value) for f in c.visitor_filters.all()] == [
        (1, "device", "is", "desktop"),
        (1, "visits", "gte", "2"),
        (2, "language", "is", "nl"),
    ]
    assert [s.page_id for s in c.page_subtrees.all()] == [help_root.pk]
    assert list(c.target_page_types.all()) == [article_type]
    assert list(c.target_sites.all()) == [default_site]
    assert list(c.target_locales.all()) == [english]
    # Display
    assert c.heading_mode == "agents"
    assert c.team_name == "Help team"
    assert c.avatar == image
    assert c.use_team_alias is True
    assert list(c.heading_users.all()) == [site["admin"]]
    assert list(c.heading_groups.all()) == [site["team"]]
    assert c.desktop_behaviour == "prompt_and_open"
    assert c.trigger == "time_on_page"
    assert c.trigger_seconds == 30
    assert c.trigger_scroll_percent == 50
    assert c.mobile_behaviour == "prompt"
    # Options
    assert c.language == "nl"
    assert c.cookie_consent == "before_chat"
    assert c.cookie_consent_text == "Mag dit een cookie zetten?"
    assert c.data_consent == "explicit"
    assert c.data_consent_text == "We bewaren wat u schrijft."
    assert c.communication_consent is True
    assert c.subscription_type == "Nieuwsbrief"
    assert c.communication_consent_label == "Stuur me de nieuwsbrief"
    assert c.feedback_survey is True
    assert c.survey_question == "Hoe was dit gesprek?"
    # Published, with its revision, last in priority
    assert c.live and not c.has_unpublished_changes
    assert c.revisions.count() == 1
    assert c.live_revision == c.latest_revision
    assert c.sort_order > site["website_chat"].sort_order

    # What the widget gets follows all of it.
    compiled = config.snapshot().by_id[c.pk]
    assert compiled.targeting == Targeting(
        include_urls=(
            UrlRuleData("begins_with", "/help/"),
            UrlRuleData("wildcard", "/docs/*/faq/"),
        ),
        include_queries=(QueryRuleData("utm_source", "is", "help"),),
        exclude_urls=(UrlRuleData("is", "/help/billing/"),),
        exclude_queries=(QueryRuleData("nochat", "present", ""),),
        filter_groups=(
            (VisitorFilterData("device", "is", "desktop"), VisitorFilterData("visits", "gte", "2")),
            (VisitorFilterData("language", "is", "nl"),),
        ),
        page_subtrees=frozenset({help_root.pk}),
        page_types=frozenset({"home.articlepage"}),
        sites=frozenset({default_site.pk}),
        locales=frozenset({"en"}),
    )
    article = ArticlePage.objects.get(slug="getting-started")
    payload = ask(client, "/help/getting-started/", article, device="desktop", visits=2)
    assert payload["id"] == c.pk
    assert payload["lang"] == "nl"
    assert payload["kb"] is True
    assert payload["welcome"].startswith("<p")
    assert 'href="https://example.com/faq"' in payload["welcome"]
    # The "specific users" heading shows them: the team name, avatar and
    # alias stored from the custom branding do not apply (issue 8).
    assert payload["heading"]["alias"] is False
    assert payload["heading"]["avatar"] is None and payload["heading"]["name"] == ""
    assert sorted(a["name"] for a in payload["heading"]["agents"]) == ["Alex", "Sam"]
    assert payload["desktop"] == {
        "behaviour": "prompt_and_open",
        "trigger": "time_on_page",
        "seconds": 30,
        "scroll": 50,
    }
    assert payload["mobile"] == "prompt"
    assert payload["email"] == {"when": "before_chat", "text": "Where can we write to you?"}
    assert payload["cookieConsent"] == {"mode": "before_chat", "text": "Mag dit een cookie zetten?"}
    assert payload["dataConsent"] == {"mode": "explicit", "text": "We bewaren wat u schrijft."}
    assert payload["subscribe"] == {"type": "Nieuwsbrief", "label": "Stuur me de nieuwsbrief"}
    assert payload["survey"] == "Hoe was dit gesprek?"
    assert payload["strings"]["send"] != ""
    assert ask(client, "/help/getting-started/", article, device="mobile", visits=2) is None
    assert ask(client, "/help/getting-started/", article, device="mobile", lang="nl") == payload
    assert ask(client, "/help/billing/", ArticlePage.objects.get(slug="billing"), lang="nl") is None
    assert ask(client, "/help/", help_root, lang="nl") is None  # not an article
    assert ask(client, "/help/getting-started/?nochat", article, lang="nl") is None


def test_create_as_draft_is_not_live(site, django_capture_on_commit_callbacks):
    response = create(
        site["client"], minimal(site["sales"]), django_capture_on_commit_callbacks, publish=False
    )
    assert response.status_code == 302
    draft = Chatflow.objects.get(name="Second chat")
    assert not draft.live
    assert draft.revisions.count() == 1
    assert draft.pk not in config.snapshot().by_id


# -- Edit, publish, unpublish ---------------------------------------------------------------


def test_edit_view_shows_the_stored_values(site):
    chatflow = site["website_chat"]
    response = site["client"].get(url("edit", chatflow.pk))
    assert response.status_code == 200
    data, _ = rendered_form(response.content.decode())
    assert data["name"] == "Website chat"
    assert data["team_name"] == "Example team"
    assert data["chat_type"] == "knowledge_base"
    assert data["knowledge_base_root"] == str(site["help"].pk)
    assert data["url_rules-TOTAL_FORMS"] == "2"
    assert data["url_rules-INITIAL_FORMS"] == "2"
    assert (data["url_rules-1-kind"], data["url_rules-1-operator"]) == ("exclude", "is")
    assert data["url_rules-1-value"] == "/privacy-policy/"
    assert data["page_subtrees-TOTAL_FORMS"] == "0"  # nothing chosen


def test_edit_saves_a_draft_then_publishes(site, django_capture_on_commit_callbacks):
    client, chatflow = site["client"], site["website_chat"]
    edit = url("edit", chatflow.pk)
    data, _ = rendered_form(client.get(edit).content.decode())
    data["team_name"] = "Renamed team"
    data["url_rules-1-value"] = "/pricing/"  # exclude pricing instead of the privacy policy
    assert ask(client, "/pricing/")["heading"]["name"] == "Example team"

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(edit, data)
    assert response.status_code == 302, errors_of(response)
    chatflow.refresh_from_db()
    assert chatflow.team_name == "Example team"  # the row is the published version
    assert chatflow.has_unpublished_changes
    assert chatflow.get_latest_revision_as_object().team_name == "Renamed team"
    assert ask(client, "/pricing/")["heading"]["name"] == "Example team"
    assert ask(client, "/privacy-policy/") is None

    # the edit view shows the draft
    data, _ = rendered_form(client.get(edit).content.decode())
    assert data["team_name"] == "Renamed team"
    data["action-publish"] = "action-publish"
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(edit, data)
    assert response.status_code == 302, errors_of(response)
    chatflow.refresh_from_db()
    assert chatflow.team_name == "Renamed team"
    assert not chatflow.has_unpublished_changes
    assert [r.value for r in chatflow.url_rules.all()] == ["", "/pricing/"]
    assert ask(client, "/pricing/") is None
    assert ask(client, "/privacy-policy/")["heading"]["name"] == "Renamed team"


def test_publish_a_draft_created_chatflow(site, django_capture_on_commit_callbacks):
    client = site["client"]
    site["website_chat"].unpublish()
    create(client, minimal(site["sales"]), django_capture_on_commit_callbacks, publish=False)
    chatflow = Chatflow.objects.get(name="Second chat")
    assert ask(client, "/") is None
    data, _ = rendered_form(client.get(url("edit", chatflow.pk)).content.decode())
    data["action-publish"] = "action-publish"
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url("edit", chatflow.pk), data)
    assert response.status_code == 302, errors_of(response)
    chatflow.refresh_from_db()
    assert chatflow.live
    assert ask(client, "/")["id"] == chatflow.pk


def test_unpublish(site, django_capture_on_commit_callbacks):
    client, chatflow = site["client"], site["website_chat"]
    assert ask(client, "/")["id"] == chatflow.pk
    confirm = client.get(url("unpublish", chatflow.pk))
    assert confirm.status_code == 200
    assert "Website chat" in confirm.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url("unpublish", chatflow.pk))
    assert response.status_code == 302
    chatflow.refresh_from_db()
    assert not chatflow.live
    assert ask(client, "/") is None


def test_history_and_revisions(site, django_capture_on_commit_callbacks):
    client, chatflow = site["client"], site["website_chat"]
    first_revision = chatflow.latest_revision
    edit = url("edit", chatflow.pk)
    data, _ = rendered_form(client.get(edit).content.decode())
    data["team_name"] = "Second version"
    data["action-publish"] = "action-publish"
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(edit, data).status_code == 302
    chatflow.refresh_from_db()
    assert chatflow.revisions.count() == 2

    history = client.get(url("history", chatflow.pk))
    assert history.status_code == 200
    results = client.get(reverse("wagtail_livechat_chatflows:history_results", args=[chatflow.pk]))
    assert results.status_code == 200
    assert results.content.decode().count("Published") >= 1

    # an old revision previews with its own values
    old = client.get(url("revisions_view", chatflow.pk, first_revision.pk))
    assert old.status_code == 200
    assert "Example team" in old.content.decode()
    assert "Second version" not in old.content.decode()

    # reverting shows the old values in the editor, and publishing them restores them
    revert = url("revisions_revert", chatflow.pk, first_revision.pk)
    data, _ = rendered_form(client.get(revert).content.decode())
    assert data["team_name"] == "Example team"
    data["action-publish"] = "action-publish"
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(revert, data).status_code == 302
    chatflow.refresh_from_db()
    assert chatflow.team_name == "Example team"
    assert chatflow.revisions.count() == 3
    assert ask(client, "/")["heading"]["name"] == "Example team"


def test_lock_and_unlock(site, django_user_model):
    client, chatflow = site["client"], site["website_chat"]
    assert client.post(url("lock", chatflow.pk)).status_code == 302
    chatflow.refresh_from_db()
    assert chatflow.locked
    assert chatflow.locked_by == site["admin"]

    # another editor cannot save over the lock
    other = django_user_model.objects.create_superuser("other", "other@example.com", "pw")
    from django.test import Client

    other_client = Client()
    other_client.force_login(other)
    edit = url("edit", chatflow.pk)
    data, _ = rendered_form(client.get(edit).content.decode())
    data["team_name"] = "Hijacked"
    data["action-publish"] = "action-publish"
    response = other_client.post(edit, data)
    chatflow.refresh_from_db()
    assert chatflow.team_name == "Example team"
    assert not chatflow.revisions.filter(content__team_name="Hijacked").exists()
    assert response.status_code in (200, 302)

    assert client.post(url("unlock", chatflow.pk)).status_code == 302
    chatflow.refresh_from_db()
    assert not chatflow.locked
    response = other_client.post(edit, data)
    assert response.status_code == 302
    chatflow.refresh_from_db()
    assert chatflow.team_name == "Hijacked"


# -- Form errors, with nothing stored ---------------------------------------------------------


def _assert_nothing_stored(before):
    assert Chatflow.objects.count() == before["chatflows"]
    assert UrlRule.objects.count() == before["rules"]
    assert QueryRule.objects.count() == before["queries"]


def _counts():
    return {
        "chatflows": Chatflow.objects.count(),
        "rules": UrlRule.objects.count(),
        "queries": QueryRule.objects.count(),
    }


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"kind": "include", "operator": "is", "value": ""}, "Enter a value."),
        ({"kind": "include", "operator": "wildcard", "value": "/blog/"}, "at least one *"),
        ({"kind": "include", "operator": "wildcard", "value": "*"}, "only *"),
        ({"kind": "exclude", "operator": "begins_with", "value": "blog/"}, "Start with /"),
        ({"kind": "include", "operator": "contains", "value": "two words"}, "spaces"),
        ({"kind": "include", "operator": "regex", "value": "/a/"}, "Select a valid choice"),
    ],
)
def test_bad_url_rules_are_refused(site, django_capture_on_commit_callbacks, rule, message):
    before = _counts()
    data = minimal(
        site["sales"],
        url_rules=inline_formset([{"kind": "include", "operator": "is", "value": "/ok/"}, rule]),
        query_rules=inline_formset([{"kind": "include", "name": "a", "operator": "present"}]),
    )
    response = create(site["client"], data, django_capture_on_commit_callbacks)
    errors = errors_of(response)
    field = "url_rules-1-operator" if rule["operator"] == "regex" else "url_rules-1-value"
    assert message in " ".join(errors[field])
    assert "url_rules-0-value" not in errors
    _assert_nothing_stored(before)


def test_bad_rules_on_edit_store_nothing(site, django_capture_on_commit_callbacks):
    client, chatflow = site["client"], site["website_chat"]
    edit = url("edit", chatflow.pk)
    data, _ = rendered_form(client.get(edit).content.decode())
    data["url_rules-1-value"] = "/privacy policy/"
    data["visitor_filters-TOTAL_FORMS"] = "1"
    data.update(
        {
            "visitor_filters-0-group": "1",
            "visitor_filters-0-attribute": "device",
            "visitor_filters-0-operator": "begins_with",
            "visitor_filters-0-value": "mob",
            "visitor_filters-0-ORDER": "0",
        }
    )
    data["action-publish"] = "action-publish"
    revisions = chatflow.revisions.count()
    response = client.post(edit, data)
    errors = errors_of(response)
    assert "spaces" in " ".join(errors["url_rules-1-value"])
    assert "does not apply" in " ".join(errors["visitor_filters-0-operator"])
    chatflow.refresh_from_db()
    assert chatflow.revisions.count() == revisions
    assert [r.value for r in chatflow.url_rules.all()] == ["", "/privacy-policy/"]
    assert not chatflow.visitor_filters.exists()


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ({"kind": "include", "name": "", "operator": "is", "value": "x"}, "name", ""),
        ({"kind": "include", "name": "a b", "operator": "is", "value": "x"}, "name", "single word"),
        (
            {"kind": "include", "name": "utm", "operator": "is", "value": ""},
            "value",
            "Enter a value",
        ),
    ],
)
def test_bad_query_rules_are_refused(
    site, django_capture_on_commit_callbacks, query, field, message
):
    before = _counts()
    data = minimal(site["sales"], query_rules=inline_formset([query]))
    errors = errors_of(create(site["client"], data, django_capture_on_commit_callbacks))
    assert message in " ".join(errors[f"query_rules-0-{field}"])
    _assert_nothing_stored(before)


def test_knowledge_base_needs_three_live_pages(site, django_capture_on_commit_callbacks):
    client = site["client"]
    about = StandardPage.objects.get(slug="about")
    before = _counts()
    data = minimal(site["sales"], chat_type="knowledge_base", knowledge_base_root=about.pk)
    errors = errors_of(create(client, data, django_capture_on_commit_callbacks))
    assert "at least 3 live pages" in " ".join(errors["knowledge_base_root"])
    data = minimal(site["sales"], chat_type="knowledge_base", knowledge_base_root="")
    errors = errors_of(create(client, data, django_capture_on_commit_callbacks))
    assert "root page" in " ".join(errors["knowledge_base_root"])
    _assert_nothing_stored(before)

    # Help has three live articles; with one unpublished it has too few
    help_root = site["help"]
    ArticlePage.objects.get(slug="billing").unpublish()
    data = minimal(site["sales"], chat_type="knowledge_base", knowledge_base_root=help_root.pk)
    errors = errors_of(create(client, data, django_capture_on_commit_callbacks))
    assert "at least 3 live pages" in " ".join(errors["knowledge_base_root"])
    ArticlePage.objects.get(slug="billing").save_revision().publish()
    response = create(client, data, django_capture_on_commit_callbacks)
    assert response.status_code == 302, errors_of(response)
    assert Chatflow.objects.get(name="Second chat").knowledge_base_root_id == help_root.pk


def test_assignment_only_to_inbox_members(site, django_capture_on_commit_callbacks):
    client = site["client"]
    before = _counts()
    other_group = Group.objects.create(name="Strangers")
    data = minimal(
        site["sales"],
        auto_assign="on",
        assign_users=[site["sam"].pk, site["outsider"].pk],
        assign_groups=[site["team"].pk, other_group.pk],
    )
    errors = errors_of(create(client, data, django_capture_on_commit_callbacks))
    assert "olivia is not" in " ".join(errors["assign_users"])
    assert "sam" not in " ".join(errors["assign_users"])
    assert "Strangers is not" in " ".join(errors["assign_groups"])
    _assert_nothing_stored(before)

    # Sam is a member of Sales through the team, not of Support
    data = minimal(site["support"], assign_users=[site["sam"].pk])
    errors = errors_of(create(client, data, django_capture_on_commit_callbacks))
    assert "sam is not" in " ".join(errors["assign_users"])
    _assert_nothing_stored(before)

    data = minimal(site["sales"], assign_users=[site["sam"].pk], assign_groups=[site["team"].pk])
    assert create(client, data, django_capture_on_commit_callbacks).status_code == 302
    assert list(Chatflow.objects.get(name="Second chat").assign_users.all()) == [site["sam"]]


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"team_name": ""}, "team_name", "team name"),
        ({"heading_mode": "agents"}, "heading_users", "at least one user or group"),
        ({"desktop_behaviour": "prompt_and_open"}, "trigger", "what opens the chat"),
        ({"trigger": "time_on_page"}, "trigger_seconds", "number of seconds"),
        ({"trigger": "scroll"}, "trigger_scroll_percent", "percentage"),
        ({"trigger": "scroll", "trigger_scroll_percent": "101"}, "trigger_scroll_percent", ""),
        ({"communication_consent": "on"}, "subscription_type", "subscription type"),
        ({"communication_consent": "on"}, "communication_consent_label", "checkbox label"),
        ({"feedback_survey": "on", "survey_question": ""}, "survey_question", ""),
    ],
)
def test_cross_field_checks(site, django_capture_on_commit_callbacks, fields, field, message):
    before = _counts()
    data = minimal(site["sales"], **fields)
    errors = errors_of(create(site["client"], data, django_capture_on_commit_callbacks))
    assert field in errors
    assert message in " ".join(errors[field])
    _assert_nothing_stored(before)


# -- Preview ------------------------------------------------------------------------------------


def test_preview_on_create(site):
    client = site["client"]
    preview = url("preview_on_add")
    data = minimal(site["support"], team_name="Preview team", language="fr")
    response = client.post(preview, data)
    assert response.json() == {"is_valid": True, "is_available": True}
    page = client.get(preview, {"mode": "mobile"})
    assert page.status_code == 200
    html = page.content.decode()
    soup = BeautifulSoup(html, "html.parser")
    boot = json.loads(soup.find("script", id="wagtail-livechat").string)
    assert boot["config"] == "/livechat/config/"
    chatflow = boot["chatflow"]
    assert chatflow["heading"]["name"] == "Preview team"
    assert chatflow["color"] == "#0a7d5a"  # the Support inbox's colour
    assert chatflow["lang"] == "fr"
    assert chatflow["preview"] is True
    assert chatflow["online"] in (True, False)
    assert '<html lang="fr">' in html
    assert not Chatflow.objects.filter(name="Second chat").exists()


def test_preview_on_edit_shows_unsaved_changes(site):
    client, chatflow = site["client"], site["website_chat"]
    edit_html = client.get(url("edit", chatflow.pk)).content.decode()
    data, _ = rendered_form(edit_html)
    data["team_name"] = "Not saved yet"
    preview = url("preview_on_edit", chatflow.pk)
    assert client.post(preview, data).json() == {"is_valid": True, "is_available": True}
    html = client.get(preview, {"mode": "desktop"}).content.decode()
    assert 'id="wagtail-livechat"' in html
    assert "Not saved yet" in html
    chatflow.refresh_from_db()
    assert chatflow.team_name == "Example team"
    # invalid data is reported, and the last valid preview stays available
    data["url_rules-1-value"] = "no slash"
    assert client.post(preview, data).json() == {"is_valid": False, "is_available": True}


# -- Inboxes ------------------------------------------------------------------------------------


def test_inbox_create_with_office_hours(site, django_capture_on_commit_callbacks):
    client = site["client"]
    form_html = client.get(inbox_url("add")).content.decode()
    _, rendered = rendered_form(form_html)
    data = with_lists(
        {
            "name": "Night desk",
            "users": [site["admin"].pk],
            "groups": [site["team"].pk],
            "time_zone": "Asia/Tokyo",
            "office_hours": inline_formset(
                [
                    {"weekday": "0", "opens": "09:00", "closes": "17:00"},
                    {"weekday": "4", "opens": "22:00", "closes": "02:00"},
                ]
            ),
            "away_message": "We sleep.",
            "accent_color": "#aa00ff",
            "launcher_position": "left",
        }
    )
    assert rendered <= set(data), rendered - set(data)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(inbox_url("add"), data)
    assert response.status_code == 302, errors_of(response)
    inbox = Inbox.objects.get(name="Night desk")
    assert inbox.hours_table() == [(0, time(9), time(17)), (4, time(22), time(2))]
    assert inbox.time_zone == "Asia/Tokyo"
    assert (inbox.accent_color, inbox.launcher_position) == ("#aa00ff", "left")
    assert inbox.away_message == "We sleep."
    assert set(inbox.members()) == {site["admin"], site["sam"]}


def test_inbox_refuses_bad_hours_and_colour(site):
    before = (Inbox.objects.count(), OfficeHours.objects.count())
    data = nested_form_data(
        {
            "name": "Bad",
            "time_zone": "UTC",
            "office_hours": inline_formset([{"weekday": "0", "opens": "09:00", "closes": "09:00"}]),
            "away_message": "Away",
            "accent_color": "blue",
            "launcher_position": "right",
        }
    )
    response = site["client"].post(inbox_url("add"), data)
    errors = errors_of(response)
    assert "must differ" in " ".join(errors["office_hours-0-closes"])
    assert "accent_color" in errors
    assert (Inbox.objects.count(), OfficeHours.objects.count()) == before


# -- Priority --------------------------------------------------------------------------------


def listed_names(client):
    listing = BeautifulSoup(client.get(url("list")).content, "html.parser")
    return [row.select_one("td a").get_text(strip=True) for row in listing.select("table tbody tr")]


def test_reorder_changes_which_chatflow_shows(site, django_capture_on_commit_callbacks):
    client, first = site["client"], site["website_chat"]
    create(client, minimal(site["support"], name="Second chat"), django_capture_on_commit_callbacks)
    second = Chatflow.objects.get(name="Second chat")
    assert ask(client, "/pricing/")["id"] == first.pk

    response = client.post(url("reorder", second.pk) + "?position=0")
    assert response.status_code == 200
    assert response.json() == {"success": True}
    first.refresh_from_db()
    second.refresh_from_db()
    assert second.sort_order < first.sort_order
    assert ask(client, "/pricing/")["id"] == second.pk
    # the privacy policy is excluded by the first only
    assert ask(client, "/privacy-policy/")["id"] == second.pk
    assert listed_names(client) == ["Second chat", "Website chat"]

    client.post(url("reorder", second.pk) + "?position=1")
    assert ask(client, "/pricing/")["id"] == first.pk
    assert listed_names(client) == ["Website chat", "Second chat"]


def test_publishing_an_old_draft_keeps_the_priority(site, django_capture_on_commit_callbacks):
    """The priority belongs to the chatflow, not to a revision: publishing a
    draft saved before a reorder does not undo the reorder."""
    client, first = site["client"], site["website_chat"]
    create(client, minimal(site["support"]), django_capture_on_commit_callbacks)
    second = Chatflow.objects.get(name="Second chat")
    edit = url("edit", second.pk)
    data, _ = rendered_form(client.get(edit).content.decode())
    data["team_name"] = "Drafted before the reorder"
    assert client.post(edit, data).status_code == 302  # a draft

    client.post(url("reorder", second.pk) + "?position=0")
    assert ask(client, "/pricing/")["id"] == second.pk

    data, _ = rendered_form(client.get(edit).content.decode())
    data["action-publish"] = "action-publish"
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(edit, data).status_code == 302
    first.refresh_from_db()
    second.refresh_from_db()
    assert second.team_name == "Drafted before the reorder"
    assert second.sort_order < first.sort_order
    assert ask(client, "/pricing/")["id"] == second.pk


def test_chatflow_created_outside_the_admin_gets_a_priority(site):
    assert site["website_chat"].sort_order is not None  # made by load_demo
    last = Chatflow.objects.create(name="Script", inbox=site["sales"])
    assert last.sort_order > site["website_chat"].sort_order


# -- Permissions ---------------------------------------------------------------------------------


@pytest.fixture
def editor(django_user_model, demo):
    """A Wagtail user who may add and change chatflows, but not publish."""
    from django.test import Client

    user = django_user_model.objects.create_user("editor", "editor@example.com", "pw")
    group = Group.objects.create(name="Chat editors")
    group.permissions.add(
        Permission.objects.get(codename="access_admin"),
        Permission.objects.get(codename="add_chatflow"),
        Permission.objects.get(codename="change_chatflow"),
    )
    user.groups.add(group)
    client = Client()
    client.force_login(user)
    return client


def _refused(response):
    # Wagtail's admin answers a permission error with a redirect to the
    # dashboard (or a 403 for JSON endpoints).
    assert response.status_code in (302, 403), response.status_code
    if response.status_code == 302:
        assert response["Location"] in (
            "/admin/",
            "/admin/login/?next=" + response.request["PATH_INFO"],
        )


def test_user_without_permissions_is_refused(demo, django_user_model, client):
    chatflow = Chatflow.objects.get(name="Website chat")
    nobody = django_user_model.objects.create_user("nobody", "nobody@example.com", "pw")
    nobody.user_permissions.add(Permission.objects.get(codename="access_admin"))
    client.force_login(nobody)
    sales = Inbox.objects.get(name="Sales")
    before = _counts()
    for response in (
        client.get(url("list")),
        client.get(url("add")),
        client.post(url("add"), dict(minimal(sales), **{"action-publish": "1"})),
        client.get(url("edit", chatflow.pk)),
        client.post(url("unpublish", chatflow.pk)),
        client.post(url("lock", chatflow.pk)),
        client.post(url("reorder", chatflow.pk) + "?position=0"),
        client.post(url("preview_on_add"), minimal(sales)),
        client.get(inbox_url("add")),
        client.post(inbox_url("delete", sales.pk)),
    ):
        _refused(response)
    _assert_nothing_stored(before)
    chatflow.refresh_from_db()
    assert chatflow.live and not chatflow.locked
    assert Inbox.objects.filter(pk=sales.pk).exists()


def test_anonymous_is_sent_to_the_login(demo, client):
    response = client.get(url("add"))
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_editor_without_publish_permission_cannot_publish_or_reorder(
    editor, django_capture_on_commit_callbacks
):
    first = Chatflow.objects.get(name="Website chat")
    sales = Inbox.objects.get(name="Sales")
    second = Chatflow.objects.create(name="Second", inbox=sales, team_name="T", live=True)
    assert ask(editor, "/pricing/")["id"] == first.pk

    # may save a draft, and publishing only saves a draft
    with django_capture_on_commit_callbacks(execute=True):
        response = editor.post(url("add"), dict(minimal(sales), **{"action-publish": "1"}))
    assert response.status_code == 302
    assert not Chatflow.objects.get(name="Second chat").live

    # but may not change the priority of what visitors see
    response = editor.post(url("reorder", second.pk) + "?position=0")
    assert response.status_code in (302, 403)
    second.refresh_from_db()
    first.refresh_from_db()
    assert first.sort_order < second.sort_order
    assert ask(editor, "/pricing/")["id"] == first.pk

    # with the publish permission, they may
    Group.objects.get(name="Chat editors").permissions.add(
        Permission.objects.get(codename="publish_chatflow")
    )
    response = editor.post(url("reorder", second.pk) + "?position=0")
    assert response.json() == {"success": True}
    assert ask(editor, "/pricing/")["id"] == second.pk
