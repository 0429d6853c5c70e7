"""What the widget is told: which chatflow shows on a visit, and how it looks.

The published chatflows are compiled once into a *snapshot* (targeting as
plain dataclasses, plus the public payload the widget needs) and kept in the
cache under a generation number. Any change to a chatflow, inbox, rule or
page bumps the generation (see ``receivers.py``), so the next request compiles
afresh. A warm request therefore reads three cache keys and runs no query.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from datetime import datetime

from django.core.cache import caches
from django.templatetags.static import static
from django.utils import translation
from django.utils.translation import gettext as _
from wagtail.rich_text import expand_db_html

from . import defaults, memo, targeting
from .conf import conf
from .pages import page_model

PREFIX = "wagtail_livechat"
HEADING_AGENTS_SHOWN = 3
_MISSING = object()


def _cache():
    return caches[conf.CACHE]


_seen = (0.0, None)  # (until when, generation) as this process last read it


def generation() -> int:
    """The current generation. Kept in the database, where every process
    sees it; each process reads it at most every
    ``WAGTAIL_LIVECHAT_CONFIG_CHECK_EVERY`` seconds (so a warm request runs
    no query), and at once after its own changes."""
    global _seen
    until, gen = _seen
    now = time.monotonic()
    if gen is None or now >= until:
        from .models import ConfigGeneration

        gen = ConfigGeneration.objects.filter(pk=1).values_list("value", flat=True).first()
        if gen is None:
            # Start from the clock: a database created anew never meets a
            # cache's entries of an old generation.
            gen = ConfigGeneration.objects.get_or_create(pk=1, defaults={"value": time.time_ns()})[
                0
            ].value
        _seen = (now + conf.CONFIG_CHECK_EVERY, gen)
    return gen


def invalidate() -> None:
    """Forget every compiled snapshot and page fact, in every process."""
    global _seen
    from django.db.models import F

    from .models import ConfigGeneration

    if not ConfigGeneration.objects.filter(pk=1).update(value=F("value") + 1):
        ConfigGeneration.objects.get_or_create(pk=1, defaults={"value": time.time_ns()})
    _seen = (0.0, None)


# -- Snapshot --------------------------------------------------------------


@dataclass(frozen=True)
class CompiledChatflow:
    id: int
    targeting: targeting.Targeting
    public: dict
    hours: tuple = ()
    time_zone: str = "UTC"
    inbox_id: int = 0


@dataclass(frozen=True)
class Snapshot:
    chatflows: tuple[CompiledChatflow, ...] = ()
    by_id: dict = field(default_factory=dict)

    @property
    def candidates(self):
        return [(c.id, c.targeting) for c in self.chatflows]

    @property
    def visitor_facts(self) -> frozenset[str]:
        return frozenset().union(*(c.targeting.visitor_facts for c in self.chatflows))


def compile_targeting(chatflow) -> targeting.Targeting:
    def rules(manager, kind):
        return tuple(r.compile() for r in manager.all() if r.kind == kind)

    groups: dict[int, list] = {}
    for f in chatflow.visitor_filters.all():
        groups.setdefault(f.group, []).append(f.compile())
    return targeting.Targeting(
        include_urls=rules(chatflow.url_rules, "include"),
        include_queries=rules(chatflow.query_rules, "include"),
        exclude_urls=rules(chatflow.url_rules, "exclude"),
        exclude_queries=rules(chatflow.query_rules, "exclude"),
        filter_groups=tuple(tuple(groups[k]) for k in sorted(groups)),
        page_subtrees=frozenset(s.page_id for s in chatflow.page_subtrees.all()),
        page_types=frozenset(
            f"{ct.app_label}.{ct.model}" for ct in chatflow.target_page_types.all()
        ),
        sites=frozenset(s.pk for s in chatflow.target_sites.all()),
        locales=frozenset(loc.language_code for loc in chatflow.target_locales.all()),
    )


def build_snapshot() -> Snapshot:
    from .models import Chatflow

    chatflows = (
        Chatflow.objects.filter(live=True)
        .select_related("inbox", "avatar")
        .prefetch_related(
            "url_rules",
            "query_rules",
            "visitor_filters",
            "page_subtrees",
            "target_page_types",
            "target_sites",
            "target_locales",
            "inbox__office_hours",
            "heading_users",
            "heading_groups__user_set",
        )
        .order_by("sort_order", "pk")
    )
    compiled = tuple(
        CompiledChatflow(
            id=c.pk,
            targeting=compile_targeting(c),
            public=public_chatflow(c),
            hours=tuple(c.inbox.hours_table()),
            time_zone=c.inbox.time_zone,
            inbox_id=c.inbox_id,
        )
        for c in chatflows
    )
    return Snapshot(compiled, {c.id: c for c in compiled})


def snapshot(gen: int | None = None) -> Snapshot:
    gen = generation() if gen is None else gen
    key = f"{PREFIX}:snapshot:{gen}"
    snap = _cache().get(key)
    if snap is None:
        snap = build_snapshot()
        _cache().set(key, snap, conf.CACHE_TIMEOUT)
    return snap


# -- Page facts ------------------------------------------------------------


@dataclass(frozen=True)
class PageFacts:
    path: tuple[int, ...]
    page_type: str
    site_id: int | None
    locale: str | None
    choice: targeting.PageChoice


def _read_page_facts(page_id: int) -> PageFacts | None:
    page = page_model().objects.live().filter(pk=page_id).select_related("locale").first()
    if page is None:
        return None
    specific = page.specific_deferred
    choice = getattr(specific, "livechat_choice", None)
    site = page.get_site()
    ancestors = page.get_ancestors(inclusive=True).values_list("pk", flat=True)
    ct = page.cached_content_type
    return PageFacts(
        path=tuple(ancestors),
        page_type=f"{ct.app_label}.{ct.model}",
        site_id=site.pk if site else None,
        locale=page.locale.language_code if page.locale_id else None,
        choice=choice() if choice else targeting.PageChoice(),
    )


def page_facts(page_id: int, gen: int | None = None) -> PageFacts | None:
    """Facts of a live page, or None if there is no such live page."""
    gen = generation() if gen is None else gen
    key = f"{PREFIX}:page:{gen}:{page_id}"
    facts = _cache().get(key, _MISSING)
    if facts is _MISSING:
        facts = _read_page_facts(page_id)
        _cache().set(key, facts, conf.CACHE_TIMEOUT)
    return facts


# -- Public payload --------------------------------------------------------


def widget_strings() -> dict:
    """Every string the widget shows, in the active language."""
    return {
        "open": _("Open chat"),
        "close": _("Close chat"),
        "dismiss": _("Dismiss"),
        "message": _("Message"),
        "send": _("Send"),
        "emailInvalid": _("Enter a valid email address."),
        "agree": _("I agree"),
        "accept": _("Accept"),
        "decline": _("Decline"),
        "search": _("Search help articles"),
        "noResults": _("No articles found."),
        "offline": _("Offline"),
        "online": _("Online"),
        "typing": _("Typing…"),
        "reconnecting": _("Reconnecting…"),
        "connecting": _("Connecting…"),
        "notSent": _("Not sent."),
        "sending": _("Sending…"),
        "sent": _("Sent"),
        "retry": _("Retry"),
        "unavailable": _("The chat could not be loaded. Please try again later."),
        "newMessage": _("new message"),
        "transcript": _("Email me a transcript"),
        "messages": _("Messages"),
        "save": _("Save"),
        "declined": _("Without the cookie the chat cannot remember you, so it cannot start."),
        "failed": _("The message could not be sent. It will be retried."),
        "ended": _("The conversation has ended."),
        "emailSaved": _("Thanks, we will reply to that address."),
        "emailConfirm": _(
            "Thanks. We sent a link to that address: follow it to get replies and transcripts by email."
        ),
        "transcriptSent": _("Transcript sent."),
        "end": _("End chat"),
        "scale": _("1 = very poor, 5 = excellent"),
        "comment": _("Comment (optional)"),
        "rate": _("Send feedback"),
        "thanks": _("Thank you for your feedback."),
        "attach": _("Attach a file"),
    }


def consent_texts(chatflow) -> dict:
    """The consent texts a chatflow shows, each its own or the default in the
    chatflow's language: what the widget shows and what a consent record keeps."""
    with translation.override(chatflow.language):
        return {
            "cookies": chatflow.cookie_consent_text or str(defaults.COOKIE_CONSENT_TEXT),
            "data": chatflow.data_consent_text or str(defaults.DATA_CONSENT_TEXT),
            "communication": chatflow.communication_consent_label,
        }


