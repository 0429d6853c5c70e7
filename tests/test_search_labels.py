"""Search and labels in the agents' inbox: the search function (on the
suite's database), the list's search and label filters, and the labels
service, each within the inboxes the agent belongs to."""

import re
import uuid

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import Client

from tests.livechat_factories import make_chatflow, make_inbox
from wagtail_livechat import search, service
from wagtail_livechat.models import Contact, Conversation, ConversationLabel, Message, Visitor

pytestmark = pytest.mark.django_db

INDEX = "/admin/livechat/"


def make_agent(django_user_model, username, *inboxes):
    user = django_user_model.objects.create_user(username, f"{username}@example.com", "pw")
    user.user_permissions.add(
        Permission.objects.get(content_type__app_label="wagtailadmin", codename="access_admin")
    )
    for inbox in inboxes:
        inbox.users.add(user)
        inbox.save()
    return user


@pytest.fixture
def inboxes(db):
    sales, support = make_inbox("Sales"), make_inbox("Support")
    return sales, support, make_chatflow(sales, "Sales chat"), make_chatflow(support, "Help")


@pytest.fixture
def sam(django_user_model, inboxes):
    return make_agent(django_user_model, "sam", inboxes[0])


@pytest.fixture
def client_of(sam):
    client = Client()
    client.force_login(sam)
    return client


def chat(chatflow, *bodies, contact=None):
    visitor = Visitor.objects.create(contact=contact)
    for body in bodies:
        message, _created = service.post_visitor_message(
            visitor, client_id=str(uuid.uuid4()), body=body, chatflow_id=chatflow.pk
        )
    return Conversation.objects.get(pk=message.conversation_id)


def listed(response):
    html = response.content.decode()
    return {
        int(pk)
        for pk in re.findall(r'<tr class="livechat-row[^"]*" data-conversation="(\d+)"', html)
    }


# -- The search function ----------------------------------------------------


def test_search_finds_messages_and_contacts(inboxes):
    _sales, _support, flow, _help = inboxes
    refund = chat(flow, "Hello", "I would like a REFUND for order 42")
    ada = chat(
        flow, "Hi", contact=Contact.objects.create(email="ada@example.com", name="Ada Lovelace")
    )
    chat(flow, "Where is my parcel?")
    everything = Conversation.objects.all()

    def found(query):
        return set(search.matching(everything, query).values_list("pk", flat=True))

    assert found("refund") == {refund.pk}  # any case
    assert found("refund order") == {refund.pk}  # every word, in one message
    assert found("refund parcel") == set()
    assert found("lovelace") == {ada.pk}  # the contact's name
    assert found("ada@example") == {ada.pk}  # and address
    assert found("nothing like it") == set()
    assert found("   ") == set(everything.values_list("pk", flat=True))  # no query: all


def test_search_never_widens_the_queryset_and_bounds_the_query(inboxes):
    _sales, _support, flow, help_flow = inboxes
    chat(flow, "refund please")
    theirs = chat(help_flow, "refund please")
    mine = Conversation.objects.exclude(pk=theirs.pk)
    assert theirs.pk not in search.matching(mine, "refund").values_list("pk", flat=True)
    # Quotes and operators are words; a huge query is cut, not an error.
    odd = search.matching(Conversation.objects.all(), '"refund & | ! ( :*')
    assert len(odd) <= 2  # runs on every database (PostgreSQL takes the words)
    assert theirs.pk not in search.matching(mine, '"refund & | ! (').values_list("pk", flat=True)
    assert search.words("a " * 500) == ["a"] * search.MAX_WORDS


def test_searching_notes_too(inboxes, sam):
    _sales, _support, flow, _help = inboxes
    conversation = chat(flow, "Hello")
    service.post_agent_message(
        sam, conversation.pk, client_id="note-00001", body="VIP customer", note=True
    )
    assert list(search.matching(Conversation.objects.all(), "vip")) == [conversation]


# -- The list: search and label filters -------------------------------------


def test_the_list_searches_only_the_agents_inboxes(client_of, inboxes):
    _sales, _support, flow, help_flow = inboxes
    mine = chat(flow, "My invoice is wrong")
    chat(help_flow, "My invoice is wrong")  # another inbox: never shown
    chat(flow, "Something else")
    assert listed(client_of.get(INDEX, {"q": "invoice"})) == {mine.pk}
    html = client_of.get(INDEX, {"q": "invoice"}).content.decode()
    assert "1 conversation found" in html
    # The links carry the filters: the conversation's page lists the same.
    assert f'href="/admin/livechat/{mine.pk}/?q=invoice"' in html


