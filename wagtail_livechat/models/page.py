"""The "Live chat" panel that site pages get from ``LivechatPageMixin``."""

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _
from wagtail.admin.panels import FieldPanel, MultiFieldPanel

from .. import targeting


class LivechatPageMixin(models.Model):
    """Add to a page model, and ``livechat_panels`` to one of its tabs, to let
    editors choose the chat of each page."""

    class LivechatMode(models.TextChoices):
        INHERIT = "inherit", _("Follow the chatflows' targeting rules")
        CHATFLOW = "chatflow", _("Always show a specific chatflow")
        OFF = "off", _("No chat on this page")

    livechat_mode = models.CharField(
        _("chat on this page"),
        max_length=10,
        choices=LivechatMode.choices,
        default=LivechatMode.INHERIT,
    )
    livechat_chatflow = models.ForeignKey(
        "wagtail_livechat.Chatflow",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("chatflow"),
        help_text=_("Shown on this page while it is published."),
    )

    livechat_panels = [
        MultiFieldPanel(
            [FieldPanel("livechat_mode"), FieldPanel("livechat_chatflow")],
            heading=_("Live chat"),
        )
    ]

    class Meta:
        abstract = True

    def clean(self):
        super().clean()
        if self.livechat_mode == self.LivechatMode.CHATFLOW and not self.livechat_chatflow_id:
            raise ValidationError({"livechat_chatflow": _("Choose the chatflow to show.")})

    def livechat_choice(self) -> targeting.PageChoice:
        return targeting.PageChoice(self.livechat_mode, self.livechat_chatflow_id)
