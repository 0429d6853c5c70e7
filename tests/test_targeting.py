"""The pure targeting functions: operators, rule combination, choice, validation.

Nothing here touches the database; the property-based tests check the URL
operators against strings hypothesis builds.
"""

import string

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from wagtail_livechat import targeting as t
from wagtail_livechat.targeting import (
    PageChoice,
    QueryRule,
    Targeting,
    UrlRule,
    Visit,
    VisitorFilter,
    choose,
    filter_matches,
    matches,
    query_matches,
    url_matches,
    validate_query_rule,
    validate_url_rule,
    validate_visitor_filter,
)

SITE = "https://example.com"


def visit(path="/", **kwargs):
    return Visit(url=SITE + path, **kwargs)


def url(op, value="", path="/"):
    return url_matches(UrlRule(op, value), visit(path))


# -- URL operators -----------------------------------------------------------


def test_all_matches_every_url():
    for path in ("/", "/a/b/", "/x?y=1", "/%20/"):
        assert url(t.URL_ALL, "", path)


@pytest.mark.parametrize(
    ("value", "path", "expected"),
    [
        ("/pricing/", "/pricing/", True),
        ("/pricing", "/pricing/", True),
        ("/pricing/", "/pricing", True),
        ("/pricing/", "/pricing/?utm=1", True),
        ("/pricing/", "/pricing/#top", True),
        ("/pricing/", "/pricing/team/", False),
        ("/pricing/", "/", False),
        ("/Pricing/", "/pricing/", False),
        ("/", "/", True),
        ("/", "/pricing/", False),
    ],
)
def test_is(value, path, expected):
    assert url(t.URL_IS, value, path) is expected


@pytest.mark.parametrize(
    ("value", "path", "expected"),
    [
        ("pric", "/pricing/", True),
        ("/pricing/", "/en/pricing/", True),
        ("team", "/pricing/", False),
        # the query string is not part of what is compared
        ("utm", "/pricing/?utm=1", False),
    ],
)
def test_contains(value, path, expected):
    assert url(t.URL_CONTAINS, value, path) is expected


@pytest.mark.parametrize(
    ("value", "path", "expected"),
    [
        ("/blog/", "/blog/", True),
        ("/blog/", "/blog/post/", True),
        ("/blog", "/blogging/", True),
        ("/blog/", "/en/blog/", False),
        ("/blog/", "/blog", False),
    ],
)
def test_begins_with(value, path, expected):
    assert url(t.URL_BEGINS_WITH, value, path) is expected


@pytest.mark.parametrize(
    ("value", "path", "expected"),
    [
        (".pdf", "/files/report.pdf", True),
        ("/checkout", "/shop/checkout/", True),
        ("/checkout/", "/shop/checkout/", True),
        ("/checkout", "/shop/checkout/step-2/", False),
        (".pdf", "/files/report.pdf.html", False),
    ],
)
def test_ends_with(value, path, expected):
    assert url(t.URL_ENDS_WITH, value, path) is expected


@pytest.mark.parametrize(
    ("value", "path", "expected"),
    [
        ("/blog/*", "/blog/", True),
        ("/blog/*", "/blog/a/b/c/", True),
        ("/blog/*", "/blogs/", False),
        ("/blog/*/comments/", "/blog/2024/comments/", True),
        ("/blog/*/comments/", "/blog/2024/comments/new/", False),
        ("*/checkout/", "/de/shop/checkout/", True),
        ("*/checkout/", "/de/shop/checkout/x", False),
        ("/a/*/c/*/e", "/a/b/c/d/e", True),
        ("/a/*/c/*/e", "/a/b/c/d/f", False),
        # the whole path must match, not a part of it
        ("/blog/*", "/en/blog/x", False),
        # regex metacharacters are literal
        ("/v1.0/*", "/v1x0/docs", False),
        ("/v1.0/*", "/v1.0/docs", True),
        ("/(a|b)/*", "/a/x", False),
        ("/(a|b)/*", "/(a|b)/x", True),
        ("/a+/*", "/aa/x", False),
        ("/a?/*", "/a?/x", False),  # a ? starts the query string: the path is /a
    ],
)
def test_wildcard(value, path, expected):
    assert url(t.URL_WILDCARD, value, path) is expected


