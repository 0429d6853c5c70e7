"""An agent's availability, which routing and the widget respect."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class AgentStatus(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="livechat_status"
    )
    available = models.BooleanField(_("available"), default=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("agent status")
        verbose_name_plural = _("agent statuses")

    def __str__(self):
        return f"{self.user}: {'available' if self.available else 'away'}"

    @classmethod
    def available_user_ids(cls, user_ids):
        """Of these users, those who are available: an agent who never chose
        is available, so a new inbox works without setup."""
        away = set(
            cls.objects.filter(user_id__in=user_ids, available=False).values_list(
                "user_id", flat=True
            )
        )
        return [pk for pk in user_ids if pk not in away]
