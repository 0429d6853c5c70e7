"""Contacts in the admin: the listing (filters, search, CSV/XLSX export), the
edit form, the inspect page (consents as asked, conversations), the history,
and the contact's rights (export as JSON, erase), each refused to a user
without the contact permissions."""

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import openpyxl
import pytest
from django.contrib.auth.models import Group, Permission
from django.urls import reverse
from django.utils import timezone
from wagtail.models import ModelLogEntry

from tests.livechat_factories import make_agent, make_chatflow, make_inbox
from wagtail_livechat import audit
from wagtail_livechat.models import ConsentRecord, Contact, Conversation, Message, Visitor

pytestmark = pytest.mark.django_db

URL = "wagtail_livechat_contacts:"


def url(name, *args):
    return reverse(URL + name, args=args)


@pytest.fixture
def people(db):
    olivia = make_agent("olivia", first_name="Olivia")
    sales = make_inbox("Sales", members=[olivia])
    support = make_inbox("Support")
    chatflow = make_chatflow(sales)
    ann = Contact.objects.create(
        email="ann@example.com",
        name="Ann",
        owner=olivia,
        created_at=datetime(2026, 3, 1, tzinfo=UTC),
    )
    bob = Contact.objects.create(
        email="bob@example.com", name="Bob", created_at=datetime(2026, 6, 1, tzinfo=UTC)
    )
    erased = Contact.objects.create(email=None, erased_at=timezone.now())
    visitor = Visitor.objects.create(contact=ann)
    talk = Conversation.objects.create(
        inbox=sales, chatflow=chatflow, visitor=visitor, last_message="Hello"
    )
    Message.objects.create(
        conversation=talk, seq=1, author="visitor", body="Hello", sender=f"v{visitor.pk}"
    )
    Conversation.objects.create(inbox=support, visitor=Visitor.objects.create(contact=bob))
    ConsentRecord.objects.create(
        kind="data",
        given=True,
        text="We keep your <b>messages</b> for a year.",
        contact=ann,
        visitor=visitor,
        chatflow=chatflow,
    )
    return {
        "olivia": olivia,
        "sales": sales,
        "support": support,
        "ann": ann,
        "bob": bob,
        "erased": erased,
        "talk": talk,
    }


def listed(client, **params):
    response = client.get(url("list"), params)
    assert response.status_code == 200
    return {c.pk for c in response.context["object_list"]}


# -- Listing -------------------------------------------------------------------


def test_the_listing_filters_by_owner_inbox_email_and_date(admin_client, people):
    ann, bob, erased = people["ann"].pk, people["bob"].pk, people["erased"].pk
    assert listed(admin_client) == {ann, bob, erased}
    assert listed(admin_client, owner=people["olivia"].pk) == {ann}
    assert listed(admin_client, inbox=people["support"].pk) == {bob}
    assert listed(admin_client, inbox=people["sales"].pk) == {ann}
    assert listed(admin_client, has_email="true") == {ann, bob}
    assert listed(admin_client, has_email="false") == {erased}
    assert listed(admin_client, created_at_from="2026-02-01", created_at_to="2026-04-01") == {ann}


def test_the_listing_searches_names_and_addresses(admin_client, people):
    assert listed(admin_client, q="bob@") == {people["bob"].pk}
    assert listed(admin_client, q="Ann") == {people["ann"].pk}


def test_the_listing_exports_csv_without_formulas_and_xlsx(admin_client, people):
    Contact.objects.create(email="=cmd@example.com", name="=HYPERLINK(1)")
    response = admin_client.get(url("list"), {"export": "csv"})
    assert response.status_code == 200
    assert "contacts" in response["Content-Disposition"]
    rows = list(
        csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig")))
    )
    by_email = {row["Email"]: row for row in rows}
    assert by_email["ann@example.com"]["Conversations"] == "1"
    assert by_email["ann@example.com"]["Owner"] == "olivia"
    assert "'=cmd@example.com" in by_email and by_email["'=cmd@example.com"]["Name"] == (
        "'=HYPERLINK(1)"
    )

    response = admin_client.get(url("list"), {"export": "xlsx", "owner": people["olivia"].pk})
    sheet = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    values = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert len(values) == 2 and "ann@example.com" in values[1]


def test_editing_sets_name_email_and_a_member_as_owner(admin_client, people):
    ann = people["ann"]
    outsider = make_agent("outsider")
    form = {"email": "ann@example.org", "name": "Ann B", "owner": outsider.pk}
    response = admin_client.post(url("edit", ann.pk), form)
    assert response.status_code == 200  # refused: not a member of any inbox
    response = admin_client.post(url("edit", ann.pk), {**form, "owner": people["olivia"].pk})
    assert response.status_code == 302
    ann.refresh_from_db()
    assert (ann.email, ann.name, ann.owner) == ("ann@example.org", "Ann B", people["olivia"])


# -- The contact's page ------------------------------------------------------------


