"""GET /livechat/config/: which chatflow the widget shows, answered from the cache."""

import json
from datetime import time
from unittest import mock

import pytest
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.db.models import F
from django.test import override_settings
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from example_site.home.models import HomePage, StandardPage
from wagtail_livechat import config, memo
from wagtail_livechat.models import (
    Chatflow,
    ConfigGeneration,
    Inbox,
    OfficeHours,
    PageSubtree,
    QueryRule,
    UrlRule,
    VisitorFilter,
)

pytestmark = pytest.mark.django_db

ENDPOINT = "/livechat/config/"
SITE = "https://example.com"

# Queries of a cold request: the snapshot of the published chatflows (the
# chatflows with their inboxes, then one prefetch each for URL rules, query
# rules, visitor filters, page subtrees, page types, sites, locales, office
# hours, heading users and heading groups) ...
COLD_SNAPSHOT_QUERIES = 11
# ... and the facts of the page (the page, two for its site, its ancestors,
# the two fields of its "Live chat" panel).
COLD_PAGE_QUERIES = 6
# The config generation, read from the database (then at most once a
# WAGTAIL_LIVECHAT_CONFIG_CHECK_EVERY, and after this process's own changes).
GENERATION_QUERIES = 1
# Whether the chosen chatflow's inbox is online (the inbox, its office hours,
# its members, their availability), held per process for memo.TTL seconds.
ONLINE_QUERIES = 4


def ask(client, path="/", page=None, **params):
    params = {"url": SITE + path, **params}
    if page is not None:
        params["page"] = page.pk if hasattr(page, "pk") else page
    return client.get(ENDPOINT, params)


def chatflow_of(response):
    assert response.status_code == 200, response.content
    return response.json()["chatflow"]


def page(slug):
    return StandardPage.objects.get(slug=slug)


@pytest.fixture
def website_chat(demo):
    return Chatflow.objects.get(name="Website chat")


def publish(obj, commit):
    """Publish a chatflow's current state as a new revision, as the admin does."""
    with commit(execute=True):
        obj.save_revision().publish()


# -- What the demo answers -------------------------------------------------------------


def test_home_gets_the_demo_chatflow(client, demo, website_chat):
    payload = chatflow_of(ask(client, "/", demo))
    assert payload["id"] == website_chat.pk
    assert payload["heading"]["name"] == "Example team"
    assert payload["kb"] is True
    assert payload["lang"] == "en"
    # The Sales inbox has no hours (always open), but no agent is connected.
    assert payload["online"] is False
    assert payload["welcome"] == "<p>Hi! How can we help you today?</p>"
    assert payload["strings"]["send"] == "Send"


def test_privacy_policy_gets_no_chat(client, demo):
    assert chatflow_of(ask(client, "/privacy-policy/", page("privacy-policy"))) is None
    # the exclusion is a URL rule: it holds without a page id, and without the slash
    assert chatflow_of(ask(client, "/privacy-policy")) is None
    assert chatflow_of(ask(client, "/pricing/", page("pricing"))) is not None


def test_url_without_page_id_is_answered(client, demo, website_chat):
    assert chatflow_of(ask(client, "/some/django/view/"))["id"] == website_chat.pk


def test_response_is_never_stored_and_sets_no_cookie(client, demo):
    for response in (ask(client, "/", demo), ask(client, "/privacy-policy/")):
        assert response["Cache-Control"] == "no-store"
        assert response["Content-Type"] == "application/json"
        assert not response.cookies
        assert "Set-Cookie" not in response.headers
    refused = client.get(ENDPOINT, {"url": "javascript:alert(1)"})
    assert refused.status_code == 400
    assert not refused.cookies


def test_logged_in_admin_gets_no_cookie_either(admin_client, demo):
    response = ask(admin_client, "/", demo)
    assert chatflow_of(response) is not None
    assert not response.cookies


def test_only_get(client, demo):
    assert client.post(ENDPOINT, {"url": SITE + "/"}).status_code == 405


# -- Publishing decides ------------------------------------------------------------------


def test_unpublishing_switches_the_chat_off_at_once(
    client, demo, website_chat, django_capture_on_commit_callbacks
):
    assert chatflow_of(ask(client, "/", demo)) is not None
    with django_capture_on_commit_callbacks(execute=True):
        website_chat.unpublish()
    assert chatflow_of(ask(client, "/", demo)) is None
    assert chatflow_of(ask(client, "/pricing/")) is None


