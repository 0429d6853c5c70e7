"""What every live chat report shares: who may see it and which inboxes'
data (decided once, here), the common filters, and the report view that
gives each of them its page, its URLs and its menu item.

Who sees what:

* "Can view live chat reports of their own inboxes" (``view_reports``): the
  reports, over the inboxes the user is a member of (directly or through a
  group), as the inbox decides membership for conversations.
* "Can view live chat reports of every inbox" (``view_all_reports``), or a
  superuser: every inbox.
* Anyone else: no report, no menu item (403).
"""

from __future__ import annotations

import django_filters
from django.contrib.auth import get_user_model
from django.db.models import F, Q
from django.db.models.functions import TruncDate, TruncMonth, TruncWeek
from django.urls import path, reverse
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _
from wagtail.admin.filters import DateRangePickerWidget, WagtailFilterSet
from wagtail.admin.menu import MenuItem
from wagtail.admin.views.reports import ReportView
from wagtail.permission_policies.base import BasePermissionPolicy

from .. import service
from ..models import Chatflow, Conversation, Inbox
from .figures import safe_cell

APP = "wagtail_livechat"
OWN_INBOXES = "view_reports"
EVERY_INBOX = "view_all_reports"

PERIODS = [("day", _("Per day")), ("week", _("Per week")), ("month", _("Per month"))]
TRUNCATE = {"day": TruncDate, "week": TruncWeek, "month": TruncMonth}

# The most conversations a report reads into Python for its percentiles: a
# bound on memory and time; the page says when a selection went past it.
MAX_ROWS = 50_000


def truncated(field: str, period: str):
    """``field`` cut to the period, in the current time zone."""
    return TRUNCATE[period](field)


class ReportPermissionPolicy(BasePermissionPolicy):
    """Any of ``codenames`` (or being a superuser) opens a report."""

    def __init__(self, *codenames):
        super().__init__(Conversation)
        self.codenames = codenames or (OWN_INBOXES, EVERY_INBOX)

    def user_has_permission(self, user, action):
        if not (user.is_authenticated and user.is_active):
            return False
        return user.is_superuser or any(
            user.has_perm(f"{APP}.{codename}") for codename in self.codenames
        )


def report_inboxes(user, everything=(EVERY_INBOX,)) -> list[int] | None:
    """The inboxes whose data this user may see in a report; None: all of
    them (a superuser, or one of the ``everything`` permissions)."""
    if user.is_superuser or any(user.has_perm(f"{APP}.{c}") for c in everything):
        return None
    return list(service.agent_inboxes(user).values_list("pk", flat=True))


def _inboxes(request, everything=(EVERY_INBOX,)):
    scope = report_inboxes(request.user, everything)
    inboxes = Inbox.objects.order_by("name")
    return inboxes if scope is None else inboxes.filter(pk__in=scope)


def _chatflows(request, everything=(EVERY_INBOX,)):
    scope = report_inboxes(request.user, everything)
    chatflows = Chatflow.objects.order_by("name")
    return chatflows if scope is None else chatflows.filter(inbox__in=scope)


def _agents(request):
    """Whoever has been assigned a conversation the user may see."""
    scope = report_inboxes(request.user)
    conversations = Conversation.objects.filter(assignee__isnull=False)
    if scope is not None:
        conversations = conversations.filter(inbox__in=scope)
    return (
        get_user_model()
        .objects.filter(pk__in=conversations.values("assignee"))
        .order_by("username")
    )


class ReportFilterSet(WagtailFilterSet):
    """The filters every report takes. Each report applies them itself (to
    the times and relations it counts), so they only validate here."""

    created_at = django_filters.DateFromToRangeFilter(
        label=_("Dates"), widget=DateRangePickerWidget, method="keep"
    )
    inbox = django_filters.ModelChoiceFilter(label=_("Inbox"), queryset=_inboxes, method="keep")
    chatflow = django_filters.ModelChoiceFilter(
        label=_("Chatflow"), queryset=_chatflows, method="keep"
    )
    agent = django_filters.ModelChoiceFilter(label=_("Agent"), queryset=_agents, method="keep")

    class Meta:
        model = Conversation
        fields = ["created_at", "inbox", "chatflow", "agent"]

    def keep(self, queryset, name, value):
        return queryset


