"""The live chat reports: each figure on fixture data with known answers,
the filters, the CSV and XLSX exports, and who may see which inboxes."""

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import Group, Permission
from django.test import Client
from django.urls import reverse
from openpyxl import load_workbook

from tests.livechat_factories import make_agent, make_chatflow, make_inbox
from wagtail_livechat import reports
from wagtail_livechat.models import Conversation, Message, Visitor

pytestmark = [pytest.mark.django_db]

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday
SECOND = timedelta(seconds=1)
DAY = timedelta(days=1)


def conversation(chatflow, started, *, assignee=None, first=None, closed=None):
    """A conversation started at ``started``, first answered ``first``
    seconds later, closed ``closed`` seconds later (None: never)."""
    return Conversation.objects.create(
        inbox=chatflow.inbox,
        chatflow=chatflow,
        visitor=Visitor.objects.create(),
        assignee=assignee,
        created_at=started,
        first_response_at=None if first is None else started + first * SECOND,
        status="open" if closed is None else "closed",
        closed_at=None if closed is None else started + closed * SECOND,
        last_message="=cmd|' /C calc'!A0",
    )


def message(conversation, seq, user, at, *, note=False, author="agent"):
    return Message.objects.create(
        conversation=conversation,
        seq=seq,
        author=author,
        user=user,
        body="hello",
        note=note,
        sender=f"u{user.pk}" if user else f"v{conversation.visitor_id}",
        created_at=at,
    )


@pytest.fixture
def data(db):
    """Sales (Alex): first responses after 10 s, 20 s, 60 s, closings after
    300 s and 600 s, and a missed conversation closed after 100 s. Support
    (Blake): one answered after 30 s and closed after 900 s, one missed and
    still open in April."""
    alex = make_agent("alex", first_name="Alex")
    blake = make_agent("blake", first_name="Blake")
    sales = make_inbox("Sales", members=[alex])
    support = make_inbox("Support", members=[blake])
    chat, help_ = make_chatflow(sales, name="Chat"), make_chatflow(support, name="Help")
    c1 = conversation(chat, T0, assignee=alex, first=10, closed=300)
    c2 = conversation(chat, T0 + DAY, assignee=alex, first=20, closed=600)
    c3 = conversation(chat, T0 + 8 * DAY, assignee=alex, first=60)
    c4 = conversation(chat, T0 + DAY, closed=100)
    c5 = conversation(help_, T0 + 2 * DAY, assignee=blake, first=30, closed=900)
    c6 = conversation(help_, T0 + 35 * DAY, assignee=blake)
    message(c1, 1, None, T0, author="visitor")
    message(c1, 2, alex, T0 + 10 * SECOND)
    message(c1, 3, alex, T0 + 100 * SECOND)
    message(c1, 4, alex, T0 + 200 * SECOND, note=True)  # a note is no message sent
    message(c2, 1, alex, T0 + DAY + 20 * SECOND)
    message(c3, 1, alex, T0 + 8 * DAY + 60 * SECOND)
    message(c5, 1, blake, T0 + 2 * DAY + 30 * SECOND)
    return {
        "alex": alex,
        "blake": blake,
        "sales": sales,
        "support": support,
        "chat": chat,
        "help": help_,
        "missed": (c4, c6),
    }


def url(view):
    return reverse(view.url_name())


def read_csv(response):
    assert response.status_code == 200
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def read_xlsx(response):
    assert response.status_code == 200
    data = b"".join(response.streaming_content)
    return list(load_workbook(io.BytesIO(data)).active.values)


def export(client, view, **params):
    return read_csv(client.get(url(view), {"export": "csv", **params}))


# -- Conversations over time --------------------------------------------------

CONVERSATIONS = reports.ConversationsReportView


def test_conversations_per_month_and_per_week_per_inbox(admin_client, data):
    assert export(admin_client, CONVERSATIONS, period="month") == [
        ["Period", "Inbox or chatflow", "Conversations", "Answered", "Missed", "Closed"],
        ["2026-04", "All", "1", "0", "1", "0"],
        ["2026-03", "All", "5", "4", "1", "4"],
    ]
    assert export(admin_client, CONVERSATIONS, period="week", split="inbox")[1:] == [
        ["2026-04-06", "Support", "1", "0", "1", "0"],
        ["2026-03-09", "Sales", "1", "1", "0", "0"],
        ["2026-03-02", "Sales", "3", "2", "1", "3"],
        ["2026-03-02", "Support", "1", "1", "0", "1"],
    ]
    rows = export(admin_client, CONVERSATIONS, split="chatflow", chatflow=data["help"].pk)
    assert rows[1:] == [
        ["2026-04-06", "Help", "1", "0", "1", "0"],
        ["2026-03-04", "Help", "1", "1", "0", "1"],
    ]


