"""Small builders shared by the conversation tests."""

from django.contrib.auth import get_user_model

from wagtail_livechat.models import Chatflow, Inbox


def make_inbox(name="Sales", members=(), **fields):
    inbox = Inbox.objects.create(name=name, **fields)
    add_members(inbox, *members)
    return inbox


def add_members(inbox, *users):
    """ParentalManyToMany changes are kept in memory until the inbox saves."""
    for user in users:
        inbox.users.add(user)
    inbox.save()


def make_chatflow(inbox, name="Chat", publish=True, **fields):
    chatflow = Chatflow(name=name, inbox=inbox, team_name="Team", live=False, **fields)
    chatflow.save()
    if publish:
        chatflow.save_revision().publish()
        chatflow.refresh_from_db()
    return chatflow


def make_agent(username="agent", superuser=False, **fields):
    User = get_user_model()
    if superuser:
        return User.objects.create_superuser(username, f"{username}@example.com", "pw", **fields)
    from django.contrib.auth.models import Permission

    user = User.objects.create_user(username, f"{username}@example.com", "pw", **fields)
    user.user_permissions.add(Permission.objects.get(codename="access_admin"))
    return user
