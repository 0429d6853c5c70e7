"""Agent workload: per agent (and per day, week or month), the conversations
they were assigned, the messages they sent, the conversations of theirs that
were closed.

Each figure counts by its own time, the one the date range applies to: a
conversation's start (assigned: the conversation's current assignee, as the
app keeps no history of assignments), a message's sending, a conversation's
latest closing (closed: whoever is assigned then, since the closer is not
recorded). Notes are not messages sent to visitors and do not count.
"""

from __future__ import annotations

from collections import defaultdict

import django_filters
from django.contrib.auth import get_user_model
from django.db.models import Count, F
from django.utils.translation import gettext_lazy as _
from wagtail.admin.ui.tables import Column

from ..models import Message
from .base import PERIODS, LivechatReportView, ReportFilterSet, truncated
from .figures import period_label

COUNTS = ("assigned", "messages", "closed")


class WorkloadFilterSet(ReportFilterSet):
    period = django_filters.ChoiceFilter(
        label=_("Period"), choices=PERIODS, empty_label=_("Whole range"), method="keep"
    )

    class Meta(ReportFilterSet.Meta):
        fields = ["period", *ReportFilterSet.Meta.fields]


class WorkloadReportView(LivechatReportView):
    slug = "workload"
    menu_label = _("Chat agent workload")
    menu_order = 1303
    page_title = _("Chat agent workload")
    filterset_class = WorkloadFilterSet
    verbose_name = _("agent")
    verbose_name_plural = _("agents")
    text_fields = ("agent",)
    export_headings = {
        "agent": _("Agent"),
        "period": _("Period"),
        "assigned": _("Conversations assigned"),
        "messages": _("Messages sent"),
        "closed": _("Conversations closed"),
    }

    @property
    def period(self):
        return self.choice("period", PERIODS)

    @property
    def list_export(self):
        return ["agent", *(["period"] if self.period else []), *COUNTS]

    @property
    def columns(self):
        return [Column(field, label=self.export_headings[field]) for field in self.list_export]

    def counted(self, queryset, agent, time):
        """``{(agent id, period): count}`` of ``queryset``."""
        keys = {"who": F(agent)}
        if self.period:
            keys["when"] = truncated(time, self.period)
        return {
            (row["who"], row.get("when")): row["n"]
            for row in queryset.order_by().annotate(**keys).values(*keys).annotate(n=Count("pk"))
            if row["who"] is not None
        }

    def get_filtered_queryset(self):
        assigned = self.counted(self.conversations(), "assignee_id", "created_at")
        closed = self.counted(
            self.conversations("closed_at").filter(closed_at__isnull=False),
            "assignee_id",
            "closed_at",
        )
        messages = self.within(
            Message.objects.filter(author=Message.Author.AGENT, note=False),
            prefix="conversation__",
        )
        if "agent" in self.criteria:
            messages = messages.filter(user=self.criteria["agent"])
        sent = self.counted(messages, "user_id", "created_at")

        lines = defaultdict(lambda: dict.fromkeys(COUNTS, 0))
        for name, counts in (("assigned", assigned), ("messages", sent), ("closed", closed)):
            for key, n in counts.items():
                lines[key][name] = n
        users = get_user_model().objects.in_bulk({who for who, _when in lines})
        rows = [
            {
                # By username, as the other reports name agents.
                "agent": users[who].get_username() if who in users else str(who),
                "period": period_label(when, self.period) if self.period else "",
                **counts,
            }
            for (who, when), counts in lines.items()
        ]
        rows.sort(key=lambda row: row["period"], reverse=True)
        rows.sort(key=lambda row: row["agent"].lower())
        return rows