def test_draft_changes_do_not_reach_visitors_until_published(
    client, demo, website_chat, django_capture_on_commit_callbacks
):
    chatflow_of(ask(client, "/", demo))  # warm the cache
    website_chat.team_name = "Draft team"
    website_chat.url_rules.add(UrlRule(kind="exclude", operator="is", value="/"))
    with django_capture_on_commit_callbacks(execute=True):
        revision = website_chat.save_revision()
    assert Chatflow.objects.get(pk=website_chat.pk).has_unpublished_changes
    # invalidated, rebuilt from the published row: still the old chatflow
    cache.clear()
    assert chatflow_of(ask(client, "/", demo))["heading"]["name"] == "Example team"
    with django_capture_on_commit_callbacks(execute=True):
        revision.publish()
    assert chatflow_of(ask(client, "/", demo)) is None  # the new exclusion
    assert chatflow_of(ask(client, "/pricing/"))["heading"]["name"] == "Draft team"


def test_a_chatflow_never_published_is_not_shown(client, demo, website_chat):
    inbox = Inbox.objects.get(name="Support")
    draft = Chatflow(name="Draft", inbox=inbox, team_name="Draft", live=False)
    draft.save()
    draft.save_revision()
    website_chat.unpublish()
    cache.clear()
    assert chatflow_of(ask(client, "/", demo)) is None


# -- Query counts --------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _generation_row(db):
    """The generation's row, as any site has it after its first change (a
    test database flushed by an earlier test may have lost it)."""
    ConfigGeneration.objects.get_or_create(pk=1, defaults={"value": 1})


def test_cold_and_warm_query_counts(client, demo, django_assert_num_queries):
    with django_assert_num_queries(
        GENERATION_QUERIES + COLD_SNAPSHOT_QUERIES + COLD_PAGE_QUERIES + ONLINE_QUERIES
    ):
        assert chatflow_of(ask(client, "/", demo)) is not None
    with django_assert_num_queries(0):
        assert chatflow_of(ask(client, "/", demo)) is not None
    # another page: only its facts are read (and Wagtail has cached the
    # root paths of the sites by now, one query less)
    pricing = page("pricing")
    with django_assert_num_queries(COLD_PAGE_QUERIES - 1):
        assert chatflow_of(ask(client, "/pricing/", pricing)) is not None
    with django_assert_num_queries(0):
        assert chatflow_of(ask(client, "/pricing/", pricing)) is not None
    with django_assert_num_queries(0):
        assert chatflow_of(ask(client, "/not-a-page/")) is not None


def test_cold_request_without_page_reads_only_the_snapshot(client, demo, django_assert_num_queries):
    with django_assert_num_queries(GENERATION_QUERIES + COLD_SNAPSHOT_QUERIES + ONLINE_QUERIES):
        assert chatflow_of(ask(client, "/x/")) is not None


def test_snapshot_query_count_does_not_grow_with_chatflows(
    client, demo, website_chat, django_assert_num_queries
):
    sales = Inbox.objects.get(name="Sales")
    for n in range(4):
        chatflow = Chatflow(name=f"Extra {n}", inbox=sales, team_name="T", live=True)
        chatflow.url_rules = [UrlRule(kind="include", operator="is", value=f"/extra-{n}/")]
        chatflow.query_rules = [QueryRule(kind="exclude", name="x", operator="present")]
        chatflow.visitor_filters = [VisitorFilter(attribute="device", value="mobile")]
        chatflow.save()
        chatflow.heading_users.add(*sales.users.all())
        chatflow.save()
    cache.clear()
    with django_assert_num_queries(GENERATION_QUERIES + COLD_SNAPSHOT_QUERIES + ONLINE_QUERIES):
        chatflow_of(ask(client, "/y/"))
    assert len(config.snapshot().chatflows) == 5


def test_warm_request_of_a_logged_in_user_costs_nothing(
    admin_client, demo, django_assert_num_queries
):
    """No published chatflow filters on "logged in": the session is not read."""
    ask(admin_client, "/", demo)
    with django_assert_num_queries(0):
        assert chatflow_of(ask(admin_client, "/", demo)) is not None


def test_unknown_page_is_cached_too(client, demo, django_assert_num_queries):
    ask(client, "/", page=987654)
    with django_assert_num_queries(0):
        response = ask(client, "/", page=987654)
    assert response.status_code == 400
    assert response.json()["error"] == "unknown_page"


