"""Outbound webhooks: signing, subscriptions held in memory, and delivery to
a real HTTP receiver on this machine (in a thread) that fails first, so
that the retry is proven too."""

import json
import re
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.urls import reverse

from tests.livechat_factories import make_agent, make_chatflow, make_inbox
from wagtail_livechat import service, tasks, webhooks
from wagtail_livechat.models import Contact, Conversation, Visitor, Webhook, WebhookDelivery

SECRET = "s3cret-for-tests"  # noqa: S105


# -- A receiver ------------------------------------------------------------------


class Receiver:
    """An HTTP server in a thread; ``answer(handler, count)`` gives each
    request's ``(status, body, headers)``, ``count`` being how many times
    that delivery id came before."""

    def __init__(self, answer):
        self.answer = answer
        self.requests = []
        self.seen: dict[str, int] = {}
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                delivery = self.headers.get("Livechat-Delivery", "")
                count = receiver.seen.get(delivery, 0)
                receiver.seen[delivery] = count + 1
                receiver.requests.append((self.path, dict(self.headers), body))
                status, text, headers = receiver.answer(self, count)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                data = text.encode()
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"

    def __enter__(self):
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def wait_for(condition, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


@contextmanager
def fast_retries(settings, attempts=6):
    settings.WAGTAIL_LIVECHAT_WEBHOOK_BACKOFF = 0.2
    settings.WAGTAIL_LIVECHAT_WEBHOOK_MAX_ATTEMPTS = attempts
    settings.WAGTAIL_LIVECHAT_WEBHOOK_TIMEOUT = 2
    yield
    tasks.drain()


# -- Signing ---------------------------------------------------------------------


def test_signature_is_hmac_sha256_of_timestamp_and_body_and_refuses_replays():
    import hashlib
    import hmac

    body = b'{"event":"message.created"}'
    header = webhooks.sign(SECRET, body, 1_700_000_000)
    expected = hmac.new(SECRET.encode(), b"1700000000." + body, hashlib.sha256).hexdigest()
    assert header == f"t=1700000000,v1={expected}"
    assert webhooks.verify(SECRET, body, header, now=1_700_000_100)
    assert not webhooks.verify(SECRET, body + b" ", header, now=1_700_000_100)  # tampered
    assert not webhooks.verify("other", body, header, now=1_700_000_100)  # wrong secret
    assert not webhooks.verify(SECRET, body, header, now=1_700_000_301)  # replayed later
    assert not webhooks.verify(SECRET, body, "t=x,v1=y")
    assert not webhooks.verify(SECRET, body, "garbage")


def test_backoff_doubles_and_is_capped(settings):
    settings.WAGTAIL_LIVECHAT_WEBHOOK_BACKOFF = 10
    settings.WAGTAIL_LIVECHAT_WEBHOOK_BACKOFF_MAX = 60
    assert [webhooks.backoff(n) for n in range(1, 6)] == [10, 20, 40, 60, 60]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "events", "field"),
    [
        ("ftp://example.com/hook", ["message.created"], "url"),
        ("javascript:alert(1)", ["message.created"], "url"),
        ("https://example.com/hook", [], "events"),
        ("https://example.com/hook", ["message.deleted"], "events"),
    ],
)
def test_a_webhook_takes_http_urls_and_known_events_only(url, events, field):
    with pytest.raises(ValidationError) as error:
        Webhook(name="w", url=url, events=events).full_clean()
    assert field in error.value.message_dict
    Webhook(name="w", url="https://example.com/hook", events=["message.created"]).full_clean()


# -- Who listens, in memory ----------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_subscriptions_are_held_in_memory_and_follow_changes(django_assert_num_queries):
    assert not webhooks.subscribed("message.created")
    hook = Webhook.objects.create(name="w", url="https://example.com/", events=["message.created"])
    with django_assert_num_queries(1):
        assert webhooks.subscribed("message.created")
        assert not webhooks.subscribed("contact.created")
    with django_assert_num_queries(0):  # held: the message path asks it every time
        for _ in range(100):
            webhooks.subscribed("message.created")
    hook.events = ["contact.created"]
    hook.save()
    assert webhooks.subscribed("contact.created") and not webhooks.subscribed("message.created")
    hook.active = False
    hook.save()
    assert not webhooks.subscribed("contact.created")
    hook.active = True
    hook.save()
    assert webhooks.subscribed("contact.created")
    hook.delete()
    assert not webhooks.subscribed("contact.created")


@pytest.mark.django_db(transaction=True)
def test_another_process_change_is_seen_within_the_check_interval(settings):
    settings.WAGTAIL_LIVECHAT_WEBHOOK_CHECK_EVERY = 0.1
    assert not webhooks.subscribed("survey.answered")
    # As another process would: no signal in this one.
    Webhook.objects.bulk_create(
        [Webhook(name="w", url="https://example.com/", events=["survey.answered"])]
    )
    assert not webhooks.subscribed("survey.answered")  # held ...
    assert wait_for(lambda: webhooks.subscribed("survey.answered"), 2)  # ... for a while


