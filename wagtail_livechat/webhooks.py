"""Outbound webhooks: which events have subscribers, signing, delivery.

Which events active webhooks want is held per process (read again every
``WAGTAIL_LIVECHAT_WEBHOOK_CHECK_EVERY`` seconds, and at once after a change
made in this process), so that an event without subscribers costs nothing.

A delivery is a task (django-tasks), never work on a request or socket:
``deliver_event`` stores one :class:`WebhookDelivery` per subscribed webhook
and ``attempt_delivery`` posts it, retried with exponential backoff up to
``WAGTAIL_LIVECHAT_WEBHOOK_MAX_ATTEMPTS`` attempts. The body is JSON, signed
with HMAC-SHA256 over ``"<timestamp>.<body>"`` in the ``Livechat-Signature``
header as ``t=<timestamp>,v1=<hex>``: a receiver that checks the time too
cannot be fooled by a replayed request (see docs/webhooks.md).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import time
from datetime import timedelta
from urllib.parse import urljoin, urlsplit

import requests
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import F, Q
from django.utils import timezone
from django_tasks import task

from .conf import conf

log = logging.getLogger("wagtail_livechat")

SIGNATURE_HEADER = "Livechat-Signature"
# Redirects followed at most, and only to the same scheme, host and port.
MAX_REDIRECTS = 3
USER_AGENT = "wagtail-livechat-webhooks"

# -- Who listens ----------------------------------------------------------------

_subscriptions: dict[str, tuple[int, ...]] | None = None
_read_until = 0.0


def forget(**kwargs) -> None:
    """Read the subscriptions again at the next event (a signal receiver)."""
    global _subscriptions
    _subscriptions = None


def subscriptions() -> dict[str, tuple[int, ...]]:
    """Event name -> ids of the active webhooks that want it."""
    global _subscriptions, _read_until
    now = time.monotonic()
    if _subscriptions is None or now >= _read_until:
        from .models import Webhook

        found: dict[str, list[int]] = {}
        for pk, events in Webhook.objects.filter(active=True).values_list("pk", "events"):
            for event in events or ():
                found.setdefault(event, []).append(pk)
        _subscriptions = {event: tuple(pks) for event, pks in found.items()}
        _read_until = now + conf.WEBHOOK_CHECK_EVERY
    return _subscriptions


def subscribed(event: str) -> bool:
    return bool(subscriptions().get(event))


def enqueue(event: str, data: dict, at: str) -> None:
    """Hand an event to the task framework (called after commit)."""
    from .tasks import _enqueue

    _enqueue(deliver_event, (event, data, at))


# -- Signing ---------------------------------------------------------------------


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The ``Livechat-Signature`` header's value for ``body`` at ``timestamp``."""
    mac = hmac.new(secret.encode(), b"%d." % timestamp + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify(secret: str, body: bytes, header: str, tolerance: int = 300, now=None) -> bool:
    """Whether ``header`` signs ``body`` with ``secret`` within ``tolerance``
    seconds of ``now``: what a receiver written in Python checks."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    expected = sign(secret, body, timestamp).split(",v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))


def body_of(payload: dict) -> bytes:
    return json.dumps(payload, cls=DjangoJSONEncoder, separators=(",", ":")).encode()


# -- Posting ---------------------------------------------------------------------


def _origin(url: str):
    parts = urlsplit(url)
    return parts.scheme, parts.hostname, parts.port


def post(url: str, body: bytes, headers: dict) -> tuple[int | None, str, str]:
    """POST ``body``; returns ``(status code or None, the start of the
    answer, error)``. Redirects are followed only to the same origin (and
    only 307/308, which keep the method and body); never anywhere else."""
    from .models.webhook import EXCERPT_LENGTH

    for _hop in range(MAX_REDIRECTS + 1):
        if urlsplit(url).scheme not in ("http", "https"):
            return None, "", "not an http(s) URL"
        try:
            response = requests.post(
                url,
                data=body,
                headers=headers,
                timeout=conf.WEBHOOK_TIMEOUT,
                allow_redirects=False,
                stream=True,
            )
        except requests.RequestException as error:
            return None, "", f"{type(error).__name__}: {error}"[:255]
        with response:
            # Bounded: a receiver that answers gigabytes costs us a few bytes.
            raw = response.raw.read(EXCERPT_LENGTH * 4, decode_content=True) or b""
            excerpt = raw.decode(response.encoding or "utf-8", "replace")[:EXCERPT_LENGTH]
            location = response.headers.get("location")
        if response.status_code in (307, 308) and location:
            target = urljoin(url, location)
            if _origin(target) == _origin(url):
                url = target
                continue
            return response.status_code, excerpt, "redirect to another host not followed"
        if 300 <= response.status_code < 400:
            return response.status_code, excerpt, "redirect not followed"
        return response.status_code, excerpt, ""
    return response.status_code, excerpt, "too many redirects"


def backoff(attempts: int) -> float:
    """Seconds to wait after ``attempts`` failed attempts."""
    return min(conf.WEBHOOK_BACKOFF * 2 ** (attempts - 1), conf.WEBHOOK_BACKOFF_MAX)


# -- Tasks -------------------------------------------------------------------------


@task()
def deliver_event(event: str, data: dict, at: str) -> int:
    """Store a delivery for each active webhook that wants ``event`` and
    post each (its own task: a slow receiver holds up no other)."""
    from .models import Webhook, WebhookDelivery
    from .tasks import _enqueue

    created = []
    for webhook in Webhook.objects.filter(active=True):
        if event in (webhook.events or ()):
            delivery = WebhookDelivery(webhook=webhook, event=event)
            delivery.payload = {
                "id": str(delivery.uuid),
                "event": event,
                "created": at,
                "data": data,
            }
            delivery.save()
            created.append(delivery.pk)
    for pk in created:
        _enqueue(attempt_delivery, (pk,))
    return len(created)


@task()
def attempt_delivery(delivery_id: int) -> str:
    """One attempt; schedules the next one when it fails and attempts remain."""
    from .models import WebhookDelivery

    Status = WebhookDelivery.Status
    now = timezone.now()
    # Due: never attempted, or its retry's time has come (a second timer,
    # task or cron run for the same attempt finds it not due and stops).
    due = WebhookDelivery.objects.filter(pk=delivery_id, status=Status.PENDING).filter(
        Q(attempts=0) | Q(next_attempt_at__lte=now + timedelta(seconds=1))
    )
    delivery = due.select_related("webhook").first()
    if delivery is None:
        return "not due"
    webhook = delivery.webhook
    # Claimed by a conditional update: two workers never post it twice.
    if not due.filter(attempts=delivery.attempts).update(
        attempts=F("attempts") + 1, last_attempt_at=now, next_attempt_at=None
    ):
        return "taken"
    delivery.attempts += 1
    delivery.last_attempt_at, delivery.next_attempt_at = now, None
    if not webhook.active:
        code, excerpt, error = None, "", "webhook deactivated"
        delivery.attempts = conf.WEBHOOK_MAX_ATTEMPTS
    else:
        body = body_of(delivery.payload)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "Livechat-Event": delivery.event,
            "Livechat-Delivery": str(delivery.uuid),
            SIGNATURE_HEADER: sign(webhook.secret, body, int(time.time())),
        }
        code, excerpt, error = post(webhook.url, body, headers)
    ok = code is not None and 200 <= code < 300 and not error
    delivery.response_code, delivery.response_excerpt, delivery.error = code, excerpt, error
    if ok:
        delivery.status = Status.SUCCEEDED
    elif delivery.attempts >= conf.WEBHOOK_MAX_ATTEMPTS:
        delivery.status = Status.FAILED
    else:
        delivery.next_attempt_at = now + timedelta(seconds=backoff(delivery.attempts))
    delivery.save(
        update_fields=[
            "status",
            "response_code",
            "response_excerpt",
            "error",
            "next_attempt_at",
        ]
    )
    log.log(
        logging.INFO if ok else logging.WARNING,
        "livechat webhook event=%s webhook=%s attempt=%s code=%s status=%s",
        delivery.event,
        webhook.pk,
        delivery.attempts,
        code,
        delivery.status,
        extra={
            "event": delivery.event,
            "webhook": webhook.pk,
            "attempt": delivery.attempts,
            "code": code,
            "status": delivery.status,
        },
    )
    if delivery.status == Status.PENDING:
        schedule(delivery.pk, backoff(delivery.attempts))
    return delivery.status


def schedule(delivery_id: int, delay: float) -> None:
    """Attempt again in ``delay`` seconds: deferred by the task backend when
    it can; else by a timer of this process (``ImmediateBackend``; a
    delivery a dying process leaves pending is retried by
    ``manage.py livechat_webhooks --retry``)."""
    from .tasks import _enqueue

    if attempt_delivery.get_backend().supports_defer:
        run_after = timezone.now() + timedelta(seconds=delay)
        attempt_delivery.using(run_after=run_after).enqueue(delivery_id)
        return
    timer = threading.Timer(delay, _enqueue, (attempt_delivery, (delivery_id,)))
    timer.daemon = True
    timer.start()
