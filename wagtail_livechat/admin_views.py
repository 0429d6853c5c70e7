"""The agents' inbox in the Wagtail admin: the list of conversations and one
conversation with its thread and the visitor's context.

The pages are rendered on the server (so that they work, and are safe, before
any script runs); ``inbox.js`` then keeps them live over the agent websocket.
Who may see what is decided by :mod:`service` only.
"""

from __future__ import annotations

from datetime import datetime

from django import forms
from django.http import Http404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext, gettext_lazy
from django.views.generic import TemplateView
from wagtail.admin.paginator import WagtailPaginator
from wagtail.admin.views.generic.base import WagtailAdminTemplateMixin

from . import attachment_views, attachments, service
from .models import CannedResponse, Conversation

SOCKET_PATH = "/ws/livechat/agent/"
PER_PAGE = 25


def unread_conversations(user) -> int:
    """Open conversations of the user's inboxes with unread visitor messages."""
    queryset = Conversation.objects.filter(
        inbox__in=service.agent_inboxes(user), status=Conversation.Status.OPEN
    )
    return queryset.filter(agent_unread__gt=0).count()


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

    def __init__(self, *args, inboxes=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["inbox"].choices = [("", gettext("All inboxes"))] + [
            (inbox.pk, inbox.name) for inbox in inboxes
        ]

    def filters(self) -> dict:
        """The valid filters; an invalid one falls back to its default."""
        self.is_valid()  # cleaned_data keeps the fields that are valid
        data = self.cleaned_data
        return {
            "status": data.get("status") or "open",
            "assigned": data.get("assigned") or "",
            "inbox": data.get("inbox"),
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

    def get_queryset(self, filters):
        user = self.request.user
        queryset = Conversation.objects.filter(inbox__in=service.agent_inboxes(user))
        if filters["status"] != "all":
            queryset = queryset.filter(status=filters["status"])
        if filters["assigned"] == "me":
            queryset = queryset.filter(assignee=user)
        elif filters["assigned"] == "none":
            queryset = queryset.filter(assignee__isnull=True)
        if filters["inbox"] is not None:
            queryset = queryset.filter(inbox_id=filters["inbox"])
        queryset = queryset.select_related("inbox", "assignee", "visitor__contact")
        return queryset.order_by("-updated_at", "-pk")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        user = self.request.user
        inboxes = list(service.agent_inboxes(user).order_by("name"))
        form = InboxFilterForm(self.request.GET, inboxes=inboxes)
        filters = form.filters()
        paginator = WagtailPaginator(self.get_queryset(filters), PER_PAGE)
        page = paginator.get_page(self.request.GET.get("p"))
        rows = []
        for conversation in page:
            row = service.conversation_data(conversation)
            row["updated_at"] = conversation.updated_at
            row["url"] = reverse("wagtail_livechat_inbox:conversation", args=[conversation.pk])
            rows.append(row)
        context.update(
            {
                "form": form,
                "filters": filters,
                "inboxes": inboxes,
                "rows": rows,
                "items": page,
                "paginator": paginator,
                "elided_page_range": paginator.get_elided_page_range(page.number),
                "available": service.is_available(user),
                "socket_path": SOCKET_PATH,
                "live_filters": {
                    **filters,
                    "page": page.number,
                    "user": user.pk,
                    "conversationUrl": reverse("wagtail_livechat_inbox:conversation", args=[0]),
                },
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
        survey = service.survey_of(conversation.pk)
        if survey:
            survey["created_at"] = datetime.fromisoformat(survey["created"])
        canned = [
            {"shortcut": c.shortcut, "text": c.text}
            for c in CannedResponse.objects.filter(inbox=conversation.inbox).order_by("shortcut")
        ]
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
                    "conversationUrl": reverse("wagtail_livechat_inbox:conversation", args=[0]),
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
