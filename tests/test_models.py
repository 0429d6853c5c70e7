"""Model behaviour: inbox membership, rule validation, the page mixin."""

from datetime import time

import pytest
from django.contrib.auth.models import AnonymousUser, Group
from django.core.exceptions import ValidationError

from wagtail_livechat import targeting
from wagtail_livechat.models import (
    Chatflow,
    Inbox,
    OfficeHours,
    QueryRule,
    UrlRule,
    VisitorFilter,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(django_user_model):
    make = django_user_model.objects.create_user
    return {
        "direct": make("direct", "direct@example.com"),
        "grouped": make("grouped", "grouped@example.com"),
        "both": make("both", "both@example.com"),
        "inactive_direct": make("inactive_direct", is_active=False),
        "inactive_grouped": make("inactive_grouped", is_active=False),
        "outsider": make("outsider"),
        "other_group": make("other_group"),
    }


@pytest.fixture
def inbox(people):
    team = Group.objects.create(name="Team")
    other = Group.objects.create(name="Other")
    for name in ("grouped", "both", "inactive_grouped"):
        people[name].groups.add(team)
    people["other_group"].groups.add(other)
    inbox = Inbox.objects.create(name="Sales")
    inbox.users.set([people["direct"], people["both"], people["inactive_direct"]])
    inbox.groups.set([team])
    inbox.save()
    return inbox


def test_members_direct_and_through_groups_without_inactive(inbox, people):
    names = sorted(inbox.members().values_list("username", flat=True))
    assert names == ["both", "direct", "grouped"]  # each once, however reached


def test_members_of_one_inbox_only(inbox, people):
    other = Inbox.objects.create(name="Support")
    other.users.set([people["outsider"]])
    other.save()
    assert list(other.members()) == [people["outsider"]]
    assert people["outsider"] not in inbox.members()


def test_inbox_without_members():
    assert not Inbox.objects.create(name="Empty").members().exists()


def test_is_member(inbox, people):
    assert inbox.is_member(people["direct"])
    assert inbox.is_member(people["grouped"])
    assert inbox.is_member(people["both"])
    assert not inbox.is_member(people["inactive_direct"])
    assert not inbox.is_member(people["inactive_grouped"])
    assert not inbox.is_member(people["outsider"])
    assert not inbox.is_member(people["other_group"])
    assert not inbox.is_member(AnonymousUser())


def test_deactivating_a_member_removes_them(inbox, people):
    user = people["grouped"]
    user.is_active = False
    user.save()
    assert not inbox.is_member(user)
    assert user not in inbox.members()


def test_office_hours_refuse_an_empty_range():
    inbox = Inbox.objects.create(name="Desk")
    hours = OfficeHours(inbox=inbox, weekday=0, opens=time(9), closes=time(9))
    with pytest.raises(ValidationError) as caught:
        hours.full_clean()
    assert "closes" in caught.value.message_dict
    OfficeHours(inbox=inbox, weekday=0, opens=time(22), closes=time(2)).full_clean()


@pytest.mark.parametrize("colour", ["red", "#12345", "#1234567", "#GGGGGG", "123456"])
def test_inbox_refuses_a_bad_colour(colour):
    with pytest.raises(ValidationError) as caught:
        Inbox(name="X", accent_color=colour).full_clean()
    assert "accent_color" in caught.value.message_dict


def test_inbox_refuses_an_unknown_time_zone():
    with pytest.raises(ValidationError) as caught:
        Inbox(name="X", time_zone="Mars/Olympus").full_clean()
    assert "time_zone" in caught.value.message_dict
    Inbox(name="X", time_zone="America/Sao_Paulo").full_clean()


# -- Rule models -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("operator", "value", "message"),
    [
        ("is", "", "Enter a value."),
        ("is", "pricing", "Start with / for a path"),
        ("wildcard", "/blog/", "needs at least one *"),
        ("wildcard", "**", "only *"),
        ("contains", "a b", "cannot contain spaces"),
        ("begins_with", "https://", "no host"),
    ],
)
def test_url_rule_clean_refuses_bad_input(operator, value, message):
    rule = UrlRule(kind="include", operator=operator, value=value)
    with pytest.raises(ValidationError) as caught:
        rule.clean()
    assert list(caught.value.message_dict) == ["value"]
    assert message in caught.value.message_dict["value"][0]


def test_url_rule_clean_strips_the_value_and_compiles():
    rule = UrlRule(kind="exclude", operator="begins_with", value="  /blog/ ")
    rule.clean()
    assert rule.value == "/blog/"
    assert rule.compile() == targeting.UrlRule("begins_with", "/blog/")
    assert rule.description() == "Hide on URL begins with /blog/"
    UrlRule(operator="all", value="").clean()


def test_url_rule_full_clean_refuses_an_unknown_operator():
    with pytest.raises(ValidationError) as caught:
        UrlRule(kind="include", operator="regex", value="/a/").full_clean(exclude=["chatflow"])
    assert "operator" in caught.value.message_dict


@pytest.mark.parametrize(
    ("name", "operator", "value", "field", "message"),
    [
        ("", "is", "x", "name", "Enter the name"),
        ("   ", "is", "x", "name", "Enter the name"),
        ("utm source", "is", "x", "name", "single word"),
        ("utm_source", "is", "", "value", "Enter a value."),
        ("utm_source", "contains", "", "value", "Enter a value."),
    ],
)
def test_query_rule_clean_refuses_bad_input(name, operator, value, field, message):
    rule = QueryRule(kind="include", name=name, operator=operator, value=value)
    with pytest.raises(ValidationError) as caught:
        rule.clean()
    assert list(caught.value.message_dict) == [field]
    assert message in caught.value.message_dict[field][0]


