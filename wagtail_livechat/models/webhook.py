"""Webhook (an address that hears chosen events) and WebhookDelivery (one
event's journey to it: status, attempts, and what the receiver answered)."""

import secrets
import uuid

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ..signals import EVENTS

EVENT_CHOICES = [(name, name) for name in EVENTS]

# What a delivery keeps of the receiver's answer, in characters.
EXCERPT_LENGTH = 1000


def new_secret():
    """256 random bits: the key both ends sign and check payloads with."""
    return secrets.token_urlsafe(32)


def validate_events(value):
    if not isinstance(value, list) or not value:
        raise ValidationError(_("Choose at least one event."))
    unknown = sorted(set(value) - set(EVENTS))
    if unknown:
        raise ValidationError(
            _("Unknown events: %(events)s"), params={"events": ", ".join(unknown)}
        )


class Webhook(models.Model):
    name = models.CharField(_("name"), max_length=100)
    url = models.URLField(
        _("URL"),
        max_length=2048,
        validators=[URLValidator(schemes=["http", "https"])],
        help_text=_("Where events are posted (http or https). Redirects are not followed."),
    )
    events = models.JSONField(
        _("events"), default=list, validators=[validate_events], help_text=_("What to send.")
    )
    secret = models.CharField(
        _("secret"),
        max_length=128,
        default=new_secret,
        help_text=_(
            "The receiver checks each payload's signature with it (see docs/webhooks.md). "
            "Keep it secret; change it to revoke it."
        ),
    )
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("webhook")
        verbose_name_plural = _("webhooks")
        ordering = ["name"]

    def __str__(self):
        return self.name


class WebhookDelivery(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")

    webhook = models.ForeignKey(
        Webhook, on_delete=models.CASCADE, related_name="deliveries", verbose_name=_("webhook")
    )
    # Also the payload's "id": receivers drop an event they have seen.
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    event = models.CharField(_("event"), max_length=32, choices=EVENT_CHOICES)
    payload = models.JSONField(_("payload"))
    status = models.CharField(
        _("status"), max_length=9, choices=Status.choices, default=Status.PENDING
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    response_code = models.PositiveSmallIntegerField(_("response code"), null=True, blank=True)
    response_excerpt = models.TextField(_("response"), blank=True)
    error = models.CharField(_("error"), max_length=255, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    last_attempt_at = models.DateTimeField(_("last attempt"), null=True, blank=True)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)

    class Meta:
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["webhook", "-created_at"])]

    def __str__(self):
        return f"{self.event} → {self.webhook}"
