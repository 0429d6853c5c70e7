"""Missed conversations: nobody answered (no agent message that is not a
note), whether closed since or still open; a list and how many."""

from __future__ import annotations

import django_filters
from django.db.models import Count
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from wagtail.admin.ui.tables import Column, DateColumn, TitleColumn

from .. import service
from ..models import Conversation
from .base import ANSWERED, LivechatReportView, ReportFilterSet


class MissedFilterSet(ReportFilterSet):
    status = django_filters.ChoiceFilter(
        label=_("Status"), choices=Conversation.Status.choices, method="keep"
    )

    class Meta(ReportFilterSet.Meta):
        fields = [*ReportFilterSet.Meta.fields, "status"]


class MissedReportView(LivechatReportView):
    slug = "missed"
    menu_label = _("Missed chats")
    menu_order = 1302
    page_title = _("Missed chats")
    filterset_class = MissedFilterSet
    verbose_name = _("missed conversation")
    verbose_name_plural = _("missed conversations")
    text_fields = ("visitor_name", "last_message", "inbox_name", "chatflow_name", "agent_name")
    list_export = [
        "pk",
        "created_at",
        "get_status_display",
        "closed_at",
        "inbox_name",
        "chatflow_name",
        "agent_name",
        "visitor_name",
        "last_message",
    ]
    export_headings = {
        "pk": _("Conversation"),
        "created_at": _("Started"),
        "get_status_display": _("Status"),
        "closed_at": _("Closed"),
        "inbox_name": _("Inbox"),
        "chatflow_name": _("Chatflow"),
        "agent_name": _("Assignee"),
        "visitor_name": _("Visitor"),
        "last_message": _("Last message"),
    }

    @property
    def columns(self):
        return [
            TitleColumn(
                "pk",
                label=_("Conversation"),
                get_url=lambda c: reverse("wagtail_livechat_inbox:conversation", args=[c.pk]),
            ),
            DateColumn("created_at", label=_("Started")),
            Column("status", label=_("Status"), accessor="get_status_display"),
            Column("inbox_name", label=_("Inbox")),
            Column("chatflow_name", label=_("Chatflow")),
            Column("agent_name", label=_("Assignee")),
            Column("visitor_name", label=_("Visitor")),
            Column("last_message", label=_("Last message")),
        ]

    def selected(self):
        queryset = self.conversations()
        status = self.criteria.get("status")
        return queryset.filter(status=status) if status else queryset

    def get_filtered_queryset(self):
        return (
            self.selected()
            .filter(first_response_at__isnull=True)
            .select_related("inbox", "chatflow", "assignee", "visitor__contact")
            .order_by("-created_at", "-pk")
        )

    def decorate_paginated_queryset(self, object_list):
        rows = list(object_list)
        for row in rows:
            row.inbox_name = row.inbox.name
            row.chatflow_name = row.chatflow.name if row.chatflow else ""
            row.agent_name = row.assignee.get_username() if row.assignee else ""
            row.visitor_name = service.visitor_label(row.visitor)
        return rows

    def summary(self):
        totals = self.selected().aggregate(
            started=Count("pk"), answered=Count("pk", filter=ANSWERED)
        )
        missed = totals["started"] - totals["answered"]
        share = round(100 * missed / totals["started"]) if totals["started"] else 0
        return [
            ngettext(
                "%(missed)s of %(count)s conversation missed (%(share)s%%).",
                "%(missed)s of %(count)s conversations missed (%(share)s%%).",
                totals["started"],
            )
            % {"missed": missed, "count": totals["started"], "share": share}
        ]
