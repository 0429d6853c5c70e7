"""ConversationLabel: a word agents put on a conversation to find it again.

Labels are free text (lower case, at most ``LABEL_MAX`` characters, at most
``LABELS_PER_CONVERSATION`` on one conversation), as HubSpot's and Chatwoot's
agents type them: no list to maintain first. The labels an inbox already
uses are offered as suggestions and in the inbox's filter. A row per label
(not a list on the conversation) so that filtering by one is a plain join on
every database.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _

from .conversation import Conversation

LABEL_MAX = 40
LABELS_PER_CONVERSATION = 10


class ConversationLabel(models.Model):
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="labels")
    name = models.CharField(_("label"), max_length=LABEL_MAX)

    class Meta:
        verbose_name = _("label")
        verbose_name_plural = _("labels")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["conversation", "name"], name="livechat_label_once"),
        ]
        indexes = [models.Index(fields=["name"], name="livechat_label_name")]

    def __str__(self):
        return self.name
