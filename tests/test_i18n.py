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
        ("es", "Abrir el chat", "Guardamos lo que escribes"),
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


def test_every_language_of_the_site_has_a_compiled_catalog():
    """Each language a chatflow can choose has a compiled catalog (the .mo is
    what Django reads)."""
    from pathlib import Path

    from django.conf import settings

    import wagtail_livechat

    locale = Path(wagtail_livechat.__file__).parent / "locale"
    missing = [
        code
        for code, _name in settings.LANGUAGES
        if code != "en" and not (locale / code / "LC_MESSAGES" / "django.mo").exists()
    ]
    assert not missing


def test_spanish_translates_every_widget_string():
    from django.utils import translation

    from wagtail_livechat.config import widget_strings

    with translation.override("en"):
        english = widget_strings()
    with translation.override("es"):
        spanish = widget_strings()
    assert [k for k in english if spanish[k] == english[k]] == []


def _po_entries(path):
    """(flags, msgid, msgstrs) of each entry of a .po file, header apart."""
    import ast

    entries = []
    for block in path.read_text(encoding="utf-8").split("\n\n"):
        flags, fields, key = "", {}, None
        for line in block.splitlines():
            if line.startswith("#,"):
                flags += line
            elif line.startswith(("msgid", "msgstr")):
                key, _, value = line.partition(" ")
                fields[key] = ast.literal_eval(value)
            elif line.startswith('"') and key:
                fields[key] += ast.literal_eval(line)
        if fields.get("msgid"):
            strs = [v for k, v in fields.items() if k.startswith("msgstr")]
            entries.append((flags, fields["msgid"], strs))
    return entries


@pytest.mark.parametrize("language", ["de", "fr", "nl", "es"])
def test_every_string_of_the_app_is_translated_and_compiled(language):
    """No empty or fuzzy translation in the catalog, and the compiled .mo
    (what Django reads) has each of them."""
    import gettext
    from pathlib import Path

    import wagtail_livechat

    folder = Path(wagtail_livechat.__file__).parent / "locale" / language / "LC_MESSAGES"
    entries = _po_entries(folder / "django.po")
    assert len(entries) > 300
    assert [m for flags, m, strs in entries if "fuzzy" in flags or "" in strs] == []
    with (folder / "django.mo").open("rb") as mo:
        catalog = gettext.GNUTranslations(mo)
    header = catalog.info()
    assert header["language"] == language
    missing = [m for _, m, strs in entries if catalog.gettext(m) != strs[0] and len(strs) == 1]
    assert missing == []
