"""The agents' inbox in the Wagtail admin: list, conversation, menu, access."""

import json
import re
import uuid
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from wagtail_livechat import service
from wagtail_livechat.models import CannedResponse, Chatflow, Conversation, Inbox, Visitor

pytestmark = pytest.mark.django_db

INDEX = "/admin/livechat/"


# -- Fixtures --------------------------------------------------------------


@pytest.fixture
def sales(demo):
    return Inbox.objects.get(name="Sales")


@pytest.fixture
def support(demo):
    return Inbox.objects.get(name="Support")


@pytest.fixture
def sales_flow(demo):
    return Chatflow.objects.get(name="Website chat", live=True)


@pytest.fixture
def support_flow(support):
    chatflow = Chatflow(name="Support chat", inbox=support, team_name="Support", live=False)
    chatflow.save()
    chatflow.save_revision().publish()
    chatflow.refresh_from_db()
    assert chatflow.live
    return chatflow


def make_agent(django_user_model, username, *inboxes, first_name=""):
    """A Wagtail admin user (not a superuser), member of these inboxes."""
    user = django_user_model.objects.create_user(
        username, f"{username}@example.com", "password", first_name=first_name
    )
    user.user_permissions.add(
        Permission.objects.get(content_type__app_label="wagtailadmin", codename="access_admin")
    )
    for inbox in inboxes:
        inbox.users.add(user)
        inbox.save()
    return user


@pytest.fixture
def agent(django_user_model, sales):
    return make_agent(django_user_model, "sam", sales, first_name="Sam")


@pytest.fixture
def agent_client(agent):
    client = Client()
    client.force_login(agent)
    return client


@pytest.fixture
def superuser(demo):
    return get_user_model().objects.get(username="admin")  # the demo's superuser


@pytest.fixture
def superuser_client(superuser):
    client = Client()
    client.force_login(superuser)
    return client


def chat(chatflow, body="Hello", visitor=None):
    """A visitor writes through the service layer; returns the conversation."""
    visitor = visitor or Visitor.objects.create()
    message, _created = service.post_visitor_message(
        visitor, client_id=str(uuid.uuid4()), body=body, chatflow_id=chatflow.pk
    )
    return Conversation.objects.get(pk=message.conversation_id)


def listed(response):
    """The conversation ids of the list, in their order."""
    return [
        int(pk)
        for pk in re.findall(
            r'<tr class="livechat-row[^"]*" data-conversation="(\d+)"', response.content.decode()
        )
    ]


def sidebar_labels(response):
    """Labels of the "Live chat" submenu, in order, from the sidebar props."""
    html = response.content.decode()
    props = re.search(
        r'<script id="wagtail-sidebar-props" type="application/json">(.*?)</script>', html, re.S
    )
    data = json.loads(props.group(1))

    def find(node):
        if isinstance(node, dict):
            args = node.get("_args")
            if (
                node.get("_type") == "wagtail.sidebar.SubMenuItem"
                and args[0].get("name") == "livechat"
            ):
                return [item["_args"][0]["label"] for item in args[1]]
            for value in node.values():
                found = find(value)
                if found is not None:
                    return found
        elif isinstance(node, list):
            for value in node:
                found = find(value)
                if found is not None:
                    return found
        return None

    return find(data)


# -- Access ----------------------------------------------------------------


def test_anonymous_users_are_sent_to_the_login(client, demo):
    response = client.get(INDEX)
    assert response.status_code == 302
    assert reverse("wagtailadmin_login") in response["Location"]


def test_users_without_admin_access_are_refused(client, django_user_model, sales_flow):
    user = django_user_model.objects.create_user("visitor", "v@example.com", "password")
    Inbox.objects.get(name="Sales").users.add(user)
    conversation = chat(sales_flow)
    client.force_login(user)
    assert client.get(INDEX).status_code == 302
    assert (
        client.get(
            reverse("wagtail_livechat_inbox:conversation", args=[conversation.pk])
        ).status_code
        == 302
    )


