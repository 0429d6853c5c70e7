"""The agents' inbox in the Wagtail admin: the list of conversations and one
conversation with its thread and the visitor's context.

The pages are rendered on the server (so that they work, and are safe, before
any script runs); ``inbox.js`` then keeps them live over the agent websocket.
Who may see what is decided by :mod:`service` only.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from django import forms
from django.http import Http404, QueryDict
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy
from django.views.generic import TemplateView
from wagtail.admin.paginator import WagtailPaginator
from wagtail.admin.views.generic.base import WagtailAdminTemplateMixin

from . import attachment_views, attachments, search, service
from .models import CannedResponse, Conversation
from .models.label import LABEL_MAX

SOCKET_PATH = "/ws/livechat/agent/"
PER_PAGE = 25
# Unread conversations whose ids the page is given, to keep the tab's title
# count live (past it, the count is shown as at least this many).
UNREAD_IDS = 1000


def unread_conversations(user) -> int:
    """Open conversations of the user's inboxes with unread visitor messages."""
    queryset = Conversation.objects.filter(
        inbox__in=service.agent_inboxes(user), status=Conversation.Status.OPEN
    )
    return queryset.filter(agent_unread__gt=0).count()


def unread_ids(user) -> list[int]:
    """Ids of the open conversations with unread visitor messages: the tab's
    title counts them and inbox.js keeps the set live."""
    queryset = Conversation.objects.filter(
        inbox__in=service.agent_inboxes(user), status=Conversation.Status.OPEN, agent_unread__gt=0
    )
    return list(queryset.order_by("-updated_at").values_list("pk", flat=True)[:UNREAD_IDS])


def js_strings() -> dict:
    """The visible strings of inbox.js, translated here."""
    return {
        "connecting": gettext("Connecting…"),
        "connected": gettext("Live"),
        "reconnecting": gettext("Offline; reconnecting in %(seconds)s s…"),
        "signedOut": gettext("You are signed out; reload the page to sign in again."),
        "forbidden": gettext("You are not a member of any inbox, so nothing updates live."),
        "available": gettext("Available"),
        "away": gettext("Away"),
        "availabilityLabel": gettext("Your availability"),
        "visitorTyping": gettext("Visitor is typing…"),
        "agentTyping": gettext("%(name)s is typing…"),
        "viewersNone": gettext("Nobody else is viewing this conversation."),
        "viewers": gettext("Also viewing: %(names)s"),
        "sending": gettext("Sending…"),
        "failed": gettext("Not sent: %(error)s"),
        "note": gettext("Internal note"),
        "open": gettext("Open"),
        "closed": gettext("Closed"),
        "unassigned": gettext("Unassigned"),
        "unread": gettext("%(count)s unread"),
        "newConversation": gettext("New conversation"),
        "newMessage": gettext("New message from %(visitor)s"),
        "notificationsOn": gettext("Notifications enabled"),
        "notificationsBlocked": gettext("Notifications are blocked in this browser"),
        "noPage": gettext("Not on a page of this site right now."),
        "noContact": gettext("No email address left yet."),
        "yes": gettext("Yes"),
        "no": gettext("No"),
        "none": gettext("None"),
        "conversation": gettext("Conversation %(id)s"),
        "conversationWith": gettext("Conversation with %(visitor)s"),
        "editPage": gettext("Edit this page"),
        "send": gettext("Send"),
        "addNote": gettext("Add note"),
        "cannedHint": gettext("%(count)s canned responses; use Up and Down, then Tab or Enter."),
        "empty": gettext("No conversations match these filters."),
        "contactName": gettext("Name"),
        "contactEmail": gettext("Email"),
        "dataConsent": gettext("Consented to data processing"),
        "addressConfirmed": gettext("Address confirmed"),
        "unconfirmed": gettext("Given, not confirmed"),
        "subscriptions": gettext("Consents to communicate"),
        "removeLabel": gettext("Remove label %(label)s"),
        "labelsNone": gettext("No labels"),
        "desktop": gettext("Desktop"),
        "tablet": gettext("Tablet"),
        "mobile": gettext("Mobile"),
        "unknown": gettext("Unknown"),
        "localTime": gettext("%(time)s (%(zone)s)"),
        "soundOn": gettext("Sound on"),
        "download": gettext("Download %(name)s (%(size)s)"),
        "uploading": gettext("Sending %(name)s…"),
        "uploadFailed": gettext("The file could not be sent."),
    }