def test_conversations_page_filters_by_dates_and_agent(admin_client, data):
    page = admin_client.get(url(CONVERSATIONS)).content.decode()
    assert "6 conversations started, 4 answered." in page
    params = {"created_at_from": "2026-03-03", "created_at_to": "2026-03-31"}
    page = admin_client.get(url(CONVERSATIONS), params).content.decode()
    assert "4 conversations started, 3 answered." in page
    rows = export(admin_client, CONVERSATIONS, agent=data["alex"].pk, period="month")
    assert rows[1:] == [["2026-03", "All", "3", "3", "0", "2"]]


# -- Response times -------------------------------------------------------------

RESPONSE = reports.ResponseTimesReportView
HEADINGS = [
    "Group",
    "Conversations",
    "Answered",
    "First response, median (s)",
    "First response, 90th percentile (s)",
    "Closed",
    "Resolution, median (s)",
    "Resolution, 90th percentile (s)",
]


def test_first_response_and_resolution_times_per_inbox_and_agent(admin_client, data):
    # Sales: first responses 10, 20, 60 s -> median 20, p90 52 (interpolated);
    # closings 100, 300, 600 s -> median 300, p90 540.
    assert export(admin_client, RESPONSE, group="inbox") == [
        HEADINGS,
        ["Sales", "4", "3", "20.0", "52.0", "3", "300.0", "540.0"],
        ["Support", "2", "1", "30.0", "30.0", "1", "900.0", "900.0"],
    ]
    assert export(admin_client, RESPONSE, group="agent") == [
        HEADINGS,
        ["alex", "3", "3", "20.0", "52.0", "2", "450.0", "570.0"],
        ["blake", "2", "1", "30.0", "30.0", "1", "900.0", "900.0"],
        ["—", "1", "0", "", "", "1", "100.0", "100.0"],
    ]
    assert export(admin_client, RESPONSE, group="month")[1:] == [
        ["2026-04", "1", "0", "", "", "0", "", ""],
        ["2026-03", "5", "4", "25.0", "51.0", "4", "450.0", "810.0"],
    ]
    # All together, filtered to one inbox.
    assert export(admin_client, RESPONSE, inbox=data["sales"].pk)[1:] == [
        ["All", "4", "3", "20.0", "52.0", "3", "300.0", "540.0"]
    ]


def test_response_times_page_reads_durations_and_exports_xlsx(admin_client, data):
    page = admin_client.get(url(RESPONSE), {"group": "inbox"}).content.decode()
    assert "20 s" in page and "52 s" in page and "5 min 0 s" in page and "15 min 0 s" in page
    values = read_xlsx(admin_client.get(url(RESPONSE), {"export": "xlsx", "group": "inbox"}))
    assert values[0] == tuple(HEADINGS)
    assert values[1] == ("Sales", 4, 3, 20.0, 52.0, 3, 300.0, 540.0)


def test_response_times_say_when_the_selection_was_cut(admin_client, data, monkeypatch):
    from wagtail_livechat.reports import response_times

    monkeypatch.setattr(response_times, "MAX_ROWS", 4)
    rows = export(admin_client, RESPONSE)
    assert rows[1][:3] == ["All", "4", "2"]  # the newest four: c6, c3, c5, c4
    page = admin_client.get(url(RESPONSE)).content.decode()
    assert "Only the newest 4 conversations count" in page


# -- Missed conversations -------------------------------------------------------

MISSED = reports.MissedReportView


def test_missed_conversations_are_listed_and_counted(admin_client, data):
    c4, c6 = data["missed"]
    page = admin_client.get(url(MISSED)).content.decode()
    assert "2 of 6 conversations missed (33%)." in page
    assert reverse("wagtail_livechat_inbox:conversation", args=[c4.pk]) in page
    rows = export(admin_client, MISSED)
    assert [r[0] for r in rows[1:]] == [str(c6.pk), str(c4.pk)]
    assert rows[0][:5] == ["Conversation", "Started", "Status", "Closed", "Inbox"]
    assert rows[1][2] == "Open" and rows[2][2] == "Closed" and rows[1][4] == "Support"
    # A visitor's words are text in a spreadsheet program, not a formula.
    assert rows[1][-1] == "'=cmd|' /C calc'!A0"

    page = admin_client.get(url(MISSED), {"status": "open"}).content.decode()
    assert "1 of 2 conversations missed (50%)." in page
    assert [r[0] for r in export(admin_client, MISSED, inbox=data["sales"].pk)[1:]] == [str(c4.pk)]
    values = read_xlsx(admin_client.get(url(MISSED), {"export": "xlsx"}))
    assert [v[0] for v in values[1:]] == [c6.pk, c4.pk]


# -- Agent workload -------------------------------------------------------------