def test_absolute_values_compare_scheme_host_and_path():
    v = Visit(url="https://Shop.Example.com/cart/?x=1")
    assert url_matches(UrlRule(t.URL_IS, "https://shop.example.com/cart"), v)
    assert not url_matches(UrlRule(t.URL_IS, "http://shop.example.com/cart/"), v)
    assert not url_matches(UrlRule(t.URL_IS, "https://example.com/cart/"), v)
    assert url_matches(UrlRule(t.URL_BEGINS_WITH, "https://shop.example.com/"), v)
    assert not url_matches(UrlRule(t.URL_BEGINS_WITH, "https://www.example.com/"), v)
    assert url_matches(UrlRule(t.URL_WILDCARD, "https://*.example.com/*"), v)
    assert not url_matches(UrlRule(t.URL_WILDCARD, "https://*.example.org/*"), v)
    assert url_matches(UrlRule(t.URL_CONTAINS, "https://shop.example.com/ca"), v)
    # a path value never looks at the host
    assert not url_matches(UrlRule(t.URL_CONTAINS, "shop"), v)


def test_absolute_value_without_path_matches_the_root():
    v = Visit(url="https://example.com")
    assert v.path == "/"
    assert url_matches(UrlRule(t.URL_IS, "https://example.com/"), v)
    assert url_matches(UrlRule(t.URL_IS, "https://example.com"), v)
    assert url_matches(UrlRule(t.URL_IS, "/"), v)


def test_unknown_url_operator_never_matches():
    assert url("regex", ".*", "/") is False
    assert url("", "/", "/") is False


# -- Query rules -------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "query", "expected"),
    [
        (QueryRule("utm_source", t.QUERY_IS, "ads"), "utm_source=ads", True),
        (QueryRule("utm_source", t.QUERY_IS, "ads"), "utm_source=adsense", False),
        (QueryRule("utm_source", t.QUERY_IS, "ads"), "utm_source=x&utm_source=ads", True),
        (QueryRule("utm_source", t.QUERY_IS, "ads"), "other=ads", False),
        (QueryRule("utm_source", t.QUERY_IS, "ads"), "", False),
        (QueryRule("q", t.QUERY_IS, "a b"), "q=a+b", True),
        (QueryRule("q", t.QUERY_IS, "a&b"), "q=a%26b", True),
        (QueryRule("utm_source", t.QUERY_CONTAINS, "ad"), "utm_source=google-ads", True),
        (QueryRule("utm_source", t.QUERY_CONTAINS, "fb"), "utm_source=google-ads", False),
        (QueryRule("ref", t.QUERY_PRESENT), "ref=", True),
        (QueryRule("ref", t.QUERY_PRESENT), "ref", True),
        (QueryRule("ref", t.QUERY_PRESENT), "refx=1", False),
        (QueryRule("ref", "nonsense", "x"), "ref=x", False),
    ],
)
def test_query_rules(rule, query, expected):
    assert query_matches(rule, visit("/page/?" + query)) is expected


def test_query_names_are_case_sensitive():
    assert not query_matches(QueryRule("Ref", t.QUERY_PRESENT), visit("/?ref=1"))


# -- Visitor filters -----------------------------------------------------------


def f(attribute, operator, value=""):
    return VisitorFilter(attribute, operator, value)


