"""Public HTTP endpoints of the widget."""

from django.http import JsonResponse
from django.views.decorators.http import require_GET

from . import config, targeting
from .forms import ConfigQueryForm


def _error(message, status=400, **extra):
    return JsonResponse({"error": message, **extra}, status=status)


def visitor_facts(request, needed: frozenset) -> dict:
    """Facts about the visitor that only the server knows. Each is computed
    only if some published chatflow filters on it: ``logged_in`` costs a
    session lookup, which a warm request must not pay for nothing."""
    facts = {}
    if "logged_in" in needed:
        facts["logged_in"] = request.user.is_authenticated
    if "contact" in needed:
        # A visitor without the chat's identity cookie has never chatted,
        # so is not a known contact.
        facts["contact"] = False
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
        **visitor_facts(request, snap.visitor_facts),
    )
    chosen = targeting.choose(snap.candidates, visit, choice)
    payload = config.visible_payload(snap.by_id[chosen]) if chosen else None
    response = JsonResponse({"chatflow": payload})
    response["Cache-Control"] = "no-store"
    return response