# -- Invalidation -----------------------------------------------------------------------------


def test_saving_a_chatflow_invalidates(
    client, demo, website_chat, django_capture_on_commit_callbacks
):
    assert chatflow_of(ask(client, "/", demo))["heading"]["name"] == "Example team"
    website_chat.team_name = "New team"
    publish(website_chat, django_capture_on_commit_callbacks)
    assert chatflow_of(ask(client, "/", demo))["heading"]["name"] == "New team"


def test_saving_an_inbox_invalidates(
    client, demo, website_chat, django_capture_on_commit_callbacks
):
    assert chatflow_of(ask(client, "/", demo))["color"] == "#2e5bff"
    sales = Inbox.objects.get(name="Sales")
    sales.accent_color = "#123456"
    sales.launcher_position = "left"
    with django_capture_on_commit_callbacks(execute=True):
        sales.save()
    payload = chatflow_of(ask(client, "/", demo))
    assert (payload["color"], payload["position"]) == ("#123456", "left")


def test_saving_office_hours_invalidates(
    client, demo, website_chat, django_capture_on_commit_callbacks
):
    # A member's agent socket is open (what AgentConsumer marks).
    memo.agent_present(Inbox.objects.get(name="Sales").members().first().pk)
    assert chatflow_of(ask(client, "/", demo))["online"] is True
    sales = Inbox.objects.get(name="Sales")
    not_today = (timezone.now().weekday() + 3) % 7
    with django_capture_on_commit_callbacks(execute=True):
        hours = OfficeHours.objects.create(
            inbox=sales, weekday=not_today, opens=time(9), closes=time(17)
        )
    assert chatflow_of(ask(client, "/", demo))["online"] is False
    with django_capture_on_commit_callbacks(execute=True):
        hours.delete()
    assert chatflow_of(ask(client, "/", demo))["online"] is True


def test_saving_or_deleting_a_rule_invalidates(
    client, demo, website_chat, django_capture_on_commit_callbacks
):
    assert chatflow_of(ask(client, "/pricing/")) is not None
    with django_capture_on_commit_callbacks(execute=True):
        rule = UrlRule.objects.create(
            chatflow=website_chat, kind="exclude", operator="begins_with", value="/pricing"
        )
    assert chatflow_of(ask(client, "/pricing/")) is None
    with django_capture_on_commit_callbacks(execute=True):
        rule.value = "/other"
        rule.save()
    assert chatflow_of(ask(client, "/pricing/")) is not None
    with django_capture_on_commit_callbacks(execute=True):
        VisitorFilter.objects.create(
            chatflow=website_chat, attribute="device", operator="is", value="mobile"
        )
    assert chatflow_of(ask(client, "/pricing/", device="desktop")) is None
    assert chatflow_of(ask(client, "/pricing/", device="mobile")) is not None
    with django_capture_on_commit_callbacks(execute=True):
        QueryRule.objects.create(
            chatflow=website_chat, kind="exclude", name="nochat", operator="present"
        )
    assert chatflow_of(ask(client, "/pricing/?nochat=1", device="mobile")) is None
    with django_capture_on_commit_callbacks(execute=True):
        UrlRule.objects.filter(chatflow=website_chat, kind="exclude").delete()
    assert chatflow_of(ask(client, "/privacy-policy/", device="mobile")) is not None


def test_changing_a_chatflow_m2m_invalidates(
    client, demo, website_chat, django_capture_on_commit_callbacks
):
    from django.contrib.contenttypes.models import ContentType

    from example_site.home.models import ArticlePage

    assert chatflow_of(ask(client, "/pricing/", page("pricing"))) is not None
    with django_capture_on_commit_callbacks(execute=True):
        website_chat.target_page_types.set([ContentType.objects.get_for_model(ArticlePage)])
        website_chat.save()
    assert chatflow_of(ask(client, "/pricing/", page("pricing"))) is None


def test_adding_a_page_subtree_invalidates(
    client, demo, website_chat, django_capture_on_commit_callbacks
):
    assert chatflow_of(ask(client, "/pricing/", page("pricing"))) is not None
    with django_capture_on_commit_callbacks(execute=True):
        PageSubtree.objects.create(chatflow=website_chat, page=page("about"))
    assert chatflow_of(ask(client, "/pricing/", page("pricing"))) is None
    assert chatflow_of(ask(client, "/about/", page("about"))) is not None