class LivechatReportView(ReportView):
    """A live chat report: ``slug`` names its URLs and its export file."""

    slug = ""
    menu_label = ""
    menu_order = 1300
    header_icon = "livechat"
    template_name = "wagtail_livechat/reports/report.html"
    results_template_name = "wagtail_livechat/reports/report_results.html"
    filterset_class = ReportFilterSet
    permission_policy = ReportPermissionPolicy()
    permission_required = "view"
    # Columns of text a visitor or an editor wrote: text in a spreadsheet.
    text_fields = ("label",)

    def setup(self, request, *args, **kwargs):
        super().setup(request, *args, **kwargs)
        self.custom_field_preprocess = {
            **self.custom_field_preprocess,
            **{field: {self.FORMAT_CSV: safe_cell} for field in self.text_fields},
        }

    # -- URLs and menu ------------------------------------------------------

    @classmethod
    def url_name(cls, results=False):
        return f"wagtail_livechat_{cls.slug}_report" + ("_results" if results else "")

    @classmethod
    def urls(cls):
        return [
            path(f"reports/livechat-{cls.slug}/", cls.as_view(), name=cls.url_name()),
            path(
                f"reports/livechat-{cls.slug}/results/",
                cls.as_view(results_only=True),
                name=cls.url_name(results=True),
            ),
        ]

    @classmethod
    def menu_item(cls):
        return ReportMenuItem(
            cls.menu_label,
            reverse(cls.url_name()),
            name=f"livechat-{cls.slug}",
            icon_name="livechat",
            order=cls.menu_order,
            view=cls,
        )

    @property
    def index_url_name(self):
        return self.url_name()

    @property
    def index_results_url_name(self):
        return self.url_name(results=True)

    @property
    def export_filename(self):
        return f"livechat-{self.slug}"

    # -- What is selected ----------------------------------------------------

    @cached_property
    def scope(self) -> list[int] | None:
        return report_inboxes(self.request.user)

    @cached_property
    def criteria(self) -> dict:
        """The valid filters' values (an invalid filter selects nothing more)."""
        if self.filters is None or not self.filters.is_valid():
            return {}
        return {k: v for k, v in self.filters.form.cleaned_data.items() if v not in (None, "")}

    def choice(self, name, choices, default=None):
        value = self.request.GET.get(name)
        return value if value in dict(choices) else default

    def within(self, queryset, field="created_at", prefix=""):
        """``queryset`` cut to the scope and the filters; ``field`` is the
        time the date range applies to, ``prefix`` the way to the conversation."""
        if self.scope is not None:
            queryset = queryset.filter(**{f"{prefix}inbox__in": self.scope})
        dates = self.criteria.get("created_at")
        if dates is not None and dates.start is not None:
            queryset = queryset.filter(**{f"{field}__gte": dates.start})
        if dates is not None and dates.stop is not None:
            queryset = queryset.filter(**{f"{field}__lte": dates.stop})
        for name in ("inbox", "chatflow"):
            if name in self.criteria:
                queryset = queryset.filter(**{f"{prefix}{name}": self.criteria[name]})
        return queryset

    def conversations(self, field="created_at"):
        """The conversations selected: scope, dates, inbox, chatflow, and the
        agent as their assignee."""
        queryset = self.within(Conversation.objects.all(), field)
        if "agent" in self.criteria:
            queryset = queryset.filter(assignee=self.criteria["agent"])
        return queryset

    def get_queryset(self):
        return Conversation.objects.none()  # each report builds its own rows

    def get_context_data(self, *args, **kwargs):
        context = super().get_context_data(*args, **kwargs)
        context["summary"] = self.summary()
        return context

    def summary(self) -> list[str]:
        """Sentences shown above the table (the totals)."""
        return []


class ReportMenuItem(MenuItem):
    def __init__(self, *args, view, **kwargs):
        super().__init__(*args, **kwargs)
        self.view = view

    def is_shown(self, request):
        return self.view.permission_policy.user_has_permission(request.user, "view")


def no_null_last(field, descending=False):
    expression = F(field)
    return expression.desc(nulls_last=True) if descending else expression.asc(nulls_last=True)


ANSWERED = Q(first_response_at__isnull=False)
