"""The feedback survey's report in Wagtail's Reports menu: every answer, or
the results per chatflow, per agent, per day or per month, filtered, and
exported as CSV or XLSX by Wagtail's own report view."""

from __future__ import annotations

import django_filters
from django.contrib.auth import get_user_model
from django.db.models import Avg, Count, F, Q
from django.db.models.functions import TruncDate, TruncMonth
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from wagtail.admin.filters import DateRangePickerWidget, WagtailFilterSet
from wagtail.admin.ui.tables import Column, DateColumn, TitleColumn

from ..models import SurveyAnswer
from .base import (
    EVERY_INBOX,
    OWN_INBOXES,
    LivechatReportView,
    ReportPermissionPolicy,
    _chatflows,
    _inboxes,
    report_inboxes,
)

# A rating of 4 or 5 out of 5 counts as satisfied (the usual CSAT score).
SATISFIED = 4
# "Can view survey answer" opened this report before the other reports
# existed: it still does, over every inbox.
SURVEY_PERMISSION = "view_surveyanswer"
EVERYTHING = (EVERY_INBOX, SURVEY_PERMISSION)

GROUPS = [
    ("chatflow", _("Per chatflow")),
    ("agent", _("Per agent")),
    ("day", _("Per day")),
    ("month", _("Per month")),
]
GROUP_LABELS = {
    "chatflow": F("chatflow__name"),
    "agent": F("agent__username"),
    "day": TruncDate("created_at"),
    "month": TruncMonth("created_at"),
}


def _answers(request):
    scope = report_inboxes(request.user, EVERYTHING)
    answers = SurveyAnswer.objects.all()
    return answers if scope is None else answers.filter(conversation__inbox__in=scope)


def _agents(request):
    return get_user_model().objects.filter(
        pk__in=_answers(request).filter(agent__isnull=False).values("agent")
    )


class SurveyReportFilterSet(WagtailFilterSet):
    group = django_filters.ChoiceFilter(
        label=_("Results"),
        choices=GROUPS,
        empty_label=_("Every answer"),
        method="keep",  # grouping is the view's, after every filter
    )
    inbox = django_filters.ModelChoiceFilter(
        label=_("Inbox"),
        field_name="conversation__inbox",
        queryset=lambda request: _inboxes(request, EVERYTHING),
    )
    chatflow = django_filters.ModelChoiceFilter(
        label=_("Chatflow"), queryset=lambda request: _chatflows(request, EVERYTHING)
    )
    agent = django_filters.ModelChoiceFilter(label=_("Agent"), queryset=_agents)
    rating = django_filters.ChoiceFilter(
        label=_("Rating"), choices=[(n, str(n)) for n in range(1, 6)]
    )
    created_at = django_filters.DateFromToRangeFilter(
        label=_("Answered"), widget=DateRangePickerWidget
    )

    class Meta:
        model = SurveyAnswer
        fields = ["group", "inbox", "chatflow", "agent", "rating", "created_at"]

    def keep(self, queryset, name, value):
        return queryset


class SurveyReportView(LivechatReportView):
    """CSAT: the feedback survey's answers, every one or grouped."""

    slug = "survey"
    menu_label = _("Chat feedback")
    menu_order = 1304
    page_title = _("Feedback survey")
    template_name = "wagtail_livechat/reports/survey.html"
    results_template_name = "wagtail_livechat/reports/survey_results.html"
    filterset_class = SurveyReportFilterSet
    permission_policy = ReportPermissionPolicy(OWN_INBOXES, *EVERYTHING)
    export_filename = "feedback-survey"
    text_fields = ("comment", "label")
    verbose_name = _("survey answer")
    verbose_name_plural = _("survey answers")

    answer_export = [
        "created_at",
        "rating",
        "comment",
        "chatflow_name",
        "agent_name",
        "conversation_id",
    ]
    group_export = ["label", "answers", "average", "satisfied"]
    export_headings = {
        "created_at": _("Answered"),
        "rating": _("Rating (1-5)"),
        "comment": _("Comment"),
        "chatflow_name": _("Chatflow"),
        "agent_name": _("Agent"),
        "conversation_id": _("Conversation"),
        "label": _("Group"),
        "answers": _("Answers"),
        "average": _("Average rating"),
        "satisfied": _("Satisfied (4 or 5), %"),
    }

    @property
    def group(self):
        value = self.request.GET.get("group")
        return value if value in GROUP_LABELS else None

    @property
    def list_export(self):
        return self.group_export if self.group else self.answer_export

    @property
    def columns(self):
        if self.group:
            return [
                Column("label", label=dict(GROUPS)[self.group]),
                Column("answers", label=_("Answers")),
                Column("average", label=_("Average rating")),
                Column("satisfied", label=_("Satisfied (4 or 5), %")),
            ]
        return [
            DateColumn("created_at", label=_("Answered")),
            Column("rating", label=_("Rating (1-5)")),
            Column("comment", label=_("Comment")),
            Column("chatflow_name", label=_("Chatflow")),
            Column("agent_name", label=_("Agent")),
            TitleColumn(
                "conversation_id",
                label=_("Conversation"),
                get_url=lambda answer: reverse(
                    "wagtail_livechat_inbox:conversation", args=[answer.conversation_id]
                ),
            ),
        ]

    @property
    def scope(self):
        return report_inboxes(self.request.user, EVERYTHING)

    def get_queryset(self):
        answers = SurveyAnswer.objects.select_related("chatflow", "agent")
        if self.scope is not None:
            answers = answers.filter(conversation__inbox__in=self.scope)
        return answers.order_by("-created_at", "-pk")

    def get_filtered_queryset(self):
        queryset = super().get_filtered_queryset()
        if not self.group:
            return queryset
        return (
            queryset.order_by()
            .annotate(label=GROUP_LABELS[self.group])
            .values("label")
            .annotate(
                answers=Count("pk"),
                average_raw=Avg("rating"),
                satisfied_count=Count("pk", filter=Q(rating__gte=SATISFIED)),
            )
            .order_by(
                F("label").desc(nulls_last=True)
                if self.group in ("day", "month")
                else F("label").asc(nulls_last=True)
            )
        )

    def decorate_paginated_queryset(self, object_list):
        rows = list(object_list)
        for row in rows:
            if self.group:
                label = row["label"]
                if self.group == "month" and label is not None:
                    label = label.strftime("%Y-%m")
                elif self.group == "day" and label is not None:
                    label = label.isoformat()
                row["label"] = label if label is not None else "—"
                row["average"] = round(row.pop("average_raw"), 2)
                row["satisfied"] = round(100 * row.pop("satisfied_count") / row["answers"])
            else:
                # A chatflow or agent deleted since: blank, not an error.
                row.chatflow_name = row.chatflow.name if row.chatflow else ""
                row.agent_name = (
                    (row.agent.get_full_name() or row.agent.get_username()) if row.agent else ""
                )
        return rows

    def get_context_data(self, *args, **kwargs):
        context = super().get_context_data(*args, **kwargs)
        totals = self.filter_queryset(self.get_queryset()).aggregate(
            answers=Count("pk"),
            average=Avg("rating"),
            satisfied=Count("pk", filter=Q(rating__gte=SATISFIED)),
        )
        if totals["answers"]:
            totals["average"] = round(totals["average"], 2)
            totals["satisfied"] = round(100 * totals["satisfied"] / totals["answers"])
        context["totals"] = totals
        return context