def test_url_names(demo):
    assert reverse("wagtail_livechat_inbox:index") == INDEX
    assert reverse("wagtail_livechat_inbox:conversation", args=[7]) == "/admin/livechat/7/"


def test_snippet_viewsets_keep_their_urls(superuser_client, demo):
    for url in (
        "/admin/livechat/chatflows/",
        "/admin/livechat/inboxes/",
        "/admin/livechat/canned-responses/",
    ):
        assert superuser_client.get(url).status_code == 200, url


def test_a_conversation_of_another_inbox_is_forbidden(agent_client, support_flow):
    conversation = chat(support_flow)
    response = agent_client.get(
        reverse("wagtail_livechat_inbox:conversation", args=[conversation.pk])
    )
    assert response.status_code == 403
    assert b"Hello" not in response.content


def test_a_missing_conversation_is_not_found(agent_client, demo):
    assert agent_client.get("/admin/livechat/999999/").status_code == 404


def test_members_and_superusers_see_the_conversation(
    agent_client, superuser_client, sales_flow, support_flow
):
    mine = chat(sales_flow)
    other = chat(support_flow)
    assert agent_client.get(f"/admin/livechat/{mine.pk}/").status_code == 200
    assert superuser_client.get(f"/admin/livechat/{other.pk}/").status_code == 200


def test_membership_through_a_group(client, django_user_model, support, support_flow):
    from django.contrib.auth.models import Group

    group = Group.objects.create(name="Support team")
    support.groups.add(group)
    support.save()
    user = make_agent(django_user_model, "gina")
    user.groups.add(group)
    conversation = chat(support_flow)
    client.force_login(user)
    assert listed(client.get(INDEX)) == [conversation.pk]
    assert client.get(f"/admin/livechat/{conversation.pk}/").status_code == 200


# -- The list --------------------------------------------------------------


def test_list_shows_only_the_agents_inboxes(
    agent_client, superuser_client, sales_flow, support_flow
):
    mine = chat(sales_flow)
    other = chat(support_flow)
    assert listed(agent_client.get(INDEX)) == [mine.pk]
    assert set(listed(superuser_client.get(INDEX))) == {mine.pk, other.pk}


def test_list_is_newest_first_with_unread_counts(agent_client, sales_flow):
    older = chat(sales_flow, "first")
    newer = chat(sales_flow, "second")
    service.post_visitor_message(
        older.visitor, client_id=str(uuid.uuid4()), body="again", chatflow_id=sales_flow.pk
    )
    response = agent_client.get(INDEX)
    assert listed(response) == [older.pk, newer.pk]
    html = response.content.decode()
    assert "2 unread" in html and "1 unread" in html
    assert "again" in html  # the last message as preview


def test_read_conversations_have_no_unread_badge(agent_client, agent, sales_flow):
    conversation = chat(sales_flow)
    service.mark_read(agent, conversation.pk, conversation.last_seq)
    html = agent_client.get(INDEX).content.decode()
    assert "1 unread" not in html
    assert 'class="livechat-row"' in html


def test_filters(agent_client, agent, django_user_model, sales, sales_flow, support, support_flow):
    support.users.add(agent)
    support.save()
    other_agent = make_agent(django_user_model, "olga", sales)
    unassigned = chat(sales_flow)
    mine = chat(sales_flow)
    service.assign(agent, mine.pk, agent.pk)
    theirs = chat(sales_flow)
    service.assign(agent, theirs.pk, other_agent.pk)
    closed = chat(sales_flow)
    service.set_status(agent, closed.pk, "closed")
    elsewhere = chat(support_flow)

    def ids(query=""):
        return set(listed(agent_client.get(INDEX + query)))

    assert ids() == {unassigned.pk, mine.pk, theirs.pk, elsewhere.pk}  # open by default
    assert ids("?status=open") == ids()
    assert ids("?status=closed") == {closed.pk}
    assert ids("?status=all") == {unassigned.pk, mine.pk, theirs.pk, closed.pk, elsewhere.pk}
    assert ids("?assigned=me") == {mine.pk}
    assert ids("?assigned=none") == {unassigned.pk, elsewhere.pk}
    assert ids(f"?inbox={support.pk}") == {elsewhere.pk}
    assert ids(f"?inbox={sales.pk}&assigned=none") == {unassigned.pk}
    assert ids("?status=all&assigned=me") == {mine.pk}
    # Invalid values fall back to the defaults rather than failing.
    assert ids("?status=bogus&assigned=x&inbox=abc") == ids()