@pytest.mark.parametrize(
    ("rule", "facts", "expected"),
    [
        (f("contact", "is", "known"), {"contact": True}, True),
        (f("contact", "is", "known"), {"contact": False}, False),
        (f("contact", "is", "unknown"), {"contact": False}, True),
        (f("contact", "is", "unknown"), {"contact": True}, False),
        (f("contact", "is", "unknown"), {}, False),
        (f("logged_in", "is", "yes"), {"logged_in": True}, True),
        (f("logged_in", "is", "yes"), {"logged_in": False}, False),
        (f("logged_in", "is", "no"), {"logged_in": False}, True),
        (f("logged_in", "is", "no"), {}, False),
        (f("device", "is", "mobile"), {"device": "mobile"}, True),
        (f("device", "is", "mobile"), {"device": "desktop"}, False),
        (f("device", "is_not", "mobile"), {"device": "desktop"}, True),
        (f("device", "is_not", "mobile"), {"device": "mobile"}, False),
        # an unknown fact matches neither "is" nor "is not"
        (f("device", "is", "mobile"), {}, False),
        (f("device", "is_not", "mobile"), {}, False),
        (f("language", "is", "en"), {"language": "en"}, True),
        (f("language", "is", "en"), {"language": "en-GB"}, True),
        (f("language", "is", "EN"), {"language": "en-gb"}, True),
        (f("language", "is", "en"), {"language": "eng"}, False),
        (f("language", "is", "pt-BR"), {"language": "pt-br"}, True),
        (f("language", "is", "pt-BR"), {"language": "pt-PT"}, False),
        (f("language", "is", "en"), {"language": "nl"}, False),
        (f("language", "is_not", "en"), {"language": "nl"}, True),
        (f("language", "is_not", "en"), {"language": "en-US"}, False),
        (f("language", "is_not", "en"), {}, False),
        (f("language", "begins_with", "pt"), {"language": "pt-BR"}, True),
        (f("language", "begins_with", "pt"), {"language": "en"}, False),
        (f("referrer", "contains", "google"), {"referrer": "https://www.Google.com/"}, True),
        (f("referrer", "contains", "google"), {"referrer": "https://bing.com/"}, False),
        (f("referrer", "contains", "google"), {}, False),
        (f("referrer", "is_not_contains", "google"), {"referrer": "https://bing.com/"}, True),
        (f("referrer", "is_not_contains", "GOOGLE"), {"referrer": "https://google.com/"}, False),
        (f("referrer", "is_not_contains", "google"), {}, True),
        (f("referrer", "is_empty"), {"referrer": ""}, True),
        (f("referrer", "is_empty"), {}, True),
        (f("referrer", "is_empty"), {"referrer": "https://a.com/"}, False),
        (f("referrer", "is_not_empty"), {"referrer": "https://a.com/"}, True),
        (f("referrer", "is_not_empty"), {"referrer": ""}, False),
        (f("referrer", "is"), {"referrer": "x"}, False),
        (f("visits", "gte", "3"), {"visits": 3}, True),
        (f("visits", "gte", "3"), {"visits": 2}, False),
        (f("visits", "lte", "3"), {"visits": 3}, True),
        (f("visits", "lte", "3"), {"visits": 4}, False),
        (f("visits", "is", "1"), {"visits": 1}, True),
        (f("visits", "is", "1"), {"visits": 0}, False),
        (f("visits", "gte", "0"), {}, False),
        (f("visits", "gte", "0"), {"visits": 0}, True),
        (f("page_id", "is", "1"), {"page_id": 1}, False),  # not a visitor attribute
    ],
)
def test_visitor_filters(rule, facts, expected):
    assert filter_matches(rule, visit("/", **facts)) is expected


# -- Combining rules -------------------------------------------------------------


def test_no_rules_at_all_matches_everything():
    assert matches(Targeting(), visit("/anything/"))
    assert matches(Targeting(), Visit(url="https://other.org/"))


def test_inclusion_rules_are_or_ed():
    targeting = Targeting(
        include_urls=(UrlRule(t.URL_IS, "/a/"), UrlRule(t.URL_BEGINS_WITH, "/b/")),
        include_queries=(QueryRule("campaign", t.QUERY_PRESENT),),
    )
    assert matches(targeting, visit("/a/"))
    assert matches(targeting, visit("/b/c/"))
    assert matches(targeting, visit("/z/?campaign=1"))
    assert not matches(targeting, visit("/z/"))


def test_query_inclusion_alone_restricts():
    targeting = Targeting(include_queries=(QueryRule("utm", t.QUERY_IS, "x"),))
    assert matches(targeting, visit("/?utm=x"))
    assert not matches(targeting, visit("/"))


def test_exclusions_win_over_inclusions():
    targeting = Targeting(
        include_urls=(UrlRule(t.URL_ALL),),
        exclude_urls=(UrlRule(t.URL_IS, "/privacy-policy/"),),
        exclude_queries=(QueryRule("nochat", t.QUERY_PRESENT),),
    )
    assert matches(targeting, visit("/"))
    assert not matches(targeting, visit("/privacy-policy"))
    assert not matches(targeting, visit("/pricing/?nochat"))


def test_exclusions_without_inclusions_apply_to_every_other_url():
    targeting = Targeting(exclude_urls=(UrlRule(t.URL_BEGINS_WITH, "/admin/"),))
    assert matches(targeting, visit("/"))
    assert not matches(targeting, visit("/admin/pages/"))