def test_a_query_longer_than_allowed_is_ignored_not_an_error(client_of, inboxes):
    chat(inboxes[2], "Hello")
    response = client_of.get(INDEX, {"q": "x" * (search.MAX_QUERY + 1)})
    assert response.status_code == 200
    assert len(listed(response)) == 1  # the filter falls back to none


def test_the_list_filters_by_label(client_of, sam, inboxes):
    _sales, _support, flow, help_flow = inboxes
    billing = chat(flow, "one")
    chat(flow, "two")
    service.set_label(sam, billing.pk, "Billing", True)
    html = client_of.get(INDEX).content.decode()
    assert '<option value="billing">billing</option>' in html  # offered in the filter
    assert listed(client_of.get(INDEX, {"label": "billing"})) == {billing.pk}
    assert '<li class="livechat-label">billing</li>' in html  # shown on the row
    # A label used only in another inbox is neither offered nor a filter.
    other = chat(help_flow, "three")
    ConversationLabel.objects.create(conversation=other, name="secret")
    html = client_of.get(INDEX).content.decode()
    assert "secret" not in html
    assert len(listed(client_of.get(INDEX, {"label": "secret"}))) == 2  # invalid: no filter


def test_the_conversation_page_shows_the_list_beside_it(client_of, inboxes):
    flow = inboxes[2]
    first = chat(flow, "first")
    second = chat(flow, "second")
    html = client_of.get(f"/admin/livechat/{first.pk}/?q=second").content.decode()
    side = re.search(r'<nav class="livechat-side".*?</nav>', html, re.S).group(0)
    items = re.findall(r'<li class="livechat-item[^"]*" data-conversation="(\d+)"', side)
    assert items == [str(second.pk)]  # the search the agent came from
    assert 'href="/admin/livechat/?q=second"' in side


def test_the_unread_ids_feed_the_title_count(client_of, inboxes, sam):
    flow = inboxes[2]
    unread = chat(flow, "new")
    read = chat(flow, "old")
    service.mark_read(sam, read.pk, read.last_seq)
    chat(inboxes[3], "elsewhere")  # not the agent's
    html = client_of.get(INDEX).content.decode()
    settings = re.search(
        r'<script id="livechat-filters" type="application/json">(.*?)</script>', html
    )
    assert f'"unread": [{unread.pk}]' in settings.group(1)


# -- Labels -------------------------------------------------------------------


def test_labels_are_cleaned_bounded_and_authorised(inboxes, sam, django_user_model):
    _sales, _support, flow, help_flow = inboxes
    conversation = chat(flow, "Hello")
    service.set_label(sam, conversation.pk, "  Needs   Follow-up ", True)
    service.set_label(sam, conversation.pk, "needs follow-up", True)  # already there
    assert service.conversation_data(conversation)["labels"] == ["needs follow-up"]
    service.set_label(sam, conversation.pk, "NEEDS FOLLOW-UP", False)
    assert ConversationLabel.objects.count() == 0
    with pytest.raises(service.ServiceError) as error:
        service.set_label(sam, conversation.pk, "x" * 41, True)
    assert error.value.code == "too_long"
    with pytest.raises(service.ServiceError) as error:
        service.set_label(sam, conversation.pk, "   ", True)
    assert error.value.code == "bad_frame"
    for i in range(10):
        service.set_label(sam, conversation.pk, f"label {i}", True)
    with pytest.raises(service.ServiceError) as error:
        service.set_label(sam, conversation.pk, "one too many", True)
    assert error.value.code == "too_many_labels"
    elsewhere = chat(help_flow, "Hi")
    with pytest.raises(service.Forbidden):
        service.set_label(sam, elsewhere.pk, "mine now", True)
    assert not elsewhere.labels.exists()


def test_postgresql_serves_the_search_from_its_gin_index(inboxes):
    """The index migration 0013 adds is built on the expression the search
    uses (else PostgreSQL would read every message)."""
    if connection.vendor != "postgresql":
        pytest.skip("the full-text index is PostgreSQL's")
    from django.contrib.postgres.search import SearchQuery

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexdef FROM pg_indexes WHERE indexname = %s", ["livechat_message_search"]
        )
        (definition,) = cursor.fetchone()
    assert "USING gin" in definition and "to_tsvector" in definition
    chat(inboxes[2], "refund please")
    query = SearchQuery("refund", config=search.CONFIG, search_type="plain")
    messages = Message.objects.annotate(found=search.search_vector()).filter(found=query)
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # a tiny table: make it choose
        plan = messages.explain()
    assert "livechat_message_search" in plan, plan
    assert messages.count() == 1