def test_filter_by_an_inbox_of_someone_else_shows_nothing_of_it(
    agent_client, support, support_flow
):
    chat(support_flow)
    assert listed(agent_client.get(f"{INDEX}?inbox={support.pk}")) == []


def test_pagination(agent_client, sales_flow):
    conversations = [chat(sales_flow, f"message {i}") for i in range(27)]
    first = agent_client.get(INDEX)
    assert len(listed(first)) == 25
    assert listed(first)[0] == conversations[-1].pk
    second = agent_client.get(INDEX + "?p=2")
    assert listed(second) == [conversations[1].pk, conversations[0].pk]
    assert 'aria-label="Pagination"' in first.content.decode()


def test_list_page_has_the_live_parts(agent_client, agent, sales):
    html = agent_client.get(INDEX).content.decode()
    assert 'data-controller="livechat-inbox"' in html
    assert "wagtail_livechat/inbox.js" in html
    assert 'role="switch"' in html  # availability
    assert "Enable notifications" in html
    filters = json.loads(
        re.search(
            r'<script id="livechat-filters" type="application/json">(.*?)</script>', html
        ).group(1)
    )
    assert filters["status"] == "open" and filters["user"] == agent.pk
    assert '<template data-livechat-inbox-target="rowTemplate">' in html


def test_availability_is_shown(agent_client, agent, demo):
    service.set_availability(agent, False)
    html = agent_client.get(INDEX).content.decode()
    switch = re.search(r'<input type="checkbox" role="switch"[^>]*>', html).group(0)
    assert "checked" not in switch
    assert ">Away</span>" in html


def test_an_agent_without_inboxes_sees_an_explanation(client, django_user_model, demo):
    client.force_login(make_agent(django_user_model, "nora"))
    response = client.get(INDEX)
    assert response.status_code == 200
    assert "not a member of any inbox" in response.content.decode()


# -- Escaping --------------------------------------------------------------


def test_visitor_text_is_escaped(agent_client, sales_flow):
    conversation = chat(sales_flow, "<script>alert(1)</script>")
    for url in (INDEX, f"/admin/livechat/{conversation.pk}/"):
        html = agent_client.get(url).content.decode()
        assert "<script>alert(1)</script>" not in html, url
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, url


def test_visitor_page_and_contact_are_escaped(agent_client, sales_flow):
    visitor = Visitor.objects.create(
        page_url="https://example.com/?q=<b>x</b>", page_title='<img src=x onerror="alert(1)">'
    )
    conversation = chat(sales_flow, visitor=visitor)
    html = agent_client.get(f"/admin/livechat/{conversation.pk}/").content.decode()
    assert '<img src=x onerror="alert(1)">' not in html
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in html


# -- One conversation ------------------------------------------------------


def test_conversation_page(agent_client, agent, sales_flow):
    conversation = chat(sales_flow, "Where is my order?")
    service.post_agent_message(
        agent, conversation.pk, client_id=str(uuid.uuid4()), body="Looking", note=False
    )
    service.post_agent_message(
        agent, conversation.pk, client_id=str(uuid.uuid4()), body="VIP", note=True
    )
    html = agent_client.get(f"/admin/livechat/{conversation.pk}/").content.decode()
    assert 'data-controller="livechat-conversation"' in html
    assert 'role="log" aria-live="polite"' in html
    assert '<label class="w-field__label" for="livechat-reply"' in html and ">Reply</label>" in html
    assert "Internal note (only agents see it)" in html
    assert 'class="livechat-message livechat-message--agent livechat-message--note"' in html
    assert "Where is my order?" in html and "Looking" in html and "VIP" in html
    assert 'data-livechat-conversation-last-seq-value="3"' in html
    assert 'data-livechat-conversation-target="typing"' in html
    assert "Close conversation" in html and "Reopen conversation" in html
    # Assign: "Unassigned" and the members of the inbox; answering assigned Sam.
    select = re.search(r'<select id="livechat-assignee".*?</select>', html, re.S).group(0)
    assert ">Unassigned</option>" in select
    assert f'<option value="{agent.pk}" selected>Sam</option>' in select
    assert ">Alex</option>" in select  # the demo's admin is a member too


