"""The chatflow's language decides the widget's strings and default texts."""

import pytest

from tests.livechat_factories import make_chatflow, make_inbox
from wagtail_livechat.config import public_chatflow

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "language, open_chat, consent",
    [
        ("en", "Open chat", "We store what you write"),
        ("nl", "Chat openen", "We bewaren wat je"),
        ("de", "Chat öffnen", "Wir speichern, was Sie"),
        ("fr", "Ouvrir le chat", "Nous conservons ce que"),
    ],
)
def test_widget_speaks_the_chatflow_language(language, open_chat, consent):
    chatflow = make_chatflow(make_inbox(), language=language, data_consent="explicit")
    payload = public_chatflow(chatflow)
    assert payload["lang"] == language
    assert payload["strings"]["open"] == open_chat
    assert payload["dataConsent"]["text"].startswith(consent)


def test_an_edited_consent_text_wins_over_the_default():
    chatflow = make_chatflow(
        make_inbox(), language="nl", data_consent="explicit", data_consent_text="Eigen tekst"
    )
    assert public_chatflow(chatflow)["dataConsent"]["text"] == "Eigen tekst"
