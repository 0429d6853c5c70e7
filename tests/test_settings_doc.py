"""Every setting is documented in docs/settings.md (with its default), read
through conf.py, and does something; every event is in docs/signals.md."""

import re
from pathlib import Path

from django.test import override_settings

from wagtail_livechat import signals
from wagtail_livechat.conf import DEFAULTS
from wagtail_livechat.forms import ConfigQueryForm

ROOT = Path(__file__).resolve().parent.parent
SETTINGS_DOC = (ROOT / "docs" / "settings.md").read_text()


def documented_rows():
    rows = {}
    for line in SETTINGS_DOC.splitlines():
        found = re.match(r"\| `WAGTAIL_LIVECHAT_([A-Z_]+)` \|([^|]+)\|([^|]+)\|(.+)\|$", line)
        if found:
            rows[found[1]] = (found[2].strip(), found[3].strip(), found[4].strip())
    return rows


def test_every_setting_is_documented_with_type_default_and_effect():
    rows = documented_rows()
    assert set(rows) == set(DEFAULTS)
    for name, (kind, default, effect) in rows.items():
        assert kind and effect, name
        value = DEFAULTS[name]
        shown = {None: "`None`", True: "`True`", False: "`False`", (): "`()`"}.get(
            value if isinstance(value, bool | tuple | type(None)) else object()
        )
        if shown is None:
            shown = f"`{value!r}`".replace("'", '"')
        assert default.startswith(shown), (name, default, shown)


def test_the_app_reads_no_setting_of_its_own_outside_conf():
    used = set()
    for path in (ROOT / "wagtail_livechat").rglob("*.py"):
        used |= set(re.findall(r"WAGTAIL_LIVECHAT_([A-Z_]+)", path.read_text()))
        used |= set(re.findall(r"\bconf\.([A-Z][A-Z_]+)\b", path.read_text()))
    used.discard("NAME")  # conf.py's own f-string
    assert used <= set(DEFAULTS), used - set(DEFAULTS)
    # ... and each setting is read somewhere (none is dead).
    assert set(DEFAULTS) <= used | {"CACHE"}, set(DEFAULTS) - used


def test_readme_links_the_settings_signals_webhooks_and_operations():
    readme = (ROOT / "README.md").read_text()
    for doc in ("settings", "signals", "webhooks", "operations"):
        assert f"](docs/{doc}.md)" in readme


def test_every_event_is_documented():
    doc = (ROOT / "docs" / "signals.md").read_text()
    for event, signal in signals.EVENTS.items():
        name = next(n for n in dir(signals) if getattr(signals, n) is signal)
        assert f"| `{name}` | `{event}` |" in doc


def test_the_config_endpoint_honours_the_url_length():
    url = "https://example.com/" + "a" * 80
    assert ConfigQueryForm({"url": url}).is_valid()
    with override_settings(WAGTAIL_LIVECHAT_MAX_URL_LENGTH=50):
        form = ConfigQueryForm({"url": url, "ref": url})
        assert not form.is_valid()
        assert set(form.errors) == {"url", "ref"}
