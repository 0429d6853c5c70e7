"""Public HTTP endpoints of the widget."""

from django.http import JsonResponse
from django.template.response import TemplateResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from wagtail.search.query import PlainText

from . import clients, config, identity, origins, service, targeting
from .conf import conf
from .forms import ConfigQueryForm, SearchForm
from .models import Chatflow, Visitor
from .pages import page_model
from .throttle import allow

SEARCH_RESULTS = 5


def _error(message, status=400, **extra):
    response = JsonResponse({"error": message, **extra}, status=status)
    response["Cache-Control"] = "no-store"
    return response


def _visitor_key(request):
    return identity.unsign(request.COOKIES.get(conf.VISITOR_COOKIE))


def visitor_facts(request, needed: frozenset, token: str = "") -> dict:
    """Facts about the visitor that only the server knows. Each is computed
    only if some published chatflow filters on it, so that a warm request
    from a visitor who never chatted costs no query. A visitor the site
    vouches for (a genuine identification token, or a logged-in user with
    ``WAGTAIL_LIVECHAT_IDENTIFY_USERS``) is logged in and a known contact."""
    facts = {}
    if not needed & {"logged_in", "contact"}:
        return facts
    vouched = identity.claims_for(token, request.user) is not None
    if "logged_in" in needed:
        facts["logged_in"] = vouched or request.user.is_authenticated
    if "contact" in needed:
        key = _visitor_key(request)
        facts["contact"] = vouched or bool(
            key and Visitor.objects.filter(key=key, contact__isnull=False).exists()
        )
    return facts


@require_GET
def chatflow_config(request):
    """Which chatflow shows on the visit the widget describes, if any.

    The widget sends the page's full URL (so query rules work on pages served
    from a cache) and facts only the browser has; the answer varies with them,
    so it is never cached downstream.
    """
    form = ConfigQueryForm(request.GET)
    if not form.is_valid():
        return _error("invalid", fields=form.errors.get_json_data())
    data = form.cleaned_data
    gen = config.generation()
    snap = config.snapshot(gen)
    choice = targeting.PageChoice()
    page = {}
    if data["page"]:
        facts = config.page_facts(data["page"], gen)
        if facts is None:
            return _error("unknown_page")
        choice = facts.choice
        page = {
            "page_id": data["page"],
            "page_path": facts.path,
            "page_type": facts.page_type,
            "site_id": facts.site_id,
            "locale": facts.locale,
        }
    visit = targeting.Visit(
        url=data["url"],
        device=data["device"] or None,
        language=data["lang"] or None,
        referrer=data["ref"],
        visits=data["visits"],
        **page,
        **visitor_facts(request, snap.visitor_facts, data["identity"]),
    )
    chosen = targeting.choose(snap.candidates, visit, choice)
    payload = config.visible_payload(snap.by_id[chosen]) if chosen else None
    if payload is not None and conf.VISITOR_COOKIE in request.COOKIES:
        # A visitor with an open conversation: the widget reconnects at once
        # so that replies and their current page reach the inbox while they
        # browse. (Only visitors who once chatted carry the cookie.)
        key = _visitor_key(request)
        payload["resume"] = bool(
            key and Visitor.objects.filter(key=key, conversations__status="open").exists()
        )
    response = JsonResponse({"chatflow": payload})
    response["Cache-Control"] = "no-store"
    return response


def _origin_allowed(request) -> bool:
    """The websockets' rule (``origins``): this site's own origin, scheme and
    port included, or an allowed one."""
    return origins.allowed(request.headers.get("Origin"), request.get_host(), request.is_secure())


@csrf_exempt  # pages may come from a cache without a token; the Origin is checked instead
@require_POST
def start_visitor(request):
    """Give the visitor an identity, on their first message only (consent
    first: nothing is stored in the browser before that)."""
    if not _origin_allowed(request):
        return _error("forbidden_origin", status=403)
    key = _visitor_key(request)
    if key and Visitor.objects.filter(key=key).exists():
        return JsonResponse({"visitor": True})
    ip = clients.client_address(
        request.META.get("REMOTE_ADDR"), request.headers.get("X-Forwarded-For")
    )
    if not allow(f"start:{ip}", 20):
        return _error("rate_limited", status=429)
    visitor = Visitor.objects.create()
    response = JsonResponse({"visitor": True}, status=201)
    identity.set_cookie(response, visitor.key, secure=request.is_secure())
    return response


@require_GET
def knowledge_base_search(request):
    """Search the live pages under a published chatflow's knowledge base."""
    form = SearchForm(request.GET)
    if not form.is_valid():
        return _error("invalid", fields=form.errors.get_json_data())
    chatflow = (
        Chatflow.objects.filter(
            pk=form.cleaned_data["chatflow"], live=True, chat_type=Chatflow.ChatType.KNOWLEDGE_BASE
        )
        .select_related("knowledge_base_root")
        .first()
    )
    if chatflow is None or chatflow.knowledge_base_root is None:
        return _error("unknown_chatflow", status=404)
    words = " ".join(form.cleaned_data["q"].replace('"', " ").split())
    if not words:
        return JsonResponse({"results": []})
    pages = (
        page_model()
        .objects.live()
        .public()
        .descendant_of(chatflow.knowledge_base_root)
        # Plain words: no query syntax for a visitor to get wrong (a lone
        # quote made the database backend's full-text match fail).
        .search(PlainText(words))[:SEARCH_RESULTS]
    )
    results = [{"title": p.title, "url": p.get_url(request)} for p in pages]
    return JsonResponse({"results": results})


@require_http_methods(["GET", "POST"])
def confirm_email(request, token):
    """The link mailed to an address a visitor typed. GET only shows a
    button (mail scanners that follow links must not confirm anything);
    the visitor's POST confirms."""
    found = identity.read_confirmation(token)
    confirmed = None
    if found and request.method == "POST":
        confirmed = service.confirm_email(*found)
    return TemplateResponse(
        request,
        "wagtail_livechat/confirm.html",
        {
            "valid": found is not None and (request.method == "GET" or confirmed is not None),
            "confirmed": confirmed is not None,
        },
        status=200 if found else 400,
    )