def test_query_rule_clean_accepts_and_compiles():
    rule = QueryRule(kind="include", name=" utm_source ", operator="present", value="")
    rule.clean()
    assert rule.name == "utm_source"
    assert rule.compile() == targeting.QueryRule("utm_source", "present", "")


@pytest.mark.parametrize(
    ("attribute", "operator", "value", "field", "message"),
    [
        ("device", "contains", "mob", "operator", "does not apply"),
        ("visits", "begins_with", "1", "operator", "does not apply"),
        ("device", "is", "", "value", "Enter a value."),
        ("device", "is", "phone", "value", "Enter one of: desktop, tablet, mobile."),
        ("visits", "gte", "lots", "value", "whole number"),
        ("language", "is", "English", "value", "language code"),
        ("logged_in", "is", "true", "value", "Enter one of: yes, no."),
        ("contact", "is", "maybe", "value", "Enter one of: known, unknown."),
    ],
)
def test_visitor_filter_clean_refuses_bad_input(attribute, operator, value, field, message):
    rule = VisitorFilter(group=1, attribute=attribute, operator=operator, value=value)
    with pytest.raises(ValidationError) as caught:
        rule.clean()
    assert list(caught.value.message_dict) == [field]
    assert message in caught.value.message_dict[field][0]


def test_visitor_filter_clean_strips_and_compiles():
    rule = VisitorFilter(group=2, attribute="visits", operator="gte", value=" 3 ")
    rule.clean()
    assert rule.value == "3"
    assert rule.compile() == targeting.VisitorFilter("visits", "gte", "3")
    VisitorFilter(attribute="referrer", operator="is_empty", value="").clean()


def test_rules_compile_into_the_chatflow_targeting():
    from wagtail_livechat.config import compile_targeting

    inbox = Inbox.objects.create(name="Sales")
    chatflow = Chatflow(name="Rules", inbox=inbox, team_name="Team")
    chatflow.url_rules = [
        UrlRule(kind="include", operator="begins_with", value="/help/"),
        UrlRule(kind="exclude", operator="is", value="/help/secret/"),
    ]
    chatflow.query_rules = [
        QueryRule(kind="include", name="utm", operator="is", value="ads"),
        QueryRule(kind="exclude", name="nochat", operator="present"),
    ]
    chatflow.visitor_filters = [
        VisitorFilter(group=2, attribute="language", operator="is", value="nl"),
        VisitorFilter(group=1, attribute="device", operator="is", value="mobile"),
        VisitorFilter(group=1, attribute="visits", operator="gte", value="2"),
    ]
    chatflow.save()
    compiled = compile_targeting(Chatflow.objects.get(pk=chatflow.pk))
    assert compiled.include_urls == (targeting.UrlRule("begins_with", "/help/"),)
    assert compiled.exclude_urls == (targeting.UrlRule("is", "/help/secret/"),)
    assert compiled.include_queries == (targeting.QueryRule("utm", "is", "ads"),)
    assert compiled.exclude_queries == (targeting.QueryRule("nochat", "present", ""),)
    assert compiled.filter_groups == (
        (
            targeting.VisitorFilter("device", "is", "mobile"),
            targeting.VisitorFilter("visits", "gte", "2"),
        ),
        (targeting.VisitorFilter("language", "is", "nl"),),
    )


# -- LivechatPageMixin ---------------------------------------------------------------


def _page(**kwargs):
    from example_site.home.models import StandardPage

    return StandardPage(title="Page", slug="page", **kwargs)


def test_page_mixin_forced_chatflow_needs_a_chatflow():
    page = _page(livechat_mode="chatflow")
    with pytest.raises(ValidationError) as caught:
        page.clean()
    assert "livechat_chatflow" in caught.value.message_dict


def test_page_mixin_clean_accepts_the_other_modes():
    inbox = Inbox.objects.create(name="Sales")
    chatflow = Chatflow.objects.create(name="C", inbox=inbox)
    _page(livechat_mode="inherit").clean()
    _page(livechat_mode="off").clean()
    _page(livechat_mode="chatflow", livechat_chatflow=chatflow).clean()


def test_page_mixin_still_runs_the_page_checks(demo):
    """The mixin's clean() calls Page.clean(), which refuses a sibling's slug."""
    from example_site.home.models import StandardPage

    about = StandardPage.objects.get(slug="about")
    about.slug = "pricing"
    with pytest.raises(ValidationError) as caught:
        about.clean()
    assert "slug" in caught.value.message_dict
    about.slug = "about"
    about.livechat_mode = "chatflow"
    with pytest.raises(ValidationError) as caught:
        about.clean()
    assert list(caught.value.message_dict) == ["livechat_chatflow"]


def test_page_mixin_choice():
    inbox = Inbox.objects.create(name="Sales")
    chatflow = Chatflow.objects.create(name="C", inbox=inbox)
    assert _page().livechat_choice() == targeting.PageChoice("inherit", None)
    assert _page(livechat_mode="off").livechat_choice() == targeting.PageChoice("off", None)
    page = _page(livechat_mode="chatflow", livechat_chatflow=chatflow)
    assert page.livechat_choice() == targeting.PageChoice("chatflow", chatflow.pk)
