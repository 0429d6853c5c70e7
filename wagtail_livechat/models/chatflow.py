"""Chatflow: one configured chat experience, edited in four tabs.

Drafts live in revisions; the database row is the published version, and
``live`` is the on/off switch. Visitors only ever see what ``live`` rows say,
through :mod:`wagtail_livechat.config`.
"""

from django.conf import settings
from django.contrib.contenttypes.fields import GenericRelation
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from modelcluster.fields import ParentalManyToManyField
from modelcluster.models import ClusterableModel
from wagtail.admin.panels import (
    FieldPanel,
    FieldRowPanel,
    InlinePanel,
    MultiFieldPanel,
    ObjectList,
    TabbedInterface,
)
from wagtail.fields import RichTextField
from wagtail.models import (
    DraftStateMixin,
    LockableMixin,
    PreviewableMixin,
    RevisionMixin,
)
from wagtail.search import index

from .. import defaults
from ..forms import ChatflowForm
from ..pages import page_model_name
from ..widgets import DefaultTextarea, DefaultTextInput
from .inbox import Inbox

PAGE_MODEL = page_model_name()


def _language_choices():
    return list(settings.LANGUAGES)


def _default_language():
    return settings.LANGUAGE_CODE.split("-")[0]


class Chatflow(
    PreviewableMixin,
    DraftStateMixin,
    LockableMixin,
    RevisionMixin,
    index.Indexed,
    ClusterableModel,
):
    class ChatType(models.TextChoices):
        LIVE_CHAT = "live_chat", _("Live chat")
        KNOWLEDGE_BASE = "knowledge_base", _("Knowledge base search + live chat")

    class EmailCapture(models.TextChoices):
        NEVER = "never", _("Never")
        BEFORE_CHAT = "before_chat", _("Always, before the chat starts")
        WHEN_AWAY = "when_away", _("Only when nobody is available")

    class HeadingMode(models.TextChoices):
        BRANDING = "branding", _("Custom branding (team name and avatar)")
        AGENTS = "agents", _("Specific users and groups")
        OWNER = "owner", _("The contact's owner, else the custom branding")

    class DesktopBehaviour(models.TextChoices):
        PROMPT = "prompt", _("Show the welcome message as a prompt")
        LAUNCHER = "launcher", _("Show only the chat launcher")
        PROMPT_AND_OPEN = (
            "prompt_and_open",
            _("Show the prompt and open the chat on a trigger"),
        )

    class Trigger(models.TextChoices):
        EXIT_INTENT = "exit_intent", _("Exit intent")
        TIME_ON_PAGE = "time_on_page", _("Time on page")
        SCROLL = "scroll", _("Percentage of the page scrolled")

    class MobileBehaviour(models.TextChoices):
        PROMPT = "prompt", _("Show the welcome message as a prompt")
        LAUNCHER = "launcher", _("Show only the chat launcher")

    class OwnerRouting(models.TextChoices):
        OFF = "off", _("No: assign as the options above say")
        OWNER = "owner", _("To the contact's owner; when away, email them and leave it unassigned")
        OWNER_OR_ROUTING = (
            "owner_or_routing",
            _("To the contact's owner; when away, email them and assign as usual"),
        )

    class CookieConsent(models.TextChoices):
        OFF = "off", _("Off")
        BEFORE_CHAT = "before_chat", _("Ask before the chat starts")
        EXIT_INTENT = "exit_intent", _("Ask on exit intent")

    class DataConsent(models.TextChoices):
        OFF = "off", _("Off")
        EXPLICIT = (
            "explicit",
            _("Explicit: the visitor clicks “I agree” before sending"),
        )
        LEGITIMATE_INTEREST = (
            "legitimate_interest",
            _("Legitimate interest: shown, no click needed"),
        )

    # -- Build -------------------------------------------------------------
    name = models.CharField(_("name"), max_length=100)
    inbox = models.ForeignKey(
        Inbox,
        on_delete=models.PROTECT,
        related_name="chatflows",
        verbose_name=_("inbox"),
    )
    welcome_message = RichTextField(
        _("welcome message"),
        features=["bold", "italic", "link"],
        max_length=1000,
        default=defaults.WELCOME_MESSAGE,
        help_text=_("The first message a visitor sees."),
    )
    chat_type = models.CharField(
        _("type"), max_length=20, choices=ChatType.choices, default=ChatType.LIVE_CHAT
    )
    knowledge_base_root = models.ForeignKey(
        PAGE_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("knowledge base"),
        help_text=_(
            "The page whose live descendants are searched. It needs at least "
            "three live pages under it."
        ),
    )
    auto_assign = models.BooleanField(_("assign conversations automatically"), default=False)
    assign_users = ParentalManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="+",
        verbose_name=_("to users"),
    )
    assign_groups = ParentalManyToManyField(
        "auth.Group", blank=True, related_name="+", verbose_name=_("to groups")
    )
    owner_routing = models.CharField(
        _("route known contacts to their owner"),
        max_length=20,
        choices=OwnerRouting.choices,
        default=OwnerRouting.OFF,
        help_text=_(
            "A new conversation of a contact whose owner is a member of the inbox "
            "goes to the owner."
        ),
    )
    email_capture = models.CharField(
        _("ask for an email address"),
        max_length=20,
        choices=EmailCapture.choices,
        default=EmailCapture.WHEN_AWAY,
    )
    email_capture_text = models.CharField(
        _("email question"), max_length=255, default=defaults.EMAIL_CAPTURE_TEXT
    )

    # -- Target (rules are the child models in targeting.py) ---------------
    target_page_types = ParentalManyToManyField(
        "contenttypes.ContentType",
        blank=True,
        related_name="+",
        verbose_name=_("page types"),
        help_text=_("Only on pages of these types."),
    )
    target_sites = ParentalManyToManyField(
        "wagtailcore.Site", blank=True, related_name="+", verbose_name=_("sites")
    )
    target_locales = ParentalManyToManyField(
        "wagtailcore.Locale", blank=True, related_name="+", verbose_name=_("locales")
    )

    # -- Display -----------------------------------------------------------
    heading_mode = models.CharField(
        _("chat heading"),
        max_length=10,
        choices=HeadingMode.choices,
        default=HeadingMode.BRANDING,
    )
    team_name = models.CharField(_("team name"), max_length=60, blank=True)
    avatar = models.ForeignKey(
        "wagtailimages.Image",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("avatar"),
    )
    use_team_alias = models.BooleanField(
        _("agents reply as the team"),
        default=False,
        help_text=_(
            "Show the team name and avatar instead of the agent's for the whole conversation."
        ),
    )
    heading_users = ParentalManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="+", verbose_name=_("users")
    )
    heading_groups = ParentalManyToManyField(
        "auth.Group",
        blank=True,
        related_name="+",
        verbose_name=_("groups"),
        help_text=_("With more than three people, three are shown at random."),
    )
    desktop_behaviour = models.CharField(
        _("on desktop"),
        max_length=20,
        choices=DesktopBehaviour.choices,
        default=DesktopBehaviour.PROMPT,
    )
    trigger = models.CharField(_("trigger"), max_length=20, choices=Trigger.choices, blank=True)
    trigger_seconds = models.PositiveIntegerField(
        _("seconds on page"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(3600)],
    )
    trigger_scroll_percent = models.PositiveSmallIntegerField(
        _("percentage scrolled"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
    )
    mobile_behaviour = models.CharField(
        _("on mobile"),
        max_length=20,
        choices=MobileBehaviour.choices,
        default=MobileBehaviour.LAUNCHER,
    )

    # -- Options -----------------------------------------------------------
    language = models.CharField(
        _("language"),
        max_length=10,
        choices=_language_choices,
        default=_default_language,
    )
    cookie_consent = models.CharField(
        _("cookie consent"),
        max_length=20,
        choices=CookieConsent.choices,
        default=CookieConsent.OFF,
    )
    cookie_consent_text = models.CharField(
        _("cookie consent text"),
        max_length=500,
        blank=True,
        help_text=_("Leave empty for the default text in the chatflow's language."),
    )
    data_consent = models.CharField(
        _("consent to process data"),
        max_length=20,
        choices=DataConsent.choices,
        default=DataConsent.OFF,
    )
    data_consent_text = models.TextField(
        _("consent to process data text"),
        max_length=1000,
        blank=True,
        help_text=_("Leave empty (or clear it) to reset to the default text."),
    )
    communication_consent = models.BooleanField(_("ask consent to communicate"), default=False)
    subscription_type = models.CharField(
        _("subscription type"),
        max_length=100,
        blank=True,
        help_text=_("For example “Newsletter” or “Product updates”."),
    )
    communication_consent_label = models.CharField(_("checkbox label"), max_length=255, blank=True)
    feedback_survey = models.BooleanField(
        _("ask for feedback when a conversation ends"), default=False
    )
    survey_question = models.CharField(
        _("survey question"), max_length=255, default=defaults.SURVEY_QUESTION
    )

    # Priority: lower comes first when several published chatflows match.
    sort_order = models.IntegerField(null=True, blank=True, editable=False)
    sort_order_field = "sort_order"

    _revisions = GenericRelation("wagtailcore.Revision", related_query_name="chatflow")

    search_fields = [index.SearchField("name"), index.AutocompleteField("name")]

    build_panels = [
        FieldPanel("name"),
        FieldPanel("inbox"),
        FieldPanel("welcome_message"),
        MultiFieldPanel(
            [FieldPanel("chat_type"), FieldPanel("knowledge_base_root")],
            heading=_("Type"),
        ),
        MultiFieldPanel(
            [
                FieldPanel("auto_assign"),
                FieldPanel("assign_users"),
                FieldPanel("assign_groups"),
                FieldPanel("owner_routing"),
            ],
            heading=_("Assignment"),
            help_text=_("Round robin among the chosen inbox members who are available."),
        ),
        MultiFieldPanel(
            [FieldPanel("email_capture"), FieldPanel("email_capture_text")],
            heading=_("Email capture"),
        ),
    ]
    target_panels = [
        InlinePanel(
            "url_rules",
            heading=_("Website URL"),
            label=_("URL rule"),
            help_text=_(
                "Show on URLs that match any inclusion rule (with none, on every "
                "URL) and hide on URLs that match any exclusion rule."
            ),
        ),
        InlinePanel("query_rules", heading=_("Query parameters"), label=_("Query rule")),
        InlinePanel(
            "visitor_filters",
            heading=_("Visitor information and behaviour"),
            label=_("Filter"),
            help_text=_(
                "Filters with the same group number must all match; any one "
                "group matching is enough. “Number of visits” only matches "
                "visitors who have chatted before: nothing is stored in a "
                "visitor's browser before they use the chat, so visits are "
                "counted from their first message on."
            ),
        ),
        InlinePanel(
            "page_subtrees",
            heading=_("Page subtrees"),
            label=_("Page subtree"),
            help_text=_("Only on these pages and the pages below them."),
        ),
        MultiFieldPanel(
            [
                FieldPanel("target_page_types"),
                FieldPanel("target_sites"),
                FieldPanel("target_locales"),
            ],
            heading=_("Wagtail pages"),
            help_text=_(
                "Each list you fill in, and the page subtrees above, narrows where the chat shows."
            ),
        ),
    ]
    display_panels = [
        MultiFieldPanel(
            [
                FieldPanel("heading_mode"),
                FieldRowPanel([FieldPanel("team_name"), FieldPanel("avatar")]),
                FieldPanel("use_team_alias"),
                FieldPanel("heading_users"),
                FieldPanel("heading_groups"),
            ],
            heading=_("Chat heading"),
        ),
        MultiFieldPanel(
            [
                FieldPanel("desktop_behaviour"),
                FieldPanel("trigger"),
                FieldRowPanel(
                    [
                        FieldPanel("trigger_seconds"),
                        FieldPanel("trigger_scroll_percent"),
                    ]
                ),
            ],
            heading=_("Desktop"),
        ),
        FieldPanel("mobile_behaviour"),
    ]
    options_panels = [
        FieldPanel("language"),
        MultiFieldPanel(
            [
                FieldPanel("cookie_consent"),
                FieldPanel(
                    "cookie_consent_text", widget=DefaultTextInput(defaults.COOKIE_CONSENT_TEXT)
                ),
            ],
            heading=_("Cookie consent"),
        ),
        MultiFieldPanel(
            [
                FieldPanel("data_consent"),
                FieldPanel("data_consent_text", widget=DefaultTextarea(defaults.DATA_CONSENT_TEXT)),
            ],
            heading=_("Consent to process data"),
        ),
        MultiFieldPanel(
            [
                FieldPanel("communication_consent"),
                FieldPanel("subscription_type"),
                FieldPanel("communication_consent_label"),
            ],
            heading=_("Consent to communicate"),
        ),
        MultiFieldPanel(
            [
                FieldPanel("feedback_survey"),
                FieldPanel("survey_question", widget=DefaultTextInput(defaults.SURVEY_QUESTION)),
            ],
            heading=_("Feedback"),
        ),
    ]
    edit_handler = TabbedInterface(
        [
            ObjectList(build_panels, heading=_("Build")),
            ObjectList(target_panels, heading=_("Target")),
            ObjectList(display_panels, heading=_("Display")),
            ObjectList(options_panels, heading=_("Options")),
        ],
    )

    base_form_class = ChatflowForm

    class Meta:
        verbose_name = _("chatflow")
        verbose_name_plural = _("chatflows")
        ordering = ["sort_order", "pk"]

    def __str__(self):
        return self.name

    @property
    def revisions(self):
        return self._revisions

    def save(self, *args, **kwargs):
        # A chatflow made outside the admin (a script, the demo) goes last, as
        # the admin's create view places it: a null priority would sort first
        # on some databases and last on others, and breaks reordering.
        if self._state.adding and self.sort_order is None:
            last = Chatflow.objects.aggregate(last=models.Max("sort_order"))["last"]
            self.sort_order = (last or 0) + 1
        super().save(*args, **kwargs)

    def with_content_json(self, content):
        # The priority belongs to the chatflow, not to a revision: publishing
        # or reverting to a revision saved before a reorder keeps the order.
        obj = super().with_content_json(content)
        obj.sort_order = self.sort_order
        return obj

    # -- Preview -----------------------------------------------------------
    preview_modes = [("desktop", _("Desktop")), ("mobile", _("Mobile"))]

    def get_preview_template(self, request, mode_name):
        return "wagtail_livechat/preview.html"

    def get_preview_context(self, request, mode_name):
        from ..config import boot_data, public_chatflow  # config imports models

        context = super().get_preview_context(request, mode_name)
        context["chatflow_config"] = public_chatflow(self, device=mode_name)
        context["boot"] = dict(boot_data(), chatflow=context["chatflow_config"])
        return context


class ConfigGeneration(models.Model):
    """One row: the version of everything the widget's config is compiled
    from, bumped on every change. In the database, so that every server
    process (and a change made by a management command or a cron job, such as
    ``publish_scheduled``) is seen whatever cache each process has."""

    value = models.BigIntegerField()

    class Meta:
        verbose_name = _("widget configuration generation")

    def __str__(self):
        return str(self.value)