def test_filter_groups_and_inside_or_between():
    targeting = Targeting(
        filter_groups=(
            (f("device", "is", "mobile"), f("language", "is", "nl")),
            (f("visits", "gte", "5"),),
        )
    )
    assert matches(targeting, visit(device="mobile", language="nl"))
    assert not matches(targeting, visit(device="mobile", language="en"))
    assert not matches(targeting, visit(device="desktop", language="nl"))
    assert matches(targeting, visit(device="desktop", language="en", visits=5))
    assert not matches(targeting, visit(device="desktop", language="en", visits=4))
    assert not matches(targeting, visit())


def test_visitor_facts_lists_the_attributes_read():
    targeting = Targeting(
        filter_groups=((f("logged_in", "is", "yes"),), (f("device", "is", "mobile"),))
    )
    assert targeting.visitor_facts == {"logged_in", "device"}
    assert Targeting().visitor_facts == frozenset()


def test_page_subtrees():
    targeting = Targeting(page_subtrees=frozenset({5}))
    assert matches(targeting, visit(page_id=5, page_path=(1, 2, 5)))
    assert matches(targeting, visit(page_id=9, page_path=(1, 2, 5, 9)))
    assert not matches(targeting, visit(page_id=2, page_path=(1, 2)))
    assert not matches(targeting, visit(page_id=7, page_path=(1, 2, 7)))
    # a visit to something that is no page is outside every subtree
    assert not matches(targeting, visit())


def test_page_types():
    targeting = Targeting(page_types=frozenset({"home.articlepage", "home.standardpage"}))
    assert matches(targeting, visit(page_type="home.articlepage"))
    assert not matches(targeting, visit(page_type="home.homepage"))
    assert not matches(targeting, visit())


def test_sites_and_locales():
    targeting = Targeting(sites=frozenset({2}), locales=frozenset({"fr"}))
    assert matches(targeting, visit(site_id=2, locale="fr"))
    assert not matches(targeting, visit(site_id=1, locale="fr"))
    assert not matches(targeting, visit(site_id=2, locale="en"))
    assert not matches(targeting, visit(site_id=2))


def test_every_restriction_must_hold():
    targeting = Targeting(
        include_urls=(UrlRule(t.URL_BEGINS_WITH, "/help/"),),
        page_subtrees=frozenset({3}),
        page_types=frozenset({"home.articlepage"}),
        sites=frozenset({1}),
        locales=frozenset({"en"}),
        filter_groups=((f("device", "is", "desktop"),),),
    )
    good = {
        "page_path": (1, 3, 4),
        "page_type": "home.articlepage",
        "site_id": 1,
        "locale": "en",
        "device": "desktop",
    }
    assert matches(targeting, visit("/help/x/", **good))
    assert not matches(targeting, visit("/about/", **good))
    for key, wrong in [
        ("page_path", (1, 2, 4)),
        ("page_type", "home.standardpage"),
        ("site_id", 2),
        ("locale", "de"),
        ("device", "mobile"),
    ]:
        assert not matches(targeting, visit("/help/x/", **dict(good, **{key: wrong}))), key


# -- choose --------------------------------------------------------------------


HELP = Targeting(include_urls=(UrlRule(t.URL_BEGINS_WITH, "/help/"),))
EVERYWHERE = Targeting()


def test_choose_first_match_in_priority_order():
    assert choose([(1, HELP), (2, EVERYWHERE)], visit("/help/a/")) == 1
    assert choose([(1, HELP), (2, EVERYWHERE)], visit("/pricing/")) == 2
    assert choose([(2, EVERYWHERE), (1, HELP)], visit("/help/a/")) == 2
    assert choose([(1, HELP)], visit("/pricing/")) is None
    assert choose([], visit("/")) is None


def test_choose_page_off_shows_nothing():
    assert choose([(1, EVERYWHERE)], visit("/"), PageChoice("off")) is None
    assert choose([(1, EVERYWHERE)], visit("/"), PageChoice("off", 1)) is None


def test_choose_inherit_follows_the_rules():
    assert choose([(1, HELP), (2, EVERYWHERE)], visit("/"), PageChoice("inherit", 1)) == 2