# -- Delivery to a real receiver ---------------------------------------------------


@pytest.fixture
def room(db):
    agent = make_agent("alex", first_name="Alex")
    inbox = make_inbox(members=[agent])
    return agent, make_chatflow(inbox), Visitor.objects.create()


@pytest.mark.django_db(transaction=True)
def test_events_reach_the_receiver_signed_and_a_failed_attempt_is_retried(settings, room):
    _agent, chatflow, visitor = room

    def answer(handler, count):
        return (500, "not now", {}) if count == 0 else (200, "ok", {})

    with Receiver(answer) as receiver, fast_retries(settings):
        hook = Webhook.objects.create(
            name="CRM",
            url=receiver.url + "/hooks/livechat",
            events=["conversation.created", "message.created"],
            secret=SECRET,
        )
        message, _ = service.post_visitor_message(
            visitor, client_id="c-0001", body="Hello <b>there</b>", chatflow_id=chatflow.pk
        )
        done = WebhookDelivery.objects.filter(status=WebhookDelivery.Status.SUCCEEDED)
        assert wait_for(lambda: done.count() == 2), list(WebhookDelivery.objects.values())

    conversation = Conversation.objects.get()
    # Each delivery: a 500 first, then the retry with the same id and body.
    assert len(receiver.requests) == 4
    assert set(receiver.seen.values()) == {2}
    for path, headers, body in receiver.requests:
        assert path == "/hooks/livechat"
        assert headers["Content-Type"] == "application/json"
        assert webhooks.verify(SECRET, body, headers["Livechat-Signature"])
        assert not webhooks.verify("wrong", body, headers["Livechat-Signature"])
        payload = json.loads(body)
        assert payload["event"] == headers["Livechat-Event"]
        assert payload["id"] == headers["Livechat-Delivery"]
    bodies = {json.loads(body)["event"]: json.loads(body) for _p, _h, body in receiver.requests}
    assert bodies["conversation.created"]["data"]["id"] == conversation.pk
    data = bodies["message.created"]["data"]
    assert data["id"] == message.pk and data["conversation"] == conversation.pk
    assert data["body"] == "Hello <b>there</b>" and data["author"] == "visitor"
    for delivery in hook.deliveries.all():
        assert delivery.attempts == 2
        assert delivery.response_code == 200 and delivery.response_excerpt == "ok"
        assert delivery.next_attempt_at is None and delivery.error == ""


@pytest.mark.django_db(transaction=True)
def test_a_delivery_fails_after_its_attempts_keeping_a_bounded_excerpt(settings):
    def answer(handler, count):
        return 503, "x" * 5000, {}

    with Receiver(answer) as receiver, fast_retries(settings, attempts=3):
        hook = Webhook.objects.create(
            name="w", url=receiver.url, events=["contact.created"], secret=SECRET
        )
        Contact.objects.create(email="ann@example.com")
        failed = WebhookDelivery.objects.filter(status=WebhookDelivery.Status.FAILED)
        assert wait_for(failed.exists)
    delivery = hook.deliveries.get()
    assert delivery.attempts == 3 == len(receiver.requests)
    assert delivery.response_code == 503
    assert delivery.response_excerpt == "x" * 1000
    assert delivery.payload["data"]["email"] == "ann@example.com"


@pytest.mark.django_db(transaction=True)
def test_an_event_without_subscribers_stores_and_sends_nothing(settings, room):
    _agent, chatflow, visitor = room
    Webhook.objects.create(name="w", url="https://example.invalid/", events=["survey.answered"])
    Webhook.objects.create(
        name="off", url="https://example.invalid/", events=["message.created"], active=False
    )
    service.post_visitor_message(visitor, client_id="c-0001", body="hi", chatflow_id=chatflow.pk)
    tasks.drain()
    assert not WebhookDelivery.objects.exists()


def test_redirects_are_followed_only_to_the_same_origin(settings):
    settings.WAGTAIL_LIVECHAT_WEBHOOK_TIMEOUT = 2

    def answer(handler, count):
        if handler.path == "/moved":
            return 308, "", {"Location": "/here"}
        if handler.path == "/away":
            # Same port, other host name: another origin.
            return 307, "", {"Location": f"http://localhost:{handler.server.server_port}/here"}
        if handler.path == "/see-other":
            return 302, "", {"Location": "/here"}
        return 200, "arrived", {}

    with Receiver(answer) as receiver:
        assert webhooks.post(receiver.url + "/moved", b"{}", {}) == (200, "arrived", "")
        code, _text, error = webhooks.post(receiver.url + "/away", b"{}", {})
        assert code == 307 and "another host" in error
        code, _text, error = webhooks.post(receiver.url + "/see-other", b"{}", {})
        assert code == 302 and error == "redirect not followed"
    assert [path for path, _h, _b in receiver.requests] == [
        "/moved",
        "/here",
        "/away",
        "/see-other",
    ]


