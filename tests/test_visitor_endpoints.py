"""HTTP endpoints a visitor's widget calls after they interact: identity and
knowledge-base search."""

import pytest
from django.test import override_settings

from tests.livechat_factories import make_chatflow, make_inbox
from wagtail_livechat import identity, service
from wagtail_livechat.models import Chatflow, Contact, Visitor

pytestmark = pytest.mark.django_db


def start(client, origin="http://testserver", **extra):
    headers = {"HTTP_ORIGIN": origin} if origin else {}
    return client.post("/livechat/visitor/", **headers, **extra)


def test_first_message_identity_sets_a_signed_httponly_cookie(client):
    response = start(client)
    assert response.status_code == 201
    morsel = response.cookies["livechat_visitor"]
    assert morsel["httponly"] and morsel["samesite"] == "Lax"
    key = identity.unsign(morsel.value)
    visitor = Visitor.objects.get()
    assert key == visitor.key and len(key) >= 32  # 24 random bytes, base64


def test_identity_is_not_renewed_for_a_known_visitor(client):
    start(client)
    response = start(client)
    assert response.status_code == 200
    assert "livechat_visitor" not in response.cookies
    assert Visitor.objects.count() == 1


@override_settings(WAGTAIL_LIVECHAT_ALLOWED_ORIGINS=["https://example.com"])
@pytest.mark.parametrize(
    "origin",
    [
        None,
        "http://evil.example",
        "null",
        "https://testserver",  # the site's host, another scheme
        "http://testserver:9999",  # another port
        "http://example.com",  # an allowed origin's host, another scheme
        "https://example.com:8443",
        "http://[::1",
    ],
)
def test_foreign_or_missing_origin_is_refused(client, origin):
    response = start(client, origin=origin)
    assert response.status_code == 403
    assert response.json() == {"error": "forbidden_origin"}
    assert Visitor.objects.count() == 0


@override_settings(WAGTAIL_LIVECHAT_ALLOWED_ORIGINS=["https://example.com", "https://.example.org"])
@pytest.mark.parametrize(
    "origin", ["https://example.com", "https://www.example.org", "http://testserver"]
)
def test_allowed_origins_and_own_host_are_accepted(client, origin):
    assert start(client, origin=origin).status_code == 201


def test_get_is_not_allowed(client):
    assert client.get("/livechat/visitor/").status_code == 405


def test_start_is_rate_limited_per_address(client):
    codes = [start(client.__class__()).status_code for _ in range(22)]
    assert codes[:20] == [201] * 20 and codes[20:] == [429, 429]


def test_config_tells_a_returning_visitor_to_resume(client, demo):
    url = f"/livechat/config/?url=http://testserver/&page={demo.pk}"
    assert "resume" not in client.get(url).json()["chatflow"]
    start(client)
    # Identified, but nothing to resume until a conversation is open.
    assert client.get(url).json()["chatflow"]["resume"] is False
    chatflow = Chatflow.objects.get(name="Website chat")
    message, _ = service.post_visitor_message(
        Visitor.objects.get(), client_id="client-0001", body="Hi", chatflow_id=chatflow.pk
    )
    assert client.get(url).json()["chatflow"]["resume"] is True
    service.set_status(demo_admin(), message.conversation_id, "closed")
    assert client.get(url).json()["chatflow"]["resume"] is False


def demo_admin():
    from django.contrib.auth import get_user_model

    return get_user_model().objects.get(username="admin")


def test_known_contact_filter_uses_the_visitor_identity(client, demo):
    chatflow = Chatflow.objects.get(name="Website chat")
    chatflow.visitor_filters.create(group=1, attribute="contact", operator="is", value="known")
    chatflow.save_revision().publish()
    url = f"/livechat/config/?url=http://testserver/&page={demo.pk}"
    assert client.get(url).json()["chatflow"] is None
    start(client)
    assert client.get(url).json()["chatflow"] is None  # identified, but no contact yet
    visitor = Visitor.objects.get()
    visitor.contact = Contact.objects.create(email="ann@example.com")
    visitor.save()
    assert client.get(url).json()["chatflow"]["id"] == chatflow.pk


def search(client, chatflow, q):
    return client.get("/livechat/search/", {"chatflow": chatflow, "q": q})


def test_search_finds_live_articles_under_the_knowledge_base(client, demo):
    from django.core.management import call_command

    call_command("update_index", stdout=open("/dev/null", "w"))  # noqa: SIM115
    chatflow = Chatflow.objects.get(name="Website chat")
    results = search(client, chatflow.pk, "password").json()["results"]
    assert [r["title"] for r in results] == ["Resetting your password"]
    assert results[0]["url"].endswith("/help/reset-password/")
    # Pages outside the knowledge base are never returned.
    assert search(client, chatflow.pk, "pricing").json()["results"] == []


def test_search_refuses_a_chatflow_without_knowledge_base(client, db):
    chatflow = make_chatflow(make_inbox())
    assert search(client, chatflow.pk, "password").status_code == 404


@pytest.mark.parametrize(
    "params",
    [{}, {"chatflow": "x", "q": "ab"}, {"chatflow": 1, "q": "a"}, {"chatflow": 1, "q": "x" * 201}],
)
def test_search_validates_input(client, db, params):
    response = client.get("/livechat/search/", params)
    assert response.status_code == 400 and response.json()["error"] == "invalid"


@override_settings(WAGTAIL_LIVECHAT_TRUSTED_PROXIES=["10.0.0.0/8"])
def test_behind_a_trusted_proxy_each_visitor_has_their_own_budget(client):
    def start_from(address, proxy="10.0.0.2"):
        return start(client.__class__(), REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR=address)

    codes = [start_from("198.51.100.1").status_code for _ in range(21)]
    assert codes[:20] == [201] * 20 and codes[20] == 429
    # Another visitor behind the same proxy is not held back...
    assert start_from("198.51.100.2").status_code == 201
    # ...and an untrusted peer cannot borrow another's budget by saying so.
    assert start_from("198.51.100.3", proxy="203.0.113.9").status_code == 201
    codes = [start_from("198.51.100.4", proxy="203.0.113.9").status_code for _ in range(20)]
    assert 429 in codes


@pytest.mark.parametrize(
    "q", ['"hello', '"""', 'x"y"z', "a'b", "((", "NEAR(a b)", "a OR", "a*", "^a", "a:b", "\\\\"]
)
def test_search_takes_query_syntax_as_plain_words(client, demo, q):
    """A lone quote once reached the database backend's full-text match and
    answered 500; a visitor's words are plain text, never query syntax."""
    chatflow = Chatflow.objects.get(name="Website chat")
    response = client.get("/livechat/search/", {"chatflow": chatflow.pk, "q": q})
    assert response.status_code == 200
    assert isinstance(response.json()["results"], list)


@pytest.mark.parametrize(
    "url", ["http://[::1", "http://[::1]:99999/", "http://[zz]/", "http://%ud800/", "http://a:b@[/"]
)
def test_config_refuses_or_answers_malformed_urls_never_500(client, demo, url):
    response = client.get("/livechat/config/", {"url": url, "page": demo.pk})
    assert response.status_code in (200, 400)
