"""First response time (from the start of a conversation to the first agent
message that is not a note) and resolution time (from its start to its
closing), median and 90th percentile, per inbox, agent or period.

The percentiles are computed in Python over at most ``MAX_ROWS`` of the
selected conversations (the newest), the same on every database; PostgreSQL
could answer them with ``percentile_cont``, SQLite cannot. A conversation
closed and reopened counts its latest closing; one still open has no
resolution time.
"""

from __future__ import annotations

from collections import defaultdict

import django_filters
from django.db.models import F
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from wagtail.admin.ui.tables import Column

from .base import MAX_ROWS, PERIODS, LivechatReportView, ReportFilterSet, truncated
from .figures import duration, median, p90, period_label, rounded, seconds

GROUPS = [("inbox", _("Per inbox")), ("agent", _("Per agent")), *PERIODS]
LABELS = {"inbox": F("inbox__name"), "agent": F("assignee__username")}
KEYS = {"inbox": F("inbox_id"), "agent": F("assignee_id")}
FIGURES = ("first_median", "first_p90", "resolution_median", "resolution_p90")


def figures(rows) -> dict:
    """The counts and percentiles of ``rows`` of (started, first response,
    closed): what one line of the report says."""
    first = [s for s in (seconds(r[0], r[1]) for r in rows) if s is not None]
    resolved = [s for s in (seconds(r[0], r[2]) for r in rows) if s is not None]
    return {
        "conversations": len(rows),
        "answered": len(first),
        "first_median": rounded(median(first)),
        "first_p90": rounded(p90(first)),
        "resolved": len(resolved),
        "resolution_median": rounded(median(resolved)),
        "resolution_p90": rounded(p90(resolved)),
    }


class ResponseTimesFilterSet(ReportFilterSet):
    group = django_filters.ChoiceFilter(
        label=_("Results"), choices=GROUPS, empty_label=_("All together"), method="keep"
    )

    class Meta(ReportFilterSet.Meta):
        fields = ["group", *ReportFilterSet.Meta.fields]


class ResponseTimesReportView(LivechatReportView):
    slug = "response-times"
    menu_label = _("Chat response times")
    menu_order = 1301
    page_title = _("Chat response times")
    filterset_class = ResponseTimesFilterSet
    verbose_name = _("result")
    verbose_name_plural = _("results")
    list_export = ["label", "conversations", "answered", *FIGURES[:2], "resolved", *FIGURES[2:]]
    export_headings = {
        "label": _("Group"),
        "conversations": _("Conversations"),
        "answered": _("Answered"),
        "first_median": _("First response, median (s)"),
        "first_p90": _("First response, 90th percentile (s)"),
        "resolved": _("Closed"),
        "resolution_median": _("Resolution, median (s)"),
        "resolution_p90": _("Resolution, 90th percentile (s)"),
    }

    @property
    def group(self):
        return self.choice("group", GROUPS)

    @property
    def columns(self):
        heading = self.export_headings
        return [
            Column("label", label=dict(GROUPS).get(self.group, _("Conversations"))),
            Column("conversations", label=heading["conversations"]),
            Column("answered", label=heading["answered"]),
            Column("first_median", label=_("First response, median"), accessor="first_median_h"),
            Column("first_p90", label=_("First response, p90"), accessor="first_p90_h"),
            Column("resolved", label=heading["resolved"]),
            Column("resolution_median", label=_("Resolution, median"), accessor="res_median_h"),
            Column("resolution_p90", label=_("Resolution, p90"), accessor="res_p90_h"),
        ]

    def rows(self):
        """(key, label, started, first response, closed) of the newest
        selected conversations, at most ``MAX_ROWS`` + 1 (to tell it was cut)."""
        group = self.group
        if group in LABELS:
            keys = {"key": KEYS[group], "label": LABELS[group]}
        elif group:
            keys = {"key": truncated("created_at", group), "label": F("pk")}
        else:
            keys = {"key": F("inbox_id"), "label": F("pk")}  # one group, named below
        queryset = (
            self.conversations()
            .annotate(**keys)
            .order_by("-created_at", "-pk")
            .values_list("key", "label", "created_at", "first_response_at", "closed_at")
        )
        # An open conversation's closed_at is empty (reopening clears it).
        return list(queryset[: MAX_ROWS + 1])

    @property
    def cut(self):
        return len(self._rows) > MAX_ROWS

    def get_filtered_queryset(self):
        self._rows = self.rows()
        groups = defaultdict(list)
        labels = {}
        for key, label, *times in self._rows[:MAX_ROWS]:
            if not self.group:
                key = None
            groups[key].append(times)
            labels[key] = label
        lines = []
        for key, rows in groups.items():
            if self.group in LABELS:
                label = labels[key] or "—"
            elif self.group:
                label = period_label(key, self.group)
            else:
                label = gettext("All")
            lines.append({"label": label, **figures(rows)})
        if self.group in LABELS:
            lines.sort(key=lambda line: (line["label"] == "—", line["label"]))
        else:
            lines.sort(key=lambda line: line["label"], reverse=True)
        return lines

    def decorate_paginated_queryset(self, object_list):
        rows = list(object_list)
        for row in rows:
            row["first_median_h"] = duration(row["first_median"])
            row["first_p90_h"] = duration(row["first_p90"])
            row["res_median_h"] = duration(row["resolution_median"])
            row["res_p90_h"] = duration(row["resolution_p90"])
        return rows

    def summary(self):
        lines = []
        if self.cut:
            lines.append(
                ngettext(
                    "Only the newest %(count)s conversation counts: narrow the dates.",
                    "Only the newest %(count)s conversations count: narrow the dates.",
                    MAX_ROWS,
                )
                % {"count": MAX_ROWS}
            )
        return lines