WORKLOAD = reports.WorkloadReportView


def test_agent_workload_counts_assigned_messages_and_closed(admin_client, data):
    assert export(admin_client, WORKLOAD) == [
        ["Agent", "Conversations assigned", "Messages sent", "Conversations closed"],
        ["alex", "3", "4", "2"],
        ["blake", "2", "1", "1"],
    ]
    assert export(admin_client, WORKLOAD, period="week", agent=data["alex"].pk) == [
        ["Agent", "Period", "Conversations assigned", "Messages sent", "Conversations closed"],
        ["alex", "2026-03-09", "1", "1", "0"],
        ["alex", "2026-03-02", "2", "3", "2"],
    ]
    # The date range applies to each figure's own time.
    params = {"created_at_from": "2026-03-03", "created_at_to": "2026-03-10"}
    assert export(admin_client, WORKLOAD, **params)[1:] == [
        ["alex", "2", "2", "1"],
        ["blake", "1", "1", "1"],
    ]
    values = read_xlsx(admin_client.get(url(WORKLOAD), {"export": "xlsx"}))
    assert values[1] == ("alex", 3, 4, 2)


# -- Who sees what --------------------------------------------------------------


def grant(user, *codenames):
    group = Group.objects.create(name="+".join(codenames))
    group.permissions.add(*Permission.objects.filter(codename__in=codenames))
    user.groups.add(group)


def client_of(user):
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize("view", reports.REPORTS)
def test_an_agent_without_the_permission_sees_no_report(data, view):
    client = client_of(data["alex"])
    for params in ({}, {"export": "csv"}):
        # Wagtail's admin turns the refusal into a redirect to its home page.
        response = client.get(url(view), params)
        assert response.status_code == 302 and response.url == reverse("wagtailadmin_home")
    assert url(view) not in client.get(reverse("wagtailadmin_home")).content.decode()


@pytest.mark.parametrize("view", reports.REPORTS)
def test_a_permitted_user_sees_each_report_in_the_reports_menu(data, view):
    grant(data["alex"], "view_reports")
    client = client_of(data["alex"])
    assert client.get(url(view)).status_code == 200
    assert url(view) in client.get(reverse("wagtailadmin_home")).content.decode()


def test_own_inboxes_only_unless_permitted_every_inbox(data):
    alex = data["alex"]
    grant(alex, "view_reports")
    client = client_of(alex)
    assert export(client, CONVERSATIONS, period="month")[1:] == [
        ["2026-03", "All", "4", "3", "1", "3"]
    ]
    assert [r[0] for r in export(client, RESPONSE, group="inbox")[1:]] == ["Sales"]
    assert [r[0] for r in export(client, WORKLOAD)[1:]] == ["alex"]
    assert len(export(client, MISSED)) == 2
    # Another inbox cannot be chosen as a filter.
    page = client.get(url(CONVERSATIONS)).content.decode()
    assert ">Sales<" in page and ">Support<" not in page
    assert client.get(url(CONVERSATIONS), {"inbox": data["support"].pk}).status_code == 200
    rows = export(client, CONVERSATIONS, inbox=data["support"].pk, period="month")
    assert rows[1:] == [["2026-03", "All", "4", "3", "1", "3"]]  # the invalid filter is ignored

    grant(alex, "view_all_reports")
    client = client_of(alex)
    assert [r[0] for r in export(client, RESPONSE, group="inbox")[1:]] == ["Sales", "Support"]


def test_the_permissions_are_given_in_the_groups_editor(admin_client, data):
    group = Group.objects.create(name="Leads")
    page = admin_client.get(reverse("wagtailusers_groups:edit", args=[group.pk])).content.decode()
    for codename in reports.PERMISSIONS:
        assert f'value="{Permission.objects.get(codename=codename).pk}"' in page


def test_the_feedback_report_follows_the_same_scope(data):
    from wagtail_livechat.models import SurveyAnswer

    c1 = Conversation.objects.get(first_response_at=T0 + 10 * SECOND)
    c5 = Conversation.objects.get(inbox=data["support"], status="closed")
    SurveyAnswer.objects.create(
        conversation=c1, chatflow=data["chat"], agent=data["alex"], rating=5
    )
    SurveyAnswer.objects.create(
        conversation=c5, chatflow=data["help"], agent=data["blake"], rating=1
    )
    survey = reports.SurveyReportView
    grant(data["alex"], "view_reports")
    page = client_of(data["alex"]).get(url(survey)).content.decode()
    assert "1 answer: average rating 5.0 out of 5" in page
    grant(data["blake"], "view_surveyanswer")  # as before the reports: every inbox
    page = client_of(data["blake"]).get(url(survey)).content.decode()
    assert "2 answers: average rating 3.0 out of 5" in page
