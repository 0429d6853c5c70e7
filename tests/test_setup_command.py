"""manage.py livechat_setup: the first inbox and chatflow."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tests.livechat_factories import make_agent
from wagtail_livechat.models import Chatflow, Inbox

pytestmark = pytest.mark.django_db


def setup(*args):
    out = StringIO()
    call_command("livechat_setup", *args, stdout=out, skip_checks=True)
    return out.getvalue()


def ask_config(client, path="/"):
    response = client.get("/livechat/config/", {"url": f"http://testserver{path}"})
    assert response.status_code == 200
    return response.json()["chatflow"]


def test_creates_the_inbox_members_and_a_live_chatflow(client, django_capture_on_commit_callbacks):
    boss = make_agent("boss", superuser=True)
    make_agent("root", superuser=True)
    make_agent("agent")  # not a superuser: not added by default
    inactive = make_agent("gone", superuser=True)
    inactive.is_active = False
    inactive.save()

    with django_capture_on_commit_callbacks(execute=True):
        out = setup()

    inbox = Inbox.objects.get()
    assert inbox.name == "Website"
    assert sorted(u.username for u in inbox.users.all()) == ["boss", "root"]
    chatflow = Chatflow.objects.get()
    assert chatflow.live and chatflow.inbox == inbox and chatflow.team_name
    assert [(r.kind, r.operator) for r in chatflow.url_rules.all()] == [("include", "all")]
    # The widget is offered on any page at once.
    for path in ("/", "/any/page/", "/deep/er/?q=1"):
        assert ask_config(client, path)["id"] == chatflow.pk
    assert 'Created Inbox "Website"' in out
    assert "+ boss is now a member" in out
    assert 'Created and published chatflow "Website chat"' in out
    assert "{% load wagtail_livechat %}{% livechat %}" in out
    assert "/admin/livechat/" in out
    assert f"/admin/livechat/chatflows/edit/{chatflow.pk}/" in out
    assert boss.has_perm("wagtailadmin.access_admin")


def test_running_again_keeps_what_exists(django_capture_on_commit_callbacks):
    make_agent("boss", superuser=True)
    setup()
    chatflow = Chatflow.objects.get()
    # An editor switched the chat off and changed it; it stays so.
    chatflow.unpublish()
    chatflow.team_name = "Sales"
    chatflow.save()
    revisions = chatflow.revisions.count()
    make_agent("newcomer", superuser=True)

    out = setup()

    assert Inbox.objects.count() == 1 and Chatflow.objects.count() == 1
    chatflow.refresh_from_db()
    assert not chatflow.live and chatflow.team_name == "Sales"
    assert chatflow.revisions.count() == revisions
    assert sorted(u.username for u in Inbox.objects.get().users.all()) == ["boss", "newcomer"]
    assert 'Inbox "Website" exists' in out
    assert "= boss was a member" in out and "+ newcomer is now a member" in out
    assert "not published" in out


def test_named_users_and_names(client, django_capture_on_commit_callbacks):
    make_agent("boss", superuser=True)
    make_agent("ann")
    make_agent("bob")
    with django_capture_on_commit_callbacks(execute=True):
        setup(
            "--inbox",
            "Support",
            "--user",
            "ann",
            "--user",
            "bob",
            "--chatflow",
            "Help",
            "--team-name",
            "Help desk",
        )
    inbox = Inbox.objects.get(name="Support")
    assert sorted(u.username for u in inbox.users.all()) == ["ann", "bob"]
    chatflow = Chatflow.objects.get(name="Help")
    assert chatflow.team_name == "Help desk" and chatflow.inbox == inbox
    assert ask_config(client)["heading"]["name"] == "Help desk"


def test_a_user_without_admin_access_is_added_with_a_warning():
    from django.contrib.auth import get_user_model

    get_user_model().objects.create_user("visitor", "v@example.com", "pw")
    out = setup("--user", "visitor", "--no-chatflow")
    assert "+ visitor is now a member" in out
    assert "cannot open the Wagtail admin" in out
    assert Chatflow.objects.count() == 0


def test_unknown_users_change_nothing():
    make_agent("boss", superuser=True)
    with pytest.raises(CommandError, match="No such user: nobody"):
        setup("--user", "boss", "--user", "nobody")
    assert Inbox.objects.count() == 0 and Chatflow.objects.count() == 0


def test_without_superusers_it_says_what_to_do():
    out = setup()
    assert Inbox.objects.get().users.count() == 0
    assert "createsuperuser" in out and "run this again" in out


def test_help_says_what_it_does():
    from wagtail_livechat.management.commands.livechat_setup import Command

    parser = Command().create_parser("manage.py", "livechat_setup")
    text = " ".join(parser.format_help().split())  # however argparse wraps it
    for words in ("inbox", "superuser", "publish", "every page", "again", "--no-chatflow"):
        assert words in text
