"""The live chat reports in Wagtail's Reports menu, one module per report;
each is a Wagtail report view with filters and CSV/XLSX export. ``REPORTS``
is what ``wagtail_hooks`` registers (URLs and menu items), in menu order.
Who may see which data is decided in :mod:`.base`."""

from .base import EVERY_INBOX, OWN_INBOXES, LivechatReportView, report_inboxes
from .conversations import ConversationsReportView
from .missed import MissedReportView
from .response_times import ResponseTimesReportView
from .survey import SURVEY_PERMISSION, SurveyReportView
from .workload import WorkloadReportView

REPORTS = (
    ConversationsReportView,
    ResponseTimesReportView,
    MissedReportView,
    WorkloadReportView,
    SurveyReportView,
)

# Codenames shown in the groups' permission editor.
PERMISSIONS = (OWN_INBOXES, EVERY_INBOX, SURVEY_PERMISSION)

__all__ = [
    "PERMISSIONS",
    "REPORTS",
    "ConversationsReportView",
    "LivechatReportView",
    "MissedReportView",
    "ResponseTimesReportView",
    "SurveyReportView",
    "WorkloadReportView",
    "report_inboxes",
]