class InboxFilterForm(forms.Form):
    STATUS_CHOICES = [
        ("open", gettext_lazy("Open")),
        ("closed", gettext_lazy("Closed")),
        ("all", gettext_lazy("All")),
    ]
    ASSIGNED_CHOICES = [
        ("", gettext_lazy("Anyone")),
        ("me", gettext_lazy("Assigned to me")),
        ("none", gettext_lazy("Unassigned")),
    ]

    status = forms.ChoiceField(label=gettext_lazy("Status"), choices=STATUS_CHOICES, required=False)
    assigned = forms.ChoiceField(
        label=gettext_lazy("Assignee"), choices=ASSIGNED_CHOICES, required=False
    )
    inbox = forms.TypedChoiceField(
        label=gettext_lazy("Inbox"), coerce=int, empty_value=None, required=False
    )
    label = forms.ChoiceField(label=gettext_lazy("Label"), required=False)
    q = forms.CharField(
        label=gettext_lazy("Search conversations"),
        max_length=search.MAX_QUERY,
        required=False,
        widget=forms.TextInput(attrs={"type": "search", "autocomplete": "off"}),
    )

    # The query string keys of the filters: carried from the list to a
    # conversation (whose page shows the same list beside it).
    KEYS = ("status", "assigned", "inbox", "label", "q")

    def __init__(self, *args, inboxes=(), labels=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["inbox"].choices = [("", gettext("All inboxes"))] + [
            (inbox.pk, inbox.name) for inbox in inboxes
        ]
        self.fields["label"].choices = [("", gettext("Any label"))] + [(x, x) for x in labels]

    def filters(self) -> dict:
        """The valid filters; an invalid one falls back to its default."""
        self.is_valid()  # cleaned_data keeps the fields that are valid
        data = self.cleaned_data
        return {
            "status": data.get("status") or "open",
            "assigned": data.get("assigned") or "",
            "inbox": data.get("inbox"),
            "label": data.get("label") or "",
            "q": data.get("q") or "",
        }


def filter_query(filters: dict) -> str:
    """The filters that differ from the defaults, as a query string."""
    query = QueryDict(mutable=True)
    for key in InboxFilterForm.KEYS:
        value = filters.get(key)
        if value not in (None, "") and not (key == "status" and value == "open"):
            query[key] = value
    return query.urlencode()


def conversation_url(pk: int, query: str) -> str:
    url = reverse("wagtail_livechat_inbox:conversation", args=[pk])
    return f"{url}?{query}" if query else url


def conversation_list(request, filters: dict, page_number=None):
    """The agent's conversations that pass the filters, newest first, as
    ``(paginator, page, rows)``; a search shows the first
    ``search.MAX_RESULTS``. Only the inboxes the agent belongs to."""
    user = request.user
    queryset = Conversation.objects.filter(inbox__in=service.agent_inboxes(user))
    if filters["status"] != "all":
        queryset = queryset.filter(status=filters["status"])
    if filters["assigned"] == "me":
        queryset = queryset.filter(assignee=user)
    elif filters["assigned"] == "none":
        queryset = queryset.filter(assignee__isnull=True)
    if filters["inbox"] is not None:
        queryset = queryset.filter(inbox_id=filters["inbox"])
    if filters["label"]:
        queryset = queryset.filter(labels__name=filters["label"])
    queryset = search.matching(queryset, filters["q"])
    queryset = (
        queryset.select_related("inbox", "assignee", "visitor__contact")
        .prefetch_related("labels")
        .order_by("-updated_at", "-pk")
    )
    if filters["q"]:
        queryset = queryset[: search.MAX_RESULTS]
    paginator = WagtailPaginator(queryset, PER_PAGE)
    page = paginator.get_page(page_number)
    query = filter_query(filters)
    rows = []
    for conversation in page:
        row = service.conversation_data(conversation)
        row["updated_at"] = conversation.updated_at
        row["url"] = conversation_url(conversation.pk, query)
        rows.append(row)
    return paginator, page, rows


def list_context(request, page_number=None) -> dict:
    """What a page showing the list needs: the filter form, the rows, and
    the live list's settings for inbox.js."""
    user = request.user
    inboxes = list(service.agent_inboxes(user).order_by("name"))
    labels = service.labels_in_use(inboxes)
    form = InboxFilterForm(request.GET, inboxes=inboxes, labels=labels)
    filters = form.filters()
    paginator, page, rows = conversation_list(request, filters, page_number)
    return {
        "form": form,
        "filters": filters,
        "inboxes": inboxes,
        "rows": rows,
        "items": page,
        "paginator": paginator,
        "elided_page_range": paginator.get_elided_page_range(page.number),
        "list_url": "{}{}".format(
            reverse("wagtail_livechat_inbox:index"),
            f"?{filter_query(filters)}" if filter_query(filters) else "",
        ),
        "live_filters": {
            **filters,
            "page": page.number,
            "user": user.pk,
            "conversationUrl": conversation_url(0, filter_query(filters)),
            "unread": unread_ids(user),
            "labels": labels,
            "labelMax": LABEL_MAX,
        },
    }


class LivechatAdminView(WagtailAdminTemplateMixin, TemplateView):
    header_icon = "livechat"

    def index_breadcrumb(self):
        return {"url": reverse("wagtail_livechat_inbox:index"), "label": gettext("Conversations")}


class InboxIndexView(LivechatAdminView):
    template_name = "wagtail_livechat/inbox/index.html"
    page_title = gettext_lazy("Conversations")

    def get_breadcrumbs_items(self):
        return [*self.breadcrumbs_items, {"url": "", "label": self.get_page_title()}]

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(list_context(self.request, self.request.GET.get("p")))
        context.update(
            {
                "available": service.is_available(self.request.user),
                "socket_path": SOCKET_PATH,
                "strings": js_strings(),
            }
        )
        return context


class ConversationView(LivechatAdminView):
    template_name = "wagtail_livechat/inbox/conversation.html"

    def dispatch(self, request, *args, **kwargs):
        try:
            self.conversation = service.conversation_for(request.user, kwargs["pk"])
        except service.NotFound:
            raise Http404(gettext("No such conversation.")) from None
        except service.Forbidden:
            # Not PermissionDenied: Wagtail's admin would turn it into a
            # redirect to the dashboard.
            return TemplateResponse(
                request,
                "wagtail_livechat/inbox/forbidden.html",
                {
                    "page_title": gettext("Access denied"),
                    "header_title": gettext("Access denied"),
                    "header_icon": "livechat",
                    "breadcrumbs_items": [
                        *self.breadcrumbs_items,
                        self.index_breadcrumb(),
                        {"url": "", "label": gettext("Access denied")},
                    ],
                },
                status=403,
            )
        return super().dispatch(request, *args, **kwargs)

    def get_page_title(self):
        return service.visitor_label(self.conversation.visitor)

    def get_page_subtitle(self):
        return self.conversation.inbox.name

    def get_breadcrumbs_items(self):
        return [
            *self.breadcrumbs_items,
            self.index_breadcrumb(),
            {"url": "", "label": self.get_page_title()},
        ]

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        conversation = self.conversation
        messages = service.recent_messages(conversation)
        for message in messages:
            message["created_at"] = datetime.fromisoformat(message["created"])
        data = service.conversation_data(conversation)
        context_data = service.conversation_context(conversation)
        for earlier in context_data["earlier"]:
            earlier["created_at"] = datetime.fromisoformat(earlier["created"])
            earlier["url"] = reverse("wagtail_livechat_inbox:conversation", args=[earlier["id"]])
        visitor = context_data["visitor"]
        for visit in visitor["pages"]:
            visit["at_time"] = datetime.fromisoformat(visit["at"])
        if visitor["time_zone"]:
            visitor["now"] = timezone.now().astimezone(ZoneInfo(visitor["time_zone"]))
        survey = service.survey_of(conversation.pk)
        if survey:
            survey["created_at"] = datetime.fromisoformat(survey["created"])
        canned = [
            {"shortcut": c.shortcut, "text": c.text}
            for c in CannedResponse.objects.filter(inbox=conversation.inbox).order_by("shortcut")
        ]
        # The list beside the conversation: the one the agent came from.
        context.update(list_context(self.request))
        context["live_filters"]["current"] = conversation.pk
        context.update(
            {
                "conversation": conversation,
                "data": data,
                "thread": messages,
                "last_seq": max((m["seq"] for m in messages), default=0),
                "context": context_data,
                "canned": canned,
                "survey": survey,
                "attachments": attachments.enabled(),
                "socket_path": SOCKET_PATH,
                "live": {
                    "conversation": conversation.pk,
                    "user": self.request.user.pk,
                    "name": self.request.user.first_name or service.display_name(self.request.user),
                    "inbox": conversation.inbox_id,
                    "conversationUrl": context["live_filters"]["conversationUrl"],
                    "attachUrl": (
                        reverse("wagtail_livechat_inbox:attach", args=[conversation.pk])
                        if attachments.enabled()
                        else None
                    ),
                    "data": data,
                },
                "strings": js_strings(),
            }
        )
        return context


def get_urls():
    return [
        path("", InboxIndexView.as_view(), name="index"),
        path("<int:pk>/", ConversationView.as_view(), name="conversation"),
        path("<int:pk>/attachments/", attachment_views.agent_upload, name="attach"),
    ]
