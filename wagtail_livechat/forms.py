"""Admin forms: the checks that span several fields of a chatflow."""

from urllib.parse import urlsplit

from django import forms
from django.core.validators import MaxLengthValidator
from django.utils.translation import gettext_lazy as _
from wagtail.admin.forms import WagtailAdminModelForm
from wagtail.models import get_page_content_types

from .conf import conf

KNOWLEDGE_BASE_MIN_PAGES = 3


class ChatflowForm(WagtailAdminModelForm):
    class Media:
        # Hides the fields that do not apply to the option chosen and marks
        # those it makes required (the checks of ``clean`` below).
        js = ["wagtail_livechat/chatflow_editor.js"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "target_page_types" in self.fields:
            # The page models of the site (under its page model, swapped or
            # not), not every content type of every app.
            self.fields["target_page_types"].queryset = get_page_content_types()

    def clean(self):
        data = super().clean()
        self._check_knowledge_base(data)
        self._check_assignment(data)
        self._check_display(data)
        self._check_options(data)
        return data

    def _require(self, data, field, message):
        if not data.get(field) and field not in self.errors:
            self.add_error(field, message)

    def _check_knowledge_base(self, data):
        if data.get("chat_type") != "knowledge_base":
            return
        root = data.get("knowledge_base_root")
        if root is None:
            self.add_error("knowledge_base_root", _("Choose the knowledge base's root page."))
        elif root.get_descendants().live().count() < KNOWLEDGE_BASE_MIN_PAGES:
            self.add_error(
                "knowledge_base_root",
                _("A knowledge base needs at least %(n)d live pages under its root.")
                % {"n": KNOWLEDGE_BASE_MIN_PAGES},
            )

    def _check_assignment(self, data):
        inbox = data.get("inbox")
        if inbox is None:
            return
        members = set(inbox.members().values_list("pk", flat=True))
        strangers = [u for u in data.get("assign_users") or () if u.pk not in members]
        if strangers:
            self.add_error(
                "assign_users",
                _("Only members of the inbox can be assigned: %(names)s is not.")
                % {"names": ", ".join(u.get_username() for u in strangers)},
            )
        inbox_groups = set(inbox.groups.values_list("pk", flat=True))
        foreign = [g for g in data.get("assign_groups") or () if g.pk not in inbox_groups]
        if foreign:
            self.add_error(
                "assign_groups",
                _("Only the inbox's member groups can be assigned: %(names)s is not.")
                % {"names": ", ".join(g.name for g in foreign)},
            )

    def _check_display(self, data):
        mode = data.get("heading_mode")
        if mode in ("branding", "owner"):
            self._require(data, "team_name", _("Enter the team name to show."))
        if mode == "agents" and not (data.get("heading_users") or data.get("heading_groups")):
            self.add_error("heading_users", _("Choose at least one user or group to show."))
        if data.get("desktop_behaviour") == "prompt_and_open":
            self._require(data, "trigger", _("Choose what opens the chat."))
        trigger = data.get("trigger")
        if trigger == "time_on_page":
            self._require(data, "trigger_seconds", _("Enter a number of seconds."))
        elif trigger == "scroll":
            self._require(data, "trigger_scroll_percent", _("Enter a percentage."))

    def _check_options(self, data):
        if data.get("communication_consent"):
            self._require(data, "subscription_type", _("Enter the subscription type."))
            self._require(data, "communication_consent_label", _("Enter the checkbox label."))
        if data.get("feedback_survey"):
            self._require(data, "survey_question", _("Enter the survey question."))


class ConfigQueryForm(forms.Form):
    """The widget's question to the config endpoint; every field is bounded."""

    # Not a URLField: its validator refuses hosts without a dot, such as an
    # intranet's "http://intranet/", which are valid page URLs.
    url = forms.CharField(max_length=2048, strip=False)
    page = forms.IntegerField(required=False, min_value=1, max_value=2**31 - 1)
    device = forms.ChoiceField(
        required=False, choices=[(d, d) for d in ("desktop", "tablet", "mobile")]
    )
    lang = forms.RegexField(
        required=False, max_length=35, regex=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$"
    )
    ref = forms.CharField(required=False, max_length=2048)
    visits = forms.IntegerField(required=False, min_value=0, max_value=10**6)
    # The site's token vouching for the visitor (docs/identification.md).
    identity = forms.CharField(required=False, max_length=2000)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The page's URL and referrer: ``WAGTAIL_LIVECHAT_MAX_URL_LENGTH``
        # (read here, not at import, so that the setting is honoured).
        for name in ("url", "ref"):
            field = self.fields[name]
            field.max_length = conf.MAX_URL_LENGTH
            field.validators = [
                *(v for v in field.validators if not isinstance(v, MaxLengthValidator)),
                MaxLengthValidator(conf.MAX_URL_LENGTH),
            ]

    def clean_url(self):
        url = self.cleaned_data["url"]
        try:
            parts = urlsplit(url)
        except ValueError:
            raise forms.ValidationError("Enter a valid URL.") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise forms.ValidationError("Only http and https URLs are accepted.")
        if any(c.isspace() or ord(c) < 32 for c in url):
            raise forms.ValidationError("Enter a valid URL.")
        return url


class SearchForm(forms.Form):
    chatflow = forms.IntegerField(min_value=1, max_value=2**31 - 1)
    q = forms.CharField(min_length=2, max_length=200, strip=True)