def person(user) -> dict:
    """A member as the widget's heading shows them: first name and avatar."""
    profile = getattr(user, "wagtail_userprofile", None)
    avatar = profile.avatar.url if profile is not None and profile.avatar else None
    return {
        "name": user.first_name or user.get_full_name() or _("Agent"),
        "avatar": avatar,
    }


def public_chatflow(chatflow, device: str | None = None) -> dict:
    """What a visitor's widget needs to show this chatflow, and nothing
    internal: no rules, member lists, user names beyond a display name."""
    inbox = chatflow.inbox
    with translation.override(chatflow.language):
        avatar = None
        if chatflow.avatar_id:
            avatar = chatflow.avatar.get_rendition("fill-96x96").url
        agents = []
        if chatflow.heading_mode == "agents":
            people = {u.pk: u for u in chatflow.heading_users.all() if u.is_active}
            for group in chatflow.heading_groups.all():
                people.update({u.pk: u for u in group.user_set.all() if u.is_active})
            agents = [person(u) for u in people.values()]
        texts = consent_texts(chatflow)
        payload = {
            "id": chatflow.pk,
            "lang": chatflow.language,
            "color": inbox.accent_color,
            "position": inbox.launcher_position,
            "welcome": expand_db_html(chatflow.welcome_message),
            "away": inbox.away_message,
            "kb": chatflow.chat_type == "knowledge_base",
            "email": {
                "when": chatflow.email_capture,
                "text": chatflow.email_capture_text,
            },
            # A team name and avatar left from the custom branding must not
            # replace the agents shown by name; the alias is the branding's.
            "heading": {
                "mode": chatflow.heading_mode,
                "name": chatflow.team_name if chatflow.heading_mode != "agents" else "",
                "avatar": avatar if chatflow.heading_mode != "agents" else None,
                "alias": chatflow.use_team_alias and chatflow.heading_mode == "branding",
                "agents": agents,
            },
            "desktop": {
                "behaviour": chatflow.desktop_behaviour,
                "trigger": chatflow.trigger or None,
                "seconds": chatflow.trigger_seconds,
                "scroll": chatflow.trigger_scroll_percent,
            },
            "mobile": chatflow.mobile_behaviour,
            "cookieConsent": {
                "mode": chatflow.cookie_consent,
                "text": texts["cookies"],
            },
            "dataConsent": {
                "mode": chatflow.data_consent,
                "text": texts["data"],
            },
            "subscribe": (
                {
                    "type": chatflow.subscription_type,
                    "label": chatflow.communication_consent_label,
                }
                if chatflow.communication_consent
                else None
            ),
            "survey": chatflow.survey_question if chatflow.feedback_survey else None,
            "strings": widget_strings(),
        }
    if device is not None:  # preview: answer as the endpoint would, now
        payload = dict(payload, online=inbox.is_open(), preview=True)
    return payload


