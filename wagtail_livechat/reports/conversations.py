"""Conversations over time: how many started per day, week or month, per
inbox or per chatflow, and how many of them were answered, missed, closed."""

from __future__ import annotations

import django_filters
from django.db.models import Count, F, Q
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from wagtail.admin.ui.tables import Column

from ..models import Conversation
from .base import ANSWERED, PERIODS, LivechatReportView, ReportFilterSet, truncated
from .figures import period_label

SPLITS = [("inbox", _("Per inbox")), ("chatflow", _("Per chatflow"))]


class ConversationsFilterSet(ReportFilterSet):
    period = django_filters.ChoiceFilter(
        label=_("Period"), choices=PERIODS, empty_label=None, method="keep"
    )
    split = django_filters.ChoiceFilter(
        label=_("Split"), choices=SPLITS, empty_label=_("All inboxes together"), method="keep"
    )

    class Meta(ReportFilterSet.Meta):
        fields = ["period", "split", *ReportFilterSet.Meta.fields]


class ConversationsReportView(LivechatReportView):
    slug = "conversations"
    menu_label = _("Chat conversations")
    menu_order = 1300
    page_title = _("Chat conversations")
    filterset_class = ConversationsFilterSet
    verbose_name = _("period")
    verbose_name_plural = _("periods")
    list_export = ["period", "label", "conversations", "answered", "missed", "closed"]
    export_headings = {
        "period": _("Period"),
        "label": _("Inbox or chatflow"),
        "conversations": _("Conversations"),
        "answered": _("Answered"),
        "missed": _("Missed"),
        "closed": _("Closed"),
    }

    @property
    def period(self):
        return self.choice("period", PERIODS, "day")

    @property
    def split(self):
        return self.choice("split", SPLITS)

    @property
    def columns(self):
        label = dict(SPLITS).get(self.split, _("All inboxes together"))
        return [
            Column("period", label=dict(PERIODS)[self.period]),
            Column("label", label=label),
            Column("conversations", label=_("Conversations")),
            Column("answered", label=_("Answered")),
            Column("missed", label=_("Missed")),
            Column("closed", label=_("Closed")),
        ]

    def get_filtered_queryset(self):
        keys = {"period": truncated("created_at", self.period)}
        if self.split:
            keys |= {"key": F(f"{self.split}_id"), "label": F(f"{self.split}__name")}
        return list(
            self.conversations()
            .order_by()
            .annotate(**keys)
            .values(*keys)
            .annotate(
                conversations=Count("pk"),
                answered=Count("pk", filter=ANSWERED),
                closed=Count("pk", filter=Q(status=Conversation.Status.CLOSED)),
            )
            .order_by(
                F("period").desc(), *([F("label").asc(nulls_last=True)] if self.split else [])
            )
        )

    def decorate_paginated_queryset(self, object_list):
        rows = list(object_list)
        for row in rows:
            row["period"] = period_label(row["period"], self.period)
            # A chatflow deleted since: a dash, not an error.
            row["label"] = row.get("label") or ("—" if self.split else gettext("All"))
            row["missed"] = row["conversations"] - row["answered"]
        return rows

    def summary(self):
        totals = self.conversations().aggregate(
            conversations=Count("pk"), answered=Count("pk", filter=ANSWERED)
        )
        started = totals["conversations"]
        return [
            ngettext(
                "%(count)s conversation started, %(answered)s answered.",
                "%(count)s conversations started, %(answered)s answered.",
                started,
            )
            % {"count": started, "answered": totals["answered"]}
        ]
