"""Targeting rules of a chatflow, as small child models.

Each rule validates itself with the pure functions of
:mod:`wagtail_livechat.targeting` and compiles to one of its dataclasses, so
that evaluation needs neither a request nor the database.
"""

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _
from modelcluster.fields import ParentalKey
from wagtail.admin.panels import FieldPanel, FieldRowPanel
from wagtail.models import Orderable

from .. import targeting
from ..pages import page_model_name


class Kind(models.TextChoices):
    INCLUDE = "include", _("Show on")
    EXCLUDE = "exclude", _("Hide on")


class UrlRule(Orderable):
    class Operator(models.TextChoices):
        ALL = targeting.URL_ALL, _("all pages")
        IS = targeting.URL_IS, _("is")
        CONTAINS = targeting.URL_CONTAINS, _("contains")
        BEGINS_WITH = targeting.URL_BEGINS_WITH, _("begins with")
        ENDS_WITH = targeting.URL_ENDS_WITH, _("ends with")
        WILDCARD = targeting.URL_WILDCARD, _("matches wildcard (*)")

    chatflow = ParentalKey(
        "wagtail_livechat.Chatflow", on_delete=models.CASCADE, related_name="url_rules"
    )
    kind = models.CharField(_("rule"), max_length=7, choices=Kind.choices, default=Kind.INCLUDE)
    operator = models.CharField(
        _("URL"), max_length=12, choices=Operator.choices, default=Operator.ALL
    )
    value = models.CharField(
        _("value"),
        max_length=targeting.MAX_VALUE_LENGTH,
        blank=True,
        help_text=_("A path such as /pricing/ or a full URL; * matches anything."),
    )

    panels = [FieldRowPanel([FieldPanel("kind"), FieldPanel("operator"), FieldPanel("value")])]

    class Meta(Orderable.Meta):
        verbose_name = _("URL rule")

    def clean(self):
        self.value = self.value.strip()
        error = targeting.validate_url_rule(self.operator, self.value)
        if error:
            raise ValidationError({"value": error})

    def description(self):
        return f"{self.get_kind_display()} URL {self.get_operator_display()} {self.value}".strip()

    def compile(self):
        return targeting.UrlRule(self.operator, self.value)


class QueryRule(Orderable):
    class Operator(models.TextChoices):
        IS = targeting.QUERY_IS, _("is")
        CONTAINS = targeting.QUERY_CONTAINS, _("contains")
        PRESENT = targeting.QUERY_PRESENT, _("is present")

    chatflow = ParentalKey(
        "wagtail_livechat.Chatflow",
        on_delete=models.CASCADE,
        related_name="query_rules",
    )
    kind = models.CharField(_("rule"), max_length=7, choices=Kind.choices, default=Kind.INCLUDE)
    name = models.CharField(_("parameter"), max_length=100)
    operator = models.CharField(
        _("operator"), max_length=10, choices=Operator.choices, default=Operator.IS
    )
    value = models.CharField(_("value"), max_length=targeting.MAX_VALUE_LENGTH, blank=True)

    panels = [
        FieldRowPanel(
            [
                FieldPanel("kind"),
                FieldPanel("name"),
                FieldPanel("operator"),
                FieldPanel("value"),
            ]
        )
    ]

    class Meta(Orderable.Meta):
        verbose_name = _("query parameter rule")

    def clean(self):
        self.name = self.name.strip()
        error = targeting.validate_query_rule(self.name, self.operator, self.value)
        if error:
            field = "name" if "parameter" in error else "value"
            raise ValidationError({field: error})

    def description(self):
        return f"{self.get_kind_display()} ?{self.name} {self.get_operator_display()} {self.value}".strip()

    def compile(self):
        return targeting.QueryRule(self.name, self.operator, self.value)


class PageSubtree(Orderable):
    """A page under which (itself included) the chatflow shows. A child
    model rather than a many-to-many field: its foreign key gets Wagtail's
    page chooser, which a many-to-many field has no widget for."""

    chatflow = ParentalKey(
        "wagtail_livechat.Chatflow", on_delete=models.CASCADE, related_name="page_subtrees"
    )
    page = models.ForeignKey(
        page_model_name(), on_delete=models.CASCADE, related_name="+", verbose_name=_("page")
    )

    panels = [FieldPanel("page")]

    class Meta(Orderable.Meta):
        verbose_name = _("page subtree")
        verbose_name_plural = _("page subtrees")

    def description(self):
        return _("On %(page)s and the pages below it") % {"page": self.page}


class VisitorFilter(Orderable):
    class Attribute(models.TextChoices):
        CONTACT = "contact", _("Contact (known / unknown)")
        LOGGED_IN = "logged_in", _("Logged in to the site (yes / no)")
        DEVICE = "device", _("Device (desktop / tablet / mobile)")
        LANGUAGE = "language", _("Browser language")
        REFERRER = "referrer", _("Referrer")
        VISITS = "visits", _("Number of visits")

    class Operator(models.TextChoices):
        IS = "is", _("is")
        IS_NOT = "is_not", _("is not")
        BEGINS_WITH = "begins_with", _("begins with")
        CONTAINS = "contains", _("contains")
        NOT_CONTAINS = "is_not_contains", _("does not contain")
        EMPTY = "is_empty", _("is empty")
        NOT_EMPTY = "is_not_empty", _("is not empty")
        GTE = "gte", _("is at least")
        LTE = "lte", _("is at most")

    chatflow = ParentalKey(
        "wagtail_livechat.Chatflow",
        on_delete=models.CASCADE,
        related_name="visitor_filters",
    )
    group = models.PositiveSmallIntegerField(_("group"), default=1)
    attribute = models.CharField(_("attribute"), max_length=20, choices=Attribute.choices)
    operator = models.CharField(
        _("operator"), max_length=20, choices=Operator.choices, default=Operator.IS
    )
    value = models.CharField(_("value"), max_length=targeting.MAX_VALUE_LENGTH, blank=True)

    panels = [
        FieldRowPanel(
            [
                FieldPanel("group"),
                FieldPanel("attribute"),
                FieldPanel("operator"),
                FieldPanel("value"),
            ]
        )
    ]

    class Meta(Orderable.Meta):
        verbose_name = _("visitor filter")

    def clean(self):
        self.value = self.value.strip()
        error = targeting.validate_visitor_filter(self.attribute, self.operator, self.value)
        if error:
            field = "operator" if "operator" in error else "value"
            raise ValidationError({field: error})

    def description(self):
        return f"{self.get_attribute_display()} {self.get_operator_display()} {self.value}".strip()

    def compile(self):
        return targeting.VisitorFilter(self.attribute, self.operator, self.value)
