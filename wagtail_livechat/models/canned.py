"""Canned responses: texts an agent inserts by typing ``/shortcut``."""

from django.core.validators import RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from wagtail.admin.panels import FieldPanel

from .inbox import Inbox


class CannedResponse(models.Model):
    inbox = models.ForeignKey(
        Inbox, on_delete=models.CASCADE, related_name="canned_responses", verbose_name=_("inbox")
    )
    shortcut = models.CharField(
        _("shortcut"),
        max_length=30,
        validators=[
            RegexValidator(r"^[a-z0-9][a-z0-9_-]*$", _("Use lowercase letters, digits, - and _."))
        ],
        help_text=_("Type /shortcut in a reply to insert the text."),
    )
    text = models.TextField(_("text"), max_length=4000)

    panels = [FieldPanel("inbox"), FieldPanel("shortcut"), FieldPanel("text")]

    class Meta:
        verbose_name = _("canned response")
        verbose_name_plural = _("canned responses")
        ordering = ["inbox", "shortcut"]
        constraints = [
            models.UniqueConstraint(fields=["inbox", "shortcut"], name="livechat_canned_unique")
        ]

    def __str__(self):
        return f"/{self.shortcut}"
