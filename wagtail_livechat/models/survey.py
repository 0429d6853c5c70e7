"""SurveyAnswer: what a visitor thought of a conversation once it ended."""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .chatflow import Chatflow
from .conversation import Conversation

RATING_MIN = 1
RATING_MAX = 5
COMMENT_MAX = 1000


class SurveyAnswer(models.Model):
    """At most one per conversation (the one-to-one makes a second answer,
    or a resend, store nothing), given by the conversation's visitor."""

    conversation = models.OneToOneField(
        Conversation,
        on_delete=models.CASCADE,
        related_name="survey_answer",
        verbose_name=_("conversation"),
    )
    # Kept on the answer: the conversation's chatflow and assignee may change
    # later, the answer rated this one and this agent.
    chatflow = models.ForeignKey(
        Chatflow,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("chatflow"),
    )
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("agent"),
    )
    rating = models.PositiveSmallIntegerField(
        _("rating"), validators=[MinValueValidator(RATING_MIN), MaxValueValidator(RATING_MAX)]
    )
    comment = models.TextField(_("comment"), max_length=COMMENT_MAX, blank=True)
    created_at = models.DateTimeField(_("answered"), default=timezone.now)

    class Meta:
        verbose_name = _("survey answer")
        verbose_name_plural = _("survey answers")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(rating__gte=RATING_MIN, rating__lte=RATING_MAX),
                name="livechat_survey_rating_range",
            )
        ]

    def __str__(self):
        return f"{self.conversation_id}: {self.rating}/{RATING_MAX}"