def visible_payload(compiled: CompiledChatflow, now: datetime | None = None) -> dict:
    """The cached payload completed with what changes from minute to minute."""
    payload = dict(compiled.public)
    # Decided where the welcome frame decides it (memo): office hours and an
    # available agent connected now, so the header cannot flip after it.
    payload["online"] = memo.inbox_online(compiled.inbox_id, now)
    agents = payload["heading"]["agents"]
    if len(agents) > HEADING_AGENTS_SHOWN:
        payload["heading"] = dict(
            payload["heading"],
            agents=random.sample(agents, HEADING_AGENTS_SHOWN),  # noqa: S311
        )
    return payload


def boot_data(page=None) -> dict:
    """The static facts the loader needs: the same for every visitor of a page."""
    from django.urls import reverse

    return {
        "config": reverse("wagtail_livechat:config"),
        "visitor": reverse("wagtail_livechat:visitor"),
        "search": reverse("wagtail_livechat:search"),
        # Where the visitor sends files; absent: attachments are off.
        "upload": reverse("wagtail_livechat:upload") if conf.ATTACHMENT_KINDS else None,
        "page": page.pk if isinstance(page, page_model()) else None,
        "chat": static("wagtail_livechat/chat.js"),
        "ws": "/ws/livechat/",
        "defer": conf.DEFER,
    }