def test_a_slow_receiver_times_out(settings):
    settings.WAGTAIL_LIVECHAT_WEBHOOK_TIMEOUT = 0.3
    release = threading.Event()

    def answer(handler, count):
        release.wait(5)
        return 200, "late", {}

    with Receiver(answer) as receiver:
        started = time.monotonic()
        code, _text, error = webhooks.post(receiver.url, b"{}", {})
        release.set()
    assert code is None and "Timeout" in error
    assert time.monotonic() - started < 3


@pytest.mark.django_db(transaction=True)
def test_the_retry_command_attempts_what_is_due(settings):
    def answer(handler, count):
        return 200, "ok", {}

    with Receiver(answer) as receiver:
        hook = Webhook.objects.create(name="w", url=receiver.url, events=["contact.created"])
        webhooks.forget()
        # Left behind by a process that died before its first attempt.
        delivery = WebhookDelivery.objects.create(
            webhook=hook, event="contact.created", payload={"id": "x", "data": {}}
        )
        call_command("livechat_webhooks", "--retry", stdout=open("/dev/null", "w"))  # noqa: SIM115
    delivery.refresh_from_db()
    assert delivery.status == "succeeded" and delivery.attempts == 1
    assert len(receiver.requests) == 1
    # Done: a second run (or a late timer) posts nothing again.
    assert webhooks.attempt_delivery.call(delivery.pk) == "not due"


# -- In the admin ----------------------------------------------------------------------


@pytest.mark.django_db
def test_webhooks_are_configured_in_the_admin(admin_client):
    url = reverse("wagtail_livechat_webhooks:add")
    response = admin_client.get(url)
    assert response.status_code == 200
    assert b'type="checkbox" name="events" value="message.created"' in response.content
    response = admin_client.post(
        url,
        {
            "name": "CRM",
            "url": "https://crm.example.com/hook",
            "events": ["message.created", "contact.created"],
            "secret": SECRET,
            "active": "on",
        },
    )
    assert response.status_code == 302, response.context["form"].errors
    hook = Webhook.objects.get()
    assert hook.events == ["message.created", "contact.created"]
    response = admin_client.post(
        url, {"name": "bad", "url": "file:///etc/passwd", "events": ["x"], "secret": "s"}
    )
    assert response.status_code == 200
    assert set(response.context["form"].errors) == {"url", "events"}
    edit = admin_client.get(reverse("wagtail_livechat_webhooks:edit", args=[hook.pk]))
    checked = re.findall(
        r'<input[^>]*name="events"[^>]*value="([a-z.]+)"[^>]*checked', edit.content.decode()
    )
    assert checked == ["message.created", "contact.created"]
    listing = admin_client.get(reverse("wagtail_livechat_webhooks:list"))
    deliveries = reverse("wagtail_livechat_webhook_deliveries:index")
    assert f'href="{deliveries}?webhook={hook.pk}"'.encode() in listing.content


@pytest.mark.django_db
def test_deliveries_are_listed_per_webhook_read_only(admin_client):
    first = Webhook.objects.create(
        name="First", url="https://a.example/", events=["survey.answered"]
    )
    second = Webhook.objects.create(
        name="Second", url="https://b.example/", events=["survey.answered"]
    )
    mine = WebhookDelivery.objects.create(
        webhook=first,
        event="survey.answered",
        payload={"data": {}},
        status="failed",
        attempts=6,
        response_code=502,
        response_excerpt="Bad gateway <script>",
    )
    WebhookDelivery.objects.create(
        webhook=second, event="message.created", payload={}, response_excerpt="other"
    )
    index = reverse("wagtail_livechat_webhook_deliveries:index")
    response = admin_client.get(index, {"webhook": first.pk})
    assert response.status_code == 200
    assert list(response.context["object_list"]) == [mine]
    assert reverse("wagtail_livechat_webhook_deliveries:add").encode() not in response.content
    inspect = admin_client.get(
        reverse("wagtail_livechat_webhook_deliveries:inspect", args=[mine.pk])
    )
    assert b"Bad gateway &lt;script&gt;" in inspect.content and b"502" in inspect.content
    # A record: nobody adds, edits or deletes one here.
    assert admin_client.get(reverse("wagtail_livechat_webhook_deliveries:add")).status_code in (
        302,
        403,
    )
    edit = reverse("wagtail_livechat_webhook_deliveries:edit", args=[mine.pk])
    assert admin_client.post(edit, {}).status_code in (302, 403)
    assert WebhookDelivery.objects.filter(pk=mine.pk, response_code=502).exists()
    # Someone without the permission does not see them.
    editor = make_agent("editor")
    admin_client.force_login(editor)
    assert admin_client.get(index).status_code in (302, 403)
