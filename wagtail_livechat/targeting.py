"""Which chatflow shows on a visit: pure functions over plain data.

Nothing here touches a request, the database or Django settings, so the
config endpoint can evaluate rules that it reads from the cache with zero
queries, and the tests can run thousands of cases in a second. The rule
*models* (``models/targeting.py``) compile themselves into the frozen
dataclasses below; the admin forms call the ``validate_*`` functions so that
what is refused on input is exactly what could not be evaluated.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from urllib.parse import parse_qs, urlsplit

# -- Operators -------------------------------------------------------------

URL_ALL = "all"
URL_IS = "is"
URL_CONTAINS = "contains"
URL_BEGINS_WITH = "begins_with"
URL_ENDS_WITH = "ends_with"
URL_WILDCARD = "wildcard"
URL_OPERATORS = (
    URL_ALL,
    URL_IS,
    URL_CONTAINS,
    URL_BEGINS_WITH,
    URL_ENDS_WITH,
    URL_WILDCARD,
)

QUERY_IS = "is"
QUERY_CONTAINS = "contains"
QUERY_PRESENT = "present"
QUERY_OPERATORS = (QUERY_IS, QUERY_CONTAINS, QUERY_PRESENT)

# Visitor facts a filter can test, with the operators each one accepts.
DEVICES = ("desktop", "tablet", "mobile")
VISITOR_OPERATORS = {
    "contact": ("is",),  # value: known / unknown
    "logged_in": ("is",),  # value: yes / no
    "device": ("is", "is_not"),  # value: desktop / tablet / mobile
    "language": ("is", "is_not", "begins_with"),  # value: a language code
    "referrer": ("contains", "is_not_contains", "is_empty", "is_not_empty"),
    "visits": ("gte", "lte", "is"),  # value: a whole number
}
NO_VALUE_OPERATORS = {"is_empty", "is_not_empty", QUERY_PRESENT, URL_ALL}

MAX_VALUE_LENGTH = 500
_WHITESPACE = re.compile(r"\s")


# -- Plain data ------------------------------------------------------------


@dataclass(frozen=True)
class UrlRule:
    operator: str
    value: str = ""


@dataclass(frozen=True)
class QueryRule:
    name: str
    operator: str
    value: str = ""


@dataclass(frozen=True)
class VisitorFilter:
    attribute: str
    operator: str
    value: str = ""


@dataclass(frozen=True)
class Targeting:
    """Everything that decides whether one chatflow matches a visit.

    Empty collections mean "no restriction", except that a chatflow with no
    inclusion rule at all shows on every URL (as if it had "all pages").
    """

    include_urls: tuple[UrlRule, ...] = ()
    include_queries: tuple[QueryRule, ...] = ()
    exclude_urls: tuple[UrlRule, ...] = ()
    exclude_queries: tuple[QueryRule, ...] = ()
    # AND inside a group, OR between groups.
    filter_groups: tuple[tuple[VisitorFilter, ...], ...] = ()
    page_subtrees: frozenset[int] = frozenset()
    page_types: frozenset[str] = frozenset()
    sites: frozenset[int] = frozenset()
    locales: frozenset[str] = frozenset()

    @property
    def visitor_facts(self) -> frozenset[str]:
        """The visitor attributes this targeting reads (so callers compute only
        those: some, like ``logged_in``, cost a session lookup)."""
        return frozenset(f.attribute for group in self.filter_groups for f in group)


@dataclass(frozen=True)
class Visit:
    """What is known of one page view. ``None`` means "not known"; a filter on
    an unknown fact does not match."""

    url: str
    page_id: int | None = None
    page_path: tuple[int, ...] = ()  # ids of the page and all its ancestors
    page_type: str | None = None  # "app_label.modelname"
    site_id: int | None = None
    locale: str | None = None
    device: str | None = None
    language: str | None = None
    referrer: str | None = None
    visits: int | None = None
    contact: bool | None = None
    logged_in: bool | None = None
    _parts: tuple = field(default=(), repr=False, compare=False)

    def __post_init__(self):
        parts = urlsplit(self.url)
        query = parse_qs(parts.query, keep_blank_values=True)
        absolute = f"{parts.scheme}://{parts.netloc.lower()}{parts.path or '/'}"
        object.__setattr__(self, "_parts", (parts.path or "/", absolute, query))

    @property
    def path(self) -> str:
        return self._parts[0]

    @property
    def absolute_url(self) -> str:
        """Scheme, host and path, without the query string."""
        return self._parts[1]

    @property
    def query(self) -> Mapping[str, list[str]]:
        return self._parts[2]


@dataclass(frozen=True)
class PageChoice:
    """The "Live chat" panel of one page: inherit, a forced chatflow, or off."""

    mode: str = "inherit"  # inherit / chatflow / off
    chatflow_id: int | None = None


# -- Evaluation ------------------------------------------------------------


@lru_cache(maxsize=1024)
def _wildcard_regex(pattern: str) -> re.Pattern:
    return re.compile(".*".join(re.escape(part) for part in pattern.split("*")))


@lru_cache(maxsize=1024)
def _lower_host(url: str) -> str:
    """Hosts are case-insensitive; the visit's is lowercased, so the rule's is."""
    scheme, sep, rest = url.partition("://")
    host, slash, path = rest.partition("/")
    return f"{scheme.lower()}{sep}{host.lower()}{slash}{path}"


def _strip_slash(value: str) -> str:
    return value.rstrip("/") or "/"


def url_matches(rule: UrlRule, visit: Visit) -> bool:
    """A rule whose value is an absolute URL compares against scheme, host and
    path; any other value compares against the path alone."""
    op, value = rule.operator, rule.value
    if op == URL_ALL:
        return True
    if value.startswith(("http://", "https://")):
        target, value = visit.absolute_url, _lower_host(value)
    else:
        target = visit.path
    if op == URL_IS:
        return _strip_slash(target) == _strip_slash(value)
    if op == URL_CONTAINS:
        return value in target
    if op == URL_BEGINS_WITH:
        return target.startswith(value)
    if op == URL_ENDS_WITH:
        return target.endswith(value) or _strip_slash(target).endswith(value)
    if op == URL_WILDCARD:
        return _wildcard_regex(value).fullmatch(target) is not None
    return False


def query_matches(rule: QueryRule, visit: Visit) -> bool:
    values = visit.query.get(rule.name)
    if values is None:
        return False
    if rule.operator == QUERY_PRESENT:
        return True
    if rule.operator == QUERY_IS:
        return rule.value in values
    if rule.operator == QUERY_CONTAINS:
        return any(rule.value in v for v in values)
    return False


def filter_matches(rule: VisitorFilter, visit: Visit) -> bool:
    attr, op, value = rule.attribute, rule.operator, rule.value
    fact = getattr(visit, attr, None) if attr in VISITOR_OPERATORS else None
    if attr == "referrer":
        fact = fact or ""
        if op == "is_empty":
            return fact == ""
        if op == "is_not_empty":
            return fact != ""
        if op == "contains":
            return value.lower() in fact.lower()
        if op == "is_not_contains":
            return value.lower() not in fact.lower()
        return False
    if fact is None:
        return False
    if attr == "contact":
        return fact == (value == "known")
    if attr == "logged_in":
        return fact == (value == "yes")
    if attr == "device":
        return (fact == value) == (op == "is")
    if attr == "language":
        fact, value = fact.lower(), value.lower()
        if op == "begins_with":
            return fact.startswith(value)
        return (fact == value or fact.split("-")[0] == value) == (op == "is")
    if attr == "visits":
        number = int(value)
        return {"gte": fact >= number, "lte": fact <= number, "is": fact == number}[op]
    return False


def matches(targeting: Targeting, visit: Visit) -> bool:
    """Whether a chatflow with this targeting shows on this visit."""
    t = targeting
    if t.include_urls or t.include_queries:
        if not (
            any(url_matches(r, visit) for r in t.include_urls)
            or any(query_matches(r, visit) for r in t.include_queries)
        ):
            return False
    if any(url_matches(r, visit) for r in t.exclude_urls):
        return False
    if any(query_matches(r, visit) for r in t.exclude_queries):
        return False
    if t.page_subtrees and t.page_subtrees.isdisjoint(visit.page_path):
        return False
    if t.page_types and visit.page_type not in t.page_types:
        return False
    if t.sites and visit.site_id not in t.sites:
        return False
    if t.locales and visit.locale not in t.locales:
        return False
    if t.filter_groups and not any(
        all(filter_matches(f, visit) for f in group) for group in t.filter_groups
    ):
        return False
    return True


def choose(
    candidates: Sequence[tuple[int, Targeting]],
    visit: Visit,
    page: PageChoice = PageChoice(),  # noqa: B008  (frozen, so safe as default)
) -> int | None:
    """The id of the chatflow to show, or None.

    ``candidates`` are the published chatflows in the editors' priority order;
    the first that matches wins. A page's own panel overrides the rules: "off"
    shows nothing, and a forced chatflow shows only while it is published.
    """
    if page.mode == "off":
        return None
    if page.mode == "chatflow":
        ids = {pk for pk, _ in candidates}
        return page.chatflow_id if page.chatflow_id in ids else None
    for pk, targeting in candidates:
        if matches(targeting, visit):
            return pk
    return None


# -- Validation (shared by the admin forms and the models) -----------------


def _check_value(value: str) -> str | None:
    if not value:
        return "Enter a value."
    if len(value) > MAX_VALUE_LENGTH:
        return f"Keep the value under {MAX_VALUE_LENGTH} characters."
    if _WHITESPACE.search(value):
        return "A URL cannot contain spaces."
    return None


def validate_url_rule(operator: str, value: str) -> str | None:
    """An error message for a URL rule that cannot be evaluated, or None."""
    if operator not in URL_OPERATORS:
        return "Choose a valid operator."
    if operator == URL_ALL:
        return None
    error = _check_value(value)
    if error:
        return error
    absolute = value.startswith(("http://", "https://"))
    if operator in (URL_IS, URL_BEGINS_WITH, URL_WILDCARD) and not (
        absolute or value.startswith(("/", "*"))
    ):
        return "Start with / for a path, or with http:// or https:// for a full URL."
    if absolute:
        try:
            host = urlsplit(value).netloc
        except ValueError:  # "http://[::1": an unclosed IPv6 host
            return "This URL does not parse."
        if not host:
            return "This URL has no host."
    if operator == URL_WILDCARD:
        if "*" not in value:
            return "A wildcard pattern needs at least one *; use “is” for an exact URL."
        if not value.replace("*", ""):
            return "A pattern of only * matches everything; use “all pages”."
    return None


def validate_query_rule(name: str, operator: str, value: str) -> str | None:
    if not name:
        return "Enter the name of the query parameter."
    if len(name) > 100 or _WHITESPACE.search(name):
        return "A parameter name is a single word of at most 100 characters."
    if operator not in QUERY_OPERATORS:
        return "Choose a valid operator."
    if operator == QUERY_PRESENT:
        return None
    if not value:
        return "Enter a value."
    if len(value) > MAX_VALUE_LENGTH:
        return f"Keep the value under {MAX_VALUE_LENGTH} characters."
    return None


def validate_visitor_filter(attribute: str, operator: str, value: str) -> str | None:
    if attribute not in VISITOR_OPERATORS:
        return "Choose a valid visitor attribute."
    if operator not in VISITOR_OPERATORS[attribute]:
        return "This operator does not apply to this attribute."
    if operator in NO_VALUE_OPERATORS:
        return None
    if not value:
        return "Enter a value."
    if len(value) > MAX_VALUE_LENGTH:
        return f"Keep the value under {MAX_VALUE_LENGTH} characters."
    allowed = {
        "contact": ("known", "unknown"),
        "logged_in": ("yes", "no"),
        "device": DEVICES,
    }.get(attribute)
    if allowed and value not in allowed:
        return "Enter one of: " + ", ".join(allowed) + "."
    # isdigit() alone takes "²", which int() refuses.
    if attribute == "visits" and not (value.isascii() and value.isdigit() and int(value) < 10**6):
        return "Enter a whole number of visits."
    if attribute == "language" and not re.fullmatch(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*", value):
        return "Enter a language code such as en or pt-BR."
    return None