def test_choose_forced_chatflow_overrides_rules_while_published():
    candidates = [(1, HELP), (2, EVERYWHERE)]
    excluded = Targeting(exclude_urls=(UrlRule(t.URL_ALL),))
    # the forced chatflow shows even where its own rules would not
    assert choose(candidates, visit("/pricing/"), PageChoice("chatflow", 1)) == 1
    assert choose([(3, excluded)], visit("/"), PageChoice("chatflow", 3)) == 3
    # and not while it is not among the published candidates
    assert choose(candidates, visit("/pricing/"), PageChoice("chatflow", 7)) is None
    assert choose(candidates, visit("/pricing/"), PageChoice("chatflow", None)) is None
    assert choose([], visit("/"), PageChoice("chatflow", 1)) is None


# -- Validation ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("operator", "value", "error"),
    [
        ("regex", "/a/", "Choose a valid operator."),
        ("", "/a/", "Choose a valid operator."),
        ("all", "", None),
        ("is", "", "Enter a value."),
        ("contains", "", "Enter a value."),
        ("is", "/" + "a" * 500, "Keep the value under 500 characters."),
        ("is", "/" + "a" * 499, None),
        ("contains", "a b", "A URL cannot contain spaces."),
        ("is", "/a\tb", "A URL cannot contain spaces."),
        ("is", "pricing", "Start with / for a path, or with http:// or https:// for a full URL."),
        (
            "begins_with",
            "blog/",
            "Start with / for a path, or with http:// or https:// for a full URL.",
        ),
        (
            "wildcard",
            "blog/*",
            "Start with / for a path, or with http:// or https:// for a full URL.",
        ),
        (
            "is",
            "ftp://example.com/",
            "Start with / for a path, or with http:// or https:// for a full URL.",
        ),
        ("contains", "pricing", None),
        ("ends_with", ".pdf", None),
        ("is", "/pricing/", None),
        ("is", "https://example.com/pricing/", None),
        ("begins_with", "http:///path", "This URL has no host."),
        ("contains", "https://", "This URL has no host."),
        (
            "wildcard",
            "/blog/",
            "A wildcard pattern needs at least one *; use “is” for an exact URL.",
        ),
        ("wildcard", "*", "A pattern of only * matches everything; use “all pages”."),
        ("wildcard", "***", "A pattern of only * matches everything; use “all pages”."),
        ("wildcard", "*/checkout/", None),
        ("wildcard", "/blog/*", None),
        ("wildcard", "https://*.example.com/*", None),
    ],
)
def test_validate_url_rule(operator, value, error):
    assert validate_url_rule(operator, value) == error


@pytest.mark.parametrize(
    ("name", "operator", "value", "error"),
    [
        ("", "is", "x", "Enter the name of the query parameter."),
        ("a" * 101, "is", "x", "A parameter name is a single word of at most 100 characters."),
        ("utm source", "is", "x", "A parameter name is a single word of at most 100 characters."),
        ("a" * 100, "is", "x", None),
        ("utm", "equals", "x", "Choose a valid operator."),
        ("utm", "present", "", None),
        ("utm", "is", "", "Enter a value."),
        ("utm", "contains", "", "Enter a value."),
        ("utm", "is", "x" * 501, "Keep the value under 500 characters."),
        ("utm", "is", "x" * 500, None),
        ("q", "is", "two words", None),  # query values may hold spaces
    ],
)
def test_validate_query_rule(name, operator, value, error):
    assert validate_query_rule(name, operator, value) == error


@pytest.mark.parametrize(
    ("attribute", "operator", "value", "error"),
    [
        ("age", "is", "3", "Choose a valid visitor attribute."),
        ("device", "contains", "mob", "This operator does not apply to this attribute."),
        ("contact", "is_not", "known", "This operator does not apply to this attribute."),
        ("visits", "begins_with", "1", "This operator does not apply to this attribute."),
        ("referrer", "is", "x", "This operator does not apply to this attribute."),
        ("referrer", "is_empty", "", None),
        ("referrer", "is_not_empty", "", None),
        ("referrer", "contains", "", "Enter a value."),
        ("referrer", "contains", "x" * 501, "Keep the value under 500 characters."),
        ("referrer", "contains", "google", None),
        ("contact", "is", "known", None),
        ("contact", "is", "unknown", None),
        ("contact", "is", "maybe", "Enter one of: known, unknown."),
        ("logged_in", "is", "yes", None),
        ("logged_in", "is", "true", "Enter one of: yes, no."),
        ("device", "is", "tablet", None),
        ("device", "is_not", "phone", "Enter one of: desktop, tablet, mobile."),
        ("visits", "gte", "3", None),
        ("visits", "lte", "0", None),
        ("visits", "is", "-1", "Enter a whole number of visits."),
        ("visits", "is", "1.5", "Enter a whole number of visits."),
        ("visits", "is", "many", "Enter a whole number of visits."),
        ("visits", "is", "1000000", "Enter a whole number of visits."),
        ("visits", "is", "999999", None),
        ("visits", "is", "", "Enter a value."),
        ("language", "is", "en", None),
        ("language", "is", "pt-BR", None),
        ("language", "begins_with", "zh-Hant-TW", None),
        ("language", "is", "english", "Enter a language code such as en or pt-BR."),
        ("language", "is", "e", "Enter a language code such as en or pt-BR."),
        ("language", "is_not", "en_GB", "Enter a language code such as en or pt-BR."),
    ],
)
def test_validate_visitor_filter(attribute, operator, value, error):
    assert validate_visitor_filter(attribute, operator, value) == error


