"""The chatflow list says which are live, drafts, or live with a draft."""

import pytest
from bs4 import BeautifulSoup
from django.urls import reverse

from tests.livechat_factories import make_chatflow, make_inbox

pytestmark = pytest.mark.django_db


def statuses(client):
    html = client.get(reverse("wagtail_livechat_chatflows:list")).content.decode()
    found = {}
    for row in BeautifulSoup(html, "html.parser").select("table tbody tr"):
        text = row.get_text(" ", strip=True)
        tag = row.select_one(".w-status")
        for name in ("Alpha", "Beta", "Gamma"):
            if name in text:
                found[name] = tag.get_text(" ", strip=True).lower() if tag else None
    return found


def test_list_shows_live_draft_and_live_plus_draft(admin_client):
    inbox = make_inbox()
    make_chatflow(inbox, name="Alpha")
    make_chatflow(inbox, name="Beta", publish=False)
    changed = make_chatflow(inbox, name="Gamma")
    changed.team_name = "A new team"
    changed.save_revision()  # a draft over the live version
    assert statuses(admin_client) == {"Alpha": "live", "Beta": "draft", "Gamma": "live + draft"}
