"""Admin widgets of the chatflow editor."""

import json

from django import forms
from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext


class DefaultTextMixin:
    """A text field with a "Reset to the default text" button beside it
    (``default-text.js``, a static file: no inline script, so it works under
    a strict Content-Security-Policy). The default comes in every language
    of the site, and the button puts the one of the language chosen in the
    form's "language" field."""

    def __init__(self, default, attrs=None):
        super().__init__(attrs)
        self.default = default

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        texts = {}
        for code, _name in settings.LANGUAGES:
            with translation.override(code):
                texts[code] = str(self.default)
        context["widget"]["attrs"].update(
            {
                "data-livechat-defaults": json.dumps(texts),
                "data-livechat-reset-label": gettext("Reset to the default text"),
            }
        )
        return context

    @property
    def media(self):
        return forms.Media(js=["wagtail_livechat/default-text.js"])


class DefaultTextInput(DefaultTextMixin, forms.TextInput):
    pass


class DefaultTextarea(DefaultTextMixin, forms.Textarea):
    pass