def test_every_valid_filter_can_be_evaluated():
    """What validation accepts never makes evaluation raise."""
    samples = {
        "contact": ["known", "unknown"],
        "logged_in": ["yes", "no"],
        "device": list(t.DEVICES),
        "language": ["en", "pt-BR"],
        "referrer": ["google"],
        "visits": ["0", "7", "999999"],
    }
    visits = [
        visit(),
        visit(
            contact=True,
            logged_in=False,
            device="mobile",
            language="pt-BR",
            referrer="https://google.com/",
            visits=3,
        ),
    ]
    for attribute, operators in t.VISITOR_OPERATORS.items():
        for operator in operators:
            for value in samples[attribute]:
                if operator in t.NO_VALUE_OPERATORS:
                    value = ""
                assert validate_visitor_filter(attribute, operator, value) is None
                for v in visits:
                    assert filter_matches(VisitorFilter(attribute, operator, value), v) in (
                        True,
                        False,
                    )


# -- Properties of the URL operators -------------------------------------------

# Characters of a path segment, without the URL delimiters (/ ? #), the
# wildcard (*) and whitespace; with every regex metacharacter that may
# appear in a path.
SEGMENT_CHARS = string.ascii_letters + string.digits + "-._~!$&'()+,;=@%^[]{}|\\"
segments = st.text(alphabet=SEGMENT_CHARS, min_size=1, max_size=12)
paths = st.builds(
    lambda parts, slash: "/" + "/".join(parts) + ("/" if slash else ""),
    st.lists(segments, min_size=1, max_size=6),
    st.booleans(),
)


@given(paths)
def test_visit_keeps_the_path(path):
    assert visit(path).path == path


@given(st.lists(segments, min_size=1, max_size=6), st.data())
def test_wildcard_from_path_with_a_segment_replaced_matches_it(parts, data):
    path = "/" + "/".join(parts) + "/"
    i = data.draw(st.integers(0, len(parts) - 1))
    pattern = "/" + "/".join([*parts[:i], "*", *parts[i + 1 :]]) + "/"
    assert validate_url_rule(t.URL_WILDCARD, pattern) is None
    assert url_matches(UrlRule(t.URL_WILDCARD, pattern), visit(path))
    # and every other value of that segment, too
    other = data.draw(segments)
    other_path = "/" + "/".join([*parts[:i], other, *parts[i + 1 :]]) + "/"
    assert url_matches(UrlRule(t.URL_WILDCARD, pattern), visit(other_path))


@given(paths, st.data())
def test_wildcard_with_any_span_replaced_matches(path, data):
    i = data.draw(st.integers(1, len(path)))
    j = data.draw(st.integers(i, len(path)))
    pattern = path[:i] + "*" + path[j:]
    assert url_matches(UrlRule(t.URL_WILDCARD, pattern), visit(path))


@given(paths, st.data())
def test_wildcard_never_matches_when_a_literal_character_differs(path, data):
    i = data.draw(st.integers(1, len(path)))
    j = data.draw(st.integers(i, len(path)))
    pattern = path[:i] + "*" + path[j:]
    literal_positions = [k for k, c in enumerate(pattern) if c != "*"]
    k = data.draw(st.sampled_from(literal_positions))
    replacement = data.draw(st.sampled_from(SEGMENT_CHARS + "/"))
    assume(replacement != pattern[k])
    changed = pattern[:k] + replacement + pattern[k + 1 :]
    assert not url_matches(UrlRule(t.URL_WILDCARD, changed), visit(path))


