"""ConsentRecord: each consent a visitor gave or refused, as it was asked."""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .chatflow import Chatflow
from .contact import Contact, Visitor


class ConsentRecord(models.Model):
    """One answer to one consent question, kept as evidence: the exact text
    the visitor was shown, what they chose, when, and which chatflow (and
    which published revision of it) asked. Never changed once written; a
    contact's current consents are on :class:`Contact`."""

    class Kind(models.TextChoices):
        DATA = "data", _("Data processing")
        COMMUNICATION = "communication", _("Communication")
        COOKIES = "cookies", _("Cookies")

    kind = models.CharField(_("consent"), max_length=13, choices=Kind.choices)
    given = models.BooleanField(_("given"))
    text = models.TextField(_("text shown"))
    subscription_type = models.CharField(_("subscription type"), max_length=100, blank=True)
    visitor = models.ForeignKey(
        Visitor,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="consent_records",
        verbose_name=_("visitor"),
    )
    contact = models.ForeignKey(
        Contact,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="consent_records",
        verbose_name=_("contact"),
    )
    chatflow = models.ForeignKey(
        Chatflow,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("chatflow"),
    )
    revision = models.ForeignKey(
        "wagtailcore.Revision",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("chatflow revision"),
    )
    created_at = models.DateTimeField(_("time"), default=timezone.now)

    class Meta:
        verbose_name = _("consent record")
        verbose_name_plural = _("consent records")
        ordering = ["-created_at", "-pk"]

    def __str__(self):
        choice = _("given") if self.given else _("refused")
        return f"{self.get_kind_display()}: {choice}"
