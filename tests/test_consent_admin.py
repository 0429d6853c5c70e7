"""The consent records' admin listing: read only (they are proof), for those
with "Can view consent record", filtered and exported as CSV and XLSX."""

import csv
import io

import pytest
from django.contrib.auth.models import Group, Permission
from django.test import Client
from django.urls import reverse
from openpyxl import load_workbook

from tests.livechat_factories import make_agent, make_chatflow, make_inbox
from wagtail_livechat import service
from wagtail_livechat.models import ConsentRecord, Contact, Visitor

pytestmark = pytest.mark.django_db

LIST = "wagtail_livechat_consents:list"
DATA_TEXT = "We keep what you write for 30 days."
LABEL = "Send me the newsletter"


def admin_url(name, *args):
    return reverse(f"wagtail_livechat_consents:{name}", args=args)


@pytest.fixture
def records():
    chatflow = make_chatflow(
        make_inbox(),
        name="Website chat",
        data_consent="explicit",
        data_consent_text=DATA_TEXT,
        communication_consent=True,
        subscription_type="Newsletter",
        communication_consent_label=LABEL,
    )
    visitor = Visitor.objects.create()
    service.capture_email(
        visitor, email="ann@example.com", subscribe=False, consent=True, chatflow_id=chatflow.pk
    )
    return chatflow, {r.kind: r for r in ConsentRecord.objects.all()}


def read_csv(response):
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text)))


def test_the_listing_shows_text_choice_time_chatflow_revision_and_contact(admin_client, records):
    chatflow, by_kind = records
    html = admin_client.get(admin_url("list")).content.decode()
    for text in (DATA_TEXT, LABEL, "Website chat", "ann@example.com", "Given", "Refused"):
        assert text in html
    assert f">{chatflow.live_revision_id}<" in html.replace(" ", "").replace("\n", "")
    # Filters: the refused communication consent only.
    html = admin_client.get(admin_url("list"), {"given": "false"}).content.decode()
    assert LABEL in html and DATA_TEXT not in html
    html = admin_client.get(admin_url("list"), {"kind": "data"}).content.decode()
    assert DATA_TEXT in html and LABEL not in html


def test_csv_and_xlsx_exports(admin_client, records):
    chatflow, by_kind = records
    rows = read_csv(admin_client.get(admin_url("list"), {"export": "csv", "kind": "data"}))
    assert rows[0] == [
        "Time",
        "Consent",
        "Given",
        "Text shown",
        "Subscription type",
        "Chatflow",
        "Revision",
        "Contact",
        "Visitor",
    ]
    assert len(rows) == 2
    assert rows[1][1:] == [
        "data",
        "True",
        DATA_TEXT,
        "",
        "Website chat",
        str(chatflow.live_revision_id),
        "ann@example.com",
        str(by_kind["data"].visitor_id),
    ]
    response = admin_client.get(admin_url("list"), {"export": "xlsx"})
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    texts = {row[3] for row in list(sheet.values)[1:]}
    assert texts == {DATA_TEXT, LABEL}


def test_nobody_can_add_change_or_delete_a_record(admin_client, records):
    """Superusers included: the records are the evidence of consent."""
    _, by_kind = records
    record = by_kind["data"]
    assert admin_client.get(admin_url("inspect", record.pk)).status_code == 200
    html = admin_client.get(admin_url("list")).content.decode()
    assert admin_url("inspect", record.pk) in html
    for name, args in (("add", ()), ("edit", (record.pk,)), ("delete", (record.pk,))):
        assert admin_client.get(admin_url(name, *args)).status_code in (302, 403, 404), name
    admin_client.post(admin_url("delete", record.pk))
    admin_client.post(admin_url("edit", record.pk), {"text": "Forged", "given": "on"})
    record.refresh_from_db()
    assert (record.text, record.given) == (DATA_TEXT, True)
    assert ConsentRecord.objects.count() == 2
    assert admin_url("add") not in html and admin_url("edit", record.pk) not in html
    assert Contact.objects.get().consent_records.count() == 2


def test_only_users_with_the_view_permission_see_them(admin_client, records):
    agent = make_agent("alex")
    client = Client()
    client.force_login(agent)
    assert client.get(admin_url("list")).status_code in (302, 403)
    assert admin_url("list") not in client.get(reverse("wagtailadmin_home")).content.decode()

    group = Group.objects.create(name="Privacy officers")
    group.permissions.add(Permission.objects.get(codename="view_consentrecord"))
    agent.groups.add(group)
    assert client.get(admin_url("list")).status_code == 200
    # In the "Live chat" menu.
    assert admin_url("list") in client.get(reverse("wagtailadmin_home")).content.decode()
    # "View" is offered in the groups' editor; add, change and delete are not.
    page = admin_client.get(reverse("wagtailusers_groups:edit", args=[group.pk])).content.decode()
    view = Permission.objects.get(codename="view_consentrecord")
    assert f'value="{view.pk}"' in page
    for codename in ("add_consentrecord", "change_consentrecord", "delete_consentrecord"):
        assert f'value="{Permission.objects.get(codename=codename).pk}"' not in page