def test_publishing_a_page_invalidates(client, demo, django_capture_on_commit_callbacks):
    assert chatflow_of(ask(client, "/", demo)) is not None
    home = HomePage.objects.get()
    home.livechat_mode = "off"
    with django_capture_on_commit_callbacks(execute=True):
        home.save_revision().publish()
    assert chatflow_of(ask(client, "/", demo)) is None
    # the URL alone (a view that is no page) still follows the rules
    assert chatflow_of(ask(client, "/")) is not None


def test_unpublishing_a_page_makes_it_unknown(client, demo, django_capture_on_commit_callbacks):
    pricing = page("pricing")
    assert chatflow_of(ask(client, "/pricing/", pricing)) is not None
    with django_capture_on_commit_callbacks(execute=True):
        pricing.unpublish()
    response = ask(client, "/pricing/", pricing)
    assert response.status_code == 400
    assert response.json()["error"] == "unknown_page"


def test_invalidation_waits_for_the_commit(client, demo, django_capture_on_commit_callbacks):
    """A request during the transaction cannot cache a half-saved chatflow."""
    ask(client, "/", demo)
    gen = config.generation()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        Inbox.objects.filter(name="Sales").get().save()
    assert config.generation() == gen
    assert callbacks
    for callback in callbacks:
        callback()
    assert config.generation() != gen


def test_invalidate_survives_a_lost_generation_row(db):
    gen = config.generation()
    config.invalidate()
    assert config.generation() == gen + 1
    ConfigGeneration.objects.all().delete()
    config.invalidate()
    assert config.generation() > gen + 1


def test_a_change_made_in_another_process_is_seen(client, demo):
    """A management command, Wagtail's publish_scheduled or a second server
    process change the config: this process sees it at its next check, not
    at its next own save (its cache may be its own)."""
    assert chatflow_of(ask(client, "/", demo)) is not None
    # Another process unpublishes every chatflow and bumps the generation;
    # nothing of it runs here.
    with mock.patch.object(config, "invalidate"):
        Chatflow.objects.update(live=False)
    ConfigGeneration.objects.update(value=F("value") + 1)
    assert chatflow_of(ask(client, "/", demo)) is not None  # not checked yet
    with override_settings(WAGTAIL_LIVECHAT_CONFIG_CHECK_EVERY=0):
        config._seen = (0.0, config._seen[1])  # the check is due
        assert chatflow_of(ask(client, "/", demo)) is None


# -- Page targeting through the endpoint ----------------------------------------------------


def test_wagtail_targets_use_the_page_facts(
    client, demo, website_chat, django_capture_on_commit_callbacks
):
    from django.contrib.contenttypes.models import ContentType
    from wagtail.models import Locale, Site

    from example_site.home.models import ArticlePage, KnowledgeBasePage

    help_root = KnowledgeBasePage.objects.get()
    article = ArticlePage.objects.first()
    with django_capture_on_commit_callbacks(execute=True):
        website_chat.page_subtrees = [PageSubtree(page=help_root)]
        website_chat.target_page_types.set([ContentType.objects.get_for_model(ArticlePage)])
        website_chat.target_sites.set([Site.objects.get(is_default_site=True)])
        website_chat.target_locales.set([Locale.objects.get(language_code="en")])
        website_chat.save()
    assert chatflow_of(ask(client, article.url, article)) is not None
    assert chatflow_of(ask(client, "/help/", help_root)) is None  # not an article
    assert chatflow_of(ask(client, "/", demo)) is None  # outside the subtree
    assert chatflow_of(ask(client, article.url)) is None  # no page: no page facts
    with django_capture_on_commit_callbacks(execute=True):
        website_chat.target_locales.set([Locale.objects.create(language_code="fr")])
        website_chat.save()
    assert chatflow_of(ask(client, article.url, article)) is None