def test_conversation_context(agent_client, agent, sales_flow):
    from example_site.home.models import StandardPage

    pricing = StandardPage.objects.get(slug="pricing")
    visitor = Visitor.objects.create(
        page_url="http://localhost/pricing/", page_title="Pricing", page_id=pricing.pk
    )
    earlier = chat(sales_flow, "earlier", visitor=visitor)
    service.set_status(agent, earlier.pk, "closed")
    # A new conversation of the same visitor (a closed one would reopen).
    later = Conversation.objects.create(inbox=earlier.inbox, chatflow=sales_flow, visitor=visitor)
    service.capture_email(visitor, email="Ada@Example.com", subscribe=False, consent=True)
    html = agent_client.get(f"/admin/livechat/{later.pk}/").content.decode()
    assert "Pricing" in html and "http://localhost/pricing/" in html
    assert reverse("wagtailadmin_pages:edit", args=[pricing.pk]) in html
    assert "ada@example.com" in html
    assert "Consented to data processing" in html
    assert f'href="/admin/livechat/{earlier.pk}/"' in html


def test_canned_responses_of_the_inbox_are_in_the_page(agent_client, sales, support, sales_flow):
    CannedResponse.objects.create(inbox=sales, shortcut="hi", text="Hi! How can I help?")
    CannedResponse.objects.create(inbox=sales, shortcut="bye", text="Bye </script><b>")
    CannedResponse.objects.create(inbox=support, shortcut="other", text="Not for Sales")
    conversation = chat(sales_flow)
    html = agent_client.get(f"/admin/livechat/{conversation.pk}/").content.decode()
    data = re.search(
        r'<script id="livechat-canned-data" type="application/json">(.*?)</script>', html, re.S
    )
    assert json.loads(data.group(1)) == [
        {"shortcut": "bye", "text": "Bye </script><b>"},
        {"shortcut": "hi", "text": "Hi! How can I help?"},
    ]
    assert 'role="listbox"' in html


# -- The menu --------------------------------------------------------------


def test_menu_item_first_in_the_group_with_unread_count(superuser_client, superuser, sales_flow):
    assert sidebar_labels(superuser_client.get("/admin/")) == [
        "Conversations",
        "Chatflows",
        "Inboxes",
        "Contacts",
        "Consent records",
        "Canned responses",
        "Webhooks",
    ]
    first = chat(sales_flow)
    chat(sales_flow)
    assert sidebar_labels(superuser_client.get("/admin/"))[0] == "Conversations (2)"
    service.mark_read(superuser, first.pk, first.last_seq)
    assert sidebar_labels(superuser_client.get("/admin/"))[0] == "Conversations (1)"


def test_menu_count_only_counts_the_agents_inboxes(agent_client, sales_flow, support_flow):
    chat(sales_flow)
    chat(support_flow)
    assert sidebar_labels(agent_client.get(INDEX)) == ["Conversations (1)"]


def test_menu_item_hidden_without_inboxes(client, django_user_model, demo):
    client.force_login(make_agent(django_user_model, "nora"))
    assert sidebar_labels(client.get("/admin/")) is None


def test_updated_at_orders_the_list(agent_client, sales_flow):
    a = chat(sales_flow)
    b = chat(sales_flow)
    Conversation.objects.filter(pk=b.pk).update(updated_at=timezone.now() - timedelta(days=1))
    assert listed(agent_client.get(INDEX)) == [a.pk, b.pk]