def test_the_inspect_page_shows_consents_as_asked_and_links_conversations(admin_client, people):
    response = admin_client.get(url("inspect", people["ann"].pk))
    html = response.content.decode()
    assert response.status_code == 200
    # The exact text shown, escaped; the choice; the chatflow.
    assert "We keep your &lt;b&gt;messages&lt;/b&gt; for a year." in html
    assert "Given" in html and "Chat" in html
    talk = people["talk"]
    assert reverse("wagtail_livechat_inbox:conversation", args=[talk.pk]) in html
    assert url("export_data", people["ann"].pk) in html
    assert url("erase", people["ann"].pk) in html


def test_the_history_shows_the_contacts_and_its_conversations_entries(admin_client, people):
    talk = people["talk"]
    audit.log(talk, audit.CLOSE, people["olivia"])
    audit.log(people["ann"], audit.EXPORT, people["olivia"])
    audit.log(
        Conversation.objects.get(inbox=people["support"]), audit.CLOSE, people["olivia"]
    )  # Bob's: not shown
    response = admin_client.get(url("history", people["ann"].pk))
    html = response.content.decode()
    assert f"Conversation {talk.pk}: closed" in html
    assert "Personal data exported" in html
    assert html.count(": closed") == 1


# -- Rights ----------------------------------------------------------------------


def test_export_data_downloads_everything_as_json_and_is_audited(admin_client, people):
    ann = people["ann"]
    response = admin_client.get(url("export_data", ann.pk))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert "attachment" in response["Content-Disposition"]
    data = json.loads(response.content)
    assert data["contact"]["email"] == "ann@example.com"
    assert [m["body"] for m in data["conversations"][0]["messages"]] == ["Hello"]
    assert data["consent_records"][0]["text"] == "We keep your <b>messages</b> for a year."
    entry = ModelLogEntry.objects.get(action=audit.EXPORT)
    assert entry.object_id == str(ann.pk) and entry.user.username == "admin"


def test_erase_asks_first_then_erases_and_is_audited(admin_client, people):
    ann = people["ann"]
    response = admin_client.get(url("erase", ann.pk))
    assert response.status_code == 200
    assert "1 consent record stays" in response.content.decode()
    assert Contact.objects.get(pk=ann.pk).email == "ann@example.com"  # nothing yet

    response = admin_client.post(url("erase", ann.pk))
    assert response.status_code == 302
    ann.refresh_from_db()
    assert ann.email is None and ann.name == "" and ann.erased_at is not None
    assert Message.objects.get(conversation=people["talk"]).body == "[erased]"
    entry = ModelLogEntry.objects.get(action=audit.ERASE)
    assert entry.user.username == "admin" and "Ann" not in entry.label
    # Erased: nothing left to export or erase.
    assert admin_client.get(url("export_data", ann.pk)).status_code == 404
    assert admin_client.post(url("erase", ann.pk)).status_code == 404


# -- Permissions ---------------------------------------------------------------------


def editor(codenames):
    user = make_agent("editor")
    group = Group.objects.create(name=f"Contacts: {' '.join(codenames) or 'none'}")
    group.permissions.add(
        *Permission.objects.filter(
            content_type__app_label="wagtail_livechat", codename__in=codenames
        )
    )
    user.groups.add(group)
    return user


def test_users_without_contact_permissions_get_nothing(client, people):
    client.force_login(editor([]))
    ann = people["ann"].pk
    for name, args in [
        ("list", ()),
        ("inspect", (ann,)),
        ("edit", (ann,)),
        ("history", (ann,)),
        ("export_data", (ann,)),
        ("erase", (ann,)),
    ]:
        response = client.get(url(name, *args))
        assert response.status_code in (302, 403), name
        assert b"ann@example.com" not in response.content
    assert client.post(url("erase", ann)).status_code in (302, 403)
    assert Contact.objects.get(pk=ann).email == "ann@example.com"
    assert not ModelLogEntry.objects.filter(action=audit.EXPORT).exists()


def test_view_permission_lists_but_neither_exports_nor_erases(client, people):
    client.force_login(editor(["view_contact"]))
    ann = people["ann"].pk
    assert client.get(url("list")).status_code == 200
    response = client.get(url("inspect", ann))
    assert response.status_code == 200
    assert url("export_data", ann) not in response.content.decode()
    assert client.get(url("export_data", ann)).status_code in (302, 403)
    assert client.post(url("erase", ann)).status_code in (302, 403)


def test_change_permission_exports_and_delete_permission_erases(client, people):
    client.force_login(editor(["change_contact"]))
    ann = people["ann"].pk
    assert client.get(url("export_data", ann)).status_code == 200
    assert client.post(url("erase", ann)).status_code in (302, 403)
    assert Contact.objects.get(pk=ann).erased_at is None
    client.force_login(_deleter())
    assert client.post(url("erase", ann)).status_code == 302
    assert Contact.objects.get(pk=ann).erased_at is not None


def _deleter():
    user = make_agent("deleter")
    user.user_permissions.add(Permission.objects.get(codename="delete_contact"))
    return user


def test_an_erased_contact_is_named_by_number_only(people):
    erased = people["erased"]
    assert str(erased) == f"Erased contact {erased.pk}"
    assert timezone.now() - erased.erased_at < timedelta(minutes=1)