def test_query_rules_work_with_the_url_the_widget_sends(
    client, demo, website_chat, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        UrlRule.objects.filter(chatflow=website_chat).delete()
        QueryRule.objects.create(
            chatflow=website_chat, kind="include", name="utm_source", operator="is", value="ads"
        )
    pricing = page("pricing")
    assert chatflow_of(ask(client, "/pricing/", pricing)) is None
    assert chatflow_of(ask(client, "/pricing/?utm_source=ads", pricing)) is not None
    assert chatflow_of(ask(client, "/pricing/?a=1&utm_source=ads#x", pricing)) is not None
    assert chatflow_of(ask(client, "/pricing/?utm_source=adsense", pricing)) is None
    # the endpoint's own query string does not count, only the page's URL
    response = client.get(ENDPOINT, {"url": SITE + "/pricing/", "utm_source": "ads"})
    assert chatflow_of(response) is None


def test_visitor_facts_from_the_widget(
    client, demo, website_chat, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        VisitorFilter.objects.create(
            chatflow=website_chat, group=1, attribute="language", operator="is", value="nl"
        )
        VisitorFilter.objects.create(
            chatflow=website_chat, group=1, attribute="visits", operator="gte", value="3"
        )
        VisitorFilter.objects.create(
            chatflow=website_chat,
            group=2,
            attribute="referrer",
            operator="contains",
            value="google",
        )
    assert chatflow_of(ask(client, "/", lang="nl-BE", visits=3)) is not None
    assert chatflow_of(ask(client, "/", lang="nl", visits=2)) is None
    assert chatflow_of(ask(client, "/", lang="en", visits=9)) is None
    assert chatflow_of(ask(client, "/", ref="https://www.google.com/")) is not None
    assert chatflow_of(ask(client, "/")) is None


def test_logged_in_filter(
    client, admin_client, demo, website_chat, django_capture_on_commit_callbacks
):
    from django.test import Client

    with django_capture_on_commit_callbacks(execute=True):
        rule = VisitorFilter.objects.create(
            chatflow=website_chat, attribute="logged_in", operator="is", value="yes"
        )
    assert chatflow_of(ask(admin_client, "/", demo))["id"] == website_chat.pk
    assert chatflow_of(ask(Client(), "/", demo)) is None
    with django_capture_on_commit_callbacks(execute=True):
        rule.value = "no"
        rule.save()
    assert chatflow_of(ask(admin_client, "/", demo)) is None
    assert chatflow_of(ask(Client(), "/", demo))["id"] == website_chat.pk


def test_logged_in_filter_reads_the_session_only_when_needed(
    admin_client, demo, website_chat, django_capture_on_commit_callbacks, django_assert_num_queries
):
    with django_capture_on_commit_callbacks(execute=True):
        VisitorFilter.objects.create(
            chatflow=website_chat, attribute="logged_in", operator="is", value="yes"
        )
    ask(admin_client, "/", demo)
    with django_assert_num_queries(2):  # the session and its user
        assert chatflow_of(ask(admin_client, "/", demo)) is not None


def test_page_override_forces_a_chatflow_only_while_published(
    client, demo, django_capture_on_commit_callbacks
):
    support = Inbox.objects.get(name="Support")
    forced = Chatflow(name="Forced", inbox=support, team_name="Support team", live=False)
    forced.url_rules = [UrlRule(kind="exclude", operator="all")]  # shows nowhere by itself
    forced.save()
    about = page("about")
    about.livechat_mode = "chatflow"
    about.livechat_chatflow = forced
    with django_capture_on_commit_callbacks(execute=True):
        about.save_revision().publish()
    assert chatflow_of(ask(client, "/about/", about)) is None
    with django_capture_on_commit_callbacks(execute=True):
        forced.save_revision().publish()
    assert chatflow_of(ask(client, "/about/", about))["heading"]["name"] == "Support team"
    assert chatflow_of(ask(client, "/pricing/", page("pricing")))["heading"]["name"] == (
        "Example team"
    )


# -- Nothing internal reaches the visitor ----------------------------------------------------


def test_payload_holds_no_internal_data(
    client, demo, website_chat, django_user_model, django_capture_on_commit_callbacks
):
    agent = django_user_model.objects.create_user(
        "secret_login", "secret.mail@example.com", "pw", first_name="Robin", last_name="Hidden"
    )
    grouped = django_user_model.objects.create_user(
        "group_login", "group.mail@example.com", first_name="", last_name=""
    )
    team = Group.objects.create(name="Secret group name")
    grouped.groups.add(team)
    website_chat.heading_mode = "agents"
    website_chat.auto_assign = True
    website_chat.url_rules.add(
        UrlRule(kind="exclude", operator="contains", value="/hidden-rule-value/")
    )
    website_chat.query_rules.add(QueryRule(kind="exclude", name="hidden_param", operator="present"))
    website_chat.save()
    website_chat.heading_users.set([agent])
    website_chat.heading_groups.set([team])
    website_chat.assign_users.set([agent])
    publish(website_chat, django_capture_on_commit_callbacks)

    response = ask(client, "/", demo)
    payload = chatflow_of(response)
    assert set(payload) == {
        "id",
        "lang",
        "color",
        "position",
        "welcome",
        "away",
        "kb",
        "email",
        "heading",
        "desktop",
        "mobile",
        "cookieConsent",
        "dataConsent",
        "subscribe",
        "survey",
        "strings",
        "online",
    }
    assert sorted(a["name"] for a in payload["heading"]["agents"]) == ["Agent", "Robin"]
    assert all(set(a) == {"name", "avatar"} for a in payload["heading"]["agents"])
    text = response.content.decode()
    for secret in (
        "secret_login",
        "secret.mail",
        "Hidden",
        "group_login",
        "group.mail",
        "Secret group name",
        "hidden-rule-value",
        "hidden_param",
        "privacy-policy",
        "Sales",
        "admin",
        "password",
        "knowledge_base_root",
    ):
        assert secret not in text, secret


def test_inactive_heading_users_are_not_shown(
    client, demo, website_chat, django_user_model, django_capture_on_commit_callbacks
):
    gone = django_user_model.objects.create_user("gone", first_name="Gone", is_active=False)
    here = django_user_model.objects.create_user("here", first_name="Here")
    website_chat.heading_mode = "agents"
    website_chat.save()
    website_chat.heading_users.set([gone, here])
    publish(website_chat, django_capture_on_commit_callbacks)
    agents = chatflow_of(ask(client, "/", demo))["heading"]["agents"]
    assert [a["name"] for a in agents] == ["Here"]


def test_at_most_three_heading_agents_shown(
    client, demo, website_chat, django_user_model, django_capture_on_commit_callbacks
):
    users = [
        django_user_model.objects.create_user(f"agent{n}", first_name=f"Agent {n}")
        for n in range(5)
    ]
    website_chat.heading_mode = "agents"
    website_chat.save()
    website_chat.heading_users.set(users)
    publish(website_chat, django_capture_on_commit_callbacks)
    seen = set()
    for _ in range(20):
        agents = chatflow_of(ask(client, "/", demo))["heading"]["agents"]
        assert len(agents) == 3
        assert len({a["name"] for a in agents}) == 3
        seen.update(a["name"] for a in agents)
    assert seen <= {f"Agent {n}" for n in range(5)}
    assert len(seen) > 3  # a random three, not always the same


# -- Bad questions ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "url"),
        ({"url": ""}, "url"),
        ({"url": "not a url"}, "url"),
        ({"url": "http://"}, "url"),
        ({"url": "javascript:alert(1)"}, "url"),
        ({"url": "JavaScript:alert(document.cookie)//http://x.com"}, "url"),
        ({"url": "data:text/html,<script>alert(1)</script>"}, "url"),
        ({"url": "ftp://example.com/file"}, "url"),
        ({"url": SITE + "/" + "a" * 2048}, "url"),
        ({"url": SITE + "/", "page": "abc"}, "page"),
        ({"url": SITE + "/", "page": "0"}, "page"),
        ({"url": SITE + "/", "page": "-3"}, "page"),
        ({"url": SITE + "/", "page": str(2**31)}, "page"),
        ({"url": SITE + "/", "device": "phone"}, "device"),
        ({"url": SITE + "/", "lang": "english!"}, "lang"),
        ({"url": SITE + "/", "lang": "e"}, "lang"),
        ({"url": SITE + "/", "lang": "en-" + "a" * 40}, "lang"),
        ({"url": SITE + "/", "visits": "-1"}, "visits"),
        ({"url": SITE + "/", "visits": "many"}, "visits"),
        ({"url": SITE + "/", "visits": str(10**6 + 1)}, "visits"),
        ({"url": SITE + "/", "ref": "x" * 2049}, "ref"),
    ],
)
def test_bad_questions_get_400_json(client, demo, params, field):
    response = client.get(ENDPOINT, params)
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "invalid"
    assert list(body["fields"]) == [field]
    assert response["Content-Type"] == "application/json"


