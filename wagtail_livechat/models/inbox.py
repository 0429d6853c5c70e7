"""Inbox: a team of agents with office hours and the look of its widget."""

import zoneinfo

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from modelcluster.fields import ParentalKey, ParentalManyToManyField
from modelcluster.models import ClusterableModel
from wagtail.admin.panels import (
    FieldPanel,
    FieldRowPanel,
    InlinePanel,
    MultiFieldPanel,
)
from wagtail.models import Orderable

from .. import hours


def _time_zone_choices():
    return [(name, name) for name in sorted(zoneinfo.available_timezones())]


class Inbox(ClusterableModel):
    class LauncherPosition(models.TextChoices):
        RIGHT = "right", _("Bottom right")
        LEFT = "left", _("Bottom left")

    name = models.CharField(_("name"), max_length=100, unique=True)
    users = ParentalManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="livechat_inboxes",
        verbose_name=_("member users"),
    )
    groups = ParentalManyToManyField(
        "auth.Group",
        blank=True,
        related_name="livechat_inboxes",
        verbose_name=_("member groups"),
        help_text=_("Every user of these groups is a member of the inbox."),
    )
    time_zone = models.CharField(
        _("time zone"),
        max_length=64,
        default="UTC",
        choices=_time_zone_choices,
        help_text=_("The time zone of the office hours."),
    )
    away_message = models.TextField(
        _("away message"),
        max_length=1000,
        default=_(
            "We're away right now. Leave a message and we'll get back to you as soon as we can."
        ),
        help_text=_("Shown to visitors outside office hours or when nobody is available."),
    )
    accent_color = models.CharField(
        _("accent colour"),
        max_length=7,
        default="#2e5bff",
        validators=[
            RegexValidator(r"^#[0-9a-fA-F]{6}$", _("Enter a colour as # and six hex digits."))
        ],
    )
    launcher_position = models.CharField(
        _("launcher position"),
        max_length=5,
        choices=LauncherPosition.choices,
        default=LauncherPosition.RIGHT,
    )

    panels = [
        FieldPanel("name"),
        MultiFieldPanel([FieldPanel("users"), FieldPanel("groups")], heading=_("Members")),
        MultiFieldPanel(
            [FieldPanel("time_zone"), InlinePanel("office_hours", label=_("Hours"))],
            heading=_("Office hours"),
            help_text=_("With no hours at all, the inbox is open around the clock."),
        ),
        FieldPanel("away_message"),
        FieldRowPanel([FieldPanel("accent_color"), FieldPanel("launcher_position")]),
    ]

    class Meta:
        verbose_name = _("inbox")
        verbose_name_plural = _("inboxes")
        ordering = ["name"]

    def __str__(self):
        return self.name

    def members(self):
        """Active users who are members directly or through a group."""
        return (
            get_user_model()
            .objects.filter(Q(livechat_inboxes=self) | Q(groups__livechat_inboxes=self))
            .filter(is_active=True)
            .distinct()
        )

    def is_member(self, user) -> bool:
        if not user.is_authenticated or not user.is_active:
            return False
        return self.members().filter(pk=user.pk).exists()

    def hours_table(self):
        return [(h.weekday, h.opens, h.closes) for h in self.office_hours.all()]

    def is_open(self, now=None) -> bool:
        return hours.is_open(self.hours_table(), self.time_zone, now or timezone.now())


class OfficeHours(Orderable):
    class Weekday(models.IntegerChoices):
        MONDAY = 0, _("Monday")
        TUESDAY = 1, _("Tuesday")
        WEDNESDAY = 2, _("Wednesday")
        THURSDAY = 3, _("Thursday")
        FRIDAY = 4, _("Friday")
        SATURDAY = 5, _("Saturday")
        SUNDAY = 6, _("Sunday")

    inbox = ParentalKey(Inbox, on_delete=models.CASCADE, related_name="office_hours")
    weekday = models.PositiveSmallIntegerField(_("day"), choices=Weekday.choices)
    opens = models.TimeField(_("opens"))
    closes = models.TimeField(
        _("closes"), help_text=_("A time before the opening time runs past midnight.")
    )

    panels = [FieldRowPanel([FieldPanel("weekday"), FieldPanel("opens"), FieldPanel("closes")])]

    class Meta(Orderable.Meta):
        verbose_name = _("office hours")
        verbose_name_plural = _("office hours")

    def clean(self):
        if self.opens is not None and self.opens == self.closes:
            raise ValidationError({"closes": _("Closing time must differ from opening time.")})