@given(paths, st.data())
def test_contains_any_substring(path, data):
    i = data.draw(st.integers(0, len(path) - 1))
    j = data.draw(st.integers(i + 1, len(path)))
    assert url_matches(UrlRule(t.URL_CONTAINS, path[i:j]), visit(path))


@given(paths, segments)
def test_contains_something_absent_never_matches(path, needle):
    assume(needle not in path)
    assert not url_matches(UrlRule(t.URL_CONTAINS, needle), visit(path))


@given(paths, st.data())
def test_begins_with_any_prefix(path, data):
    prefix = path[: data.draw(st.integers(1, len(path)))]
    assert validate_url_rule(t.URL_BEGINS_WITH, prefix) is None
    assert url_matches(UrlRule(t.URL_BEGINS_WITH, prefix), visit(path))


@given(paths, segments)
def test_begins_with_another_first_segment_never_matches(path, segment):
    assume(not path.startswith("/" + segment))
    assert not url_matches(UrlRule(t.URL_BEGINS_WITH, "/" + segment), visit(path))


@given(paths, st.data())
def test_ends_with_any_suffix(path, data):
    suffix = path[data.draw(st.integers(0, len(path) - 1)) :]
    assert url_matches(UrlRule(t.URL_ENDS_WITH, suffix), visit(path))


@given(paths, st.booleans(), st.booleans())
def test_is_ignores_a_trailing_slash(path, rule_slash, visit_slash):
    bare = path.rstrip("/")
    value = bare + ("/" if rule_slash else "")
    visited = bare + ("/" if visit_slash else "")
    assert url_matches(UrlRule(t.URL_IS, value), visit(visited))
    assert url_matches(UrlRule(t.URL_IS, SITE + value), visit(visited))


@given(paths, segments)
def test_is_does_not_match_another_path(path, extra):
    longer = path.rstrip("/") + "/" + extra
    assert not url_matches(UrlRule(t.URL_IS, longer), visit(path))
    assert not url_matches(UrlRule(t.URL_IS, path), visit(longer))


@given(
    st.text(alphabet=string.ascii_lowercase, min_size=1, max_size=5),
    st.sampled_from(".^$+()[]{}|\\"),
    st.text(alphabet=string.ascii_lowercase, min_size=1, max_size=5),
    st.sampled_from(string.ascii_lowercase),
)
@example("a", ".", "b", "x")
@example("a", "+", "b", "a")
@example("a", "\\", "d", "5")
def test_regex_metacharacters_are_literal(left, meta, right, other):
    literal = f"/{left}{meta}{right}"
    lookalike = f"/{left}{other}{right}"
    for operator, value in [
        (t.URL_IS, literal),
        (t.URL_CONTAINS, f"{meta}{right}"),
        (t.URL_BEGINS_WITH, literal),
        (t.URL_ENDS_WITH, f"{meta}{right}"),
        (t.URL_WILDCARD, literal + "*"),
        (t.URL_WILDCARD, "*" + literal[1:]),
    ]:
        rule = UrlRule(operator, value)
        assert url_matches(rule, visit(literal)), (operator, value)
        assert not url_matches(rule, visit(lookalike)), (operator, value)
    # "+" is no "one or more", "{" no repetition, "|" no alternative...
    repeated = f"/{left}{meta}{meta}{right}"
    assert not url_matches(UrlRule(t.URL_IS, literal), visit(repeated))
    assert not url_matches(UrlRule(t.URL_WILDCARD, literal + "*"), visit(repeated))


@given(st.text(min_size=1, max_size=60))
def test_any_url_is_evaluated_without_error(text):
    """Whatever a browser sends, building the visit and matching never raises."""
    v = Visit(url=SITE + "/" + text)
    for operator in t.URL_OPERATORS:
        url_matches(UrlRule(operator, "/a*"), v)
    query_matches(QueryRule("a", t.QUERY_CONTAINS, "b"), v)


def test_rule_hosts_are_case_insensitive():
    v = Visit(url="https://shop.example.com/Cart/")
    assert url_matches(UrlRule(t.URL_IS, "https://Shop.EXAMPLE.com/Cart/"), v)
    # paths stay case-sensitive
    assert not url_matches(UrlRule(t.URL_IS, "https://shop.example.com/cart/"), v)