def test_url_at_the_length_limit_is_accepted(client, demo):
    url = SITE + "/" + "a" * (2048 - len(SITE) - 1)
    assert len(url) == 2048
    assert chatflow_of(client.get(ENDPOINT, {"url": url})) is not None


def test_unknown_page_gets_400(client, demo):
    response = ask(client, "/", page=999999)
    assert response.status_code == 400
    assert response.json() == {"error": "unknown_page"}


def test_page_that_is_not_live_is_unknown(client, demo):
    draft = demo.add_child(instance=StandardPage(title="Draft", slug="draft", live=False))
    response = ask(client, "/draft/", draft)
    assert response.status_code == 400
    assert response.json() == {"error": "unknown_page"}


ODD_INPUTS = [
    {"url": SITE + "/\x00"},
    {"url": SITE + "/%00%ff%fe"},
    {"url": SITE + "/" + "é" * 100},
    {"url": SITE + "/?" + "&".join(f"a{n}=b" for n in range(500))},
    {"url": "http://[::1"},
    {"url": "http://[::1]:99999/"},
    {"url": "https://exa mple.com/"},
    {"url": "https://xn--/"},
    {"url": "//example.com/path"},
    {"url": "example.com/path"},
    {"url": "https://user:pass@example.com:8080/p?q#f"},
    {"url": SITE + "/", "page": "1.5"},
    {"url": SITE + "/", "page": "١٢"},
    {"url": SITE + "/", "page": "1e3"},
    {"url": SITE + "/", "visits": " 3 "},
    {"url": SITE + "/", "lang": "\u202eAR"},
    {"url": SITE + "/", "ref": "\x00\x01"},
    {"url": [SITE + "/", "javascript:x"]},
    {"url": SITE + "/", "device": ["mobile", "desktop"]},
]


@pytest.mark.parametrize("params", ODD_INPUTS)
def test_odd_inputs_never_cause_a_500(client, demo, params):
    response = client.get(ENDPOINT, params)
    assert response.status_code in (200, 400)
    body = response.json()
    assert "chatflow" in body or "error" in body


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    st.dictionaries(
        st.sampled_from(["url", "page", "device", "lang", "ref", "visits"]),
        st.one_of(
            st.text(max_size=40),
            st.integers(-(2**40), 2**40).map(str),
            st.builds(lambda s: SITE + "/" + s, st.text(max_size=40)),
        ),
    )
)
def test_fuzzed_questions_never_cause_a_500(client, demo, params):
    response = client.get(ENDPOINT, params)
    assert response.status_code in (200, 400)
    body = json.loads(response.content)
    if response.status_code == 200:
        assert response["Cache-Control"] == "no-store"
        assert set(body) == {"chatflow"}
    else:
        assert body["error"] in ("invalid", "unknown_page")


def test_heading_agents_follow_user_and_group_changes(
    client, demo, website_chat, django_user_model, django_capture_on_commit_callbacks
):
    from django.contrib.auth.models import Group

    team = Group.objects.create(name="Team")
    website_chat.heading_mode = "agents"
    website_chat.save()
    website_chat.heading_groups.set([team])
    publish(website_chat, django_capture_on_commit_callbacks)
    assert chatflow_of(ask(client, "/", demo))["heading"]["agents"] == []

    with django_capture_on_commit_callbacks(execute=True):
        kim = django_user_model.objects.create_user("kim", first_name="Kim")
        kim.groups.add(team)
    assert [a["name"] for a in chatflow_of(ask(client, "/", demo))["heading"]["agents"]] == ["Kim"]

    with django_capture_on_commit_callbacks(execute=True):
        kim.first_name = "Kimberly"
        kim.save()
    assert [a["name"] for a in chatflow_of(ask(client, "/", demo))["heading"]["agents"]] == [
        "Kimberly"
    ]


def test_a_login_does_not_invalidate(
    client, demo, django_user_model, django_capture_on_commit_callbacks
):
    from wagtail_livechat import config

    user = django_user_model.objects.create_user("lee", password="pw")
    gen = config.generation()
    with django_capture_on_commit_callbacks(execute=True):
        client.login(username="lee", password="pw")
    assert config.generation() == gen
    assert user.pk


def test_errors_are_never_stored(client, demo):
    response = client.get(ENDPOINT, {"url": "nope"})
    assert response.status_code == 400 and response["Cache-Control"] == "no-store"


def test_changing_a_site_invalidates(client, demo, django_capture_on_commit_callbacks):
    from wagtail.models import Site

    site = Site.objects.get()
    first = chatflow_of(ask(client, "/", demo))
    assert first is not None
    from wagtail_livechat import config

    gen = config.generation()
    with django_capture_on_commit_callbacks(execute=True):
        site.site_name = "Renamed"
        site.save()
    assert config.generation() != gen
