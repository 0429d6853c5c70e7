"""Receivers of the app's own: they keep what each process holds in memory
(the compiled widget config, per-process facts, webhook subscriptions) in
step with the database, and turn a Contact's saves into events.

Receivers run ``config.invalidate`` after the transaction commits, so that a
request in between cannot cache a half-saved chatflow (its many-to-many
fields and rules are written after the row itself).

The signals the app *sends* are in :mod:`wagtail_livechat.signals`.
"""

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver
from wagtail.models import Site
from wagtail.signals import (
    page_published,
    page_unpublished,
    post_page_move,
    published,
    unpublished,
)

from . import config, events, memo, webhooks
from .models import (
    AgentStatus,
    Chatflow,
    Contact,
    Inbox,
    OfficeHours,
    PageSubtree,
    QueryRule,
    UrlRule,
    VisitorFilter,
    Webhook,
)

# Sites: a page's site facts are cached too.
WATCHED = (Chatflow, Inbox, OfficeHours, UrlRule, QueryRule, VisitorFilter, PageSubtree, Site)


def _invalidate_on_commit(**kwargs):
    transaction.on_commit(config.invalidate)


for model in WATCHED:
    post_save.connect(
        _invalidate_on_commit,
        sender=model,
        dispatch_uid=f"livechat-save-{model.__name__}",
    )
    post_delete.connect(
        _invalidate_on_commit,
        sender=model,
        dispatch_uid=f"livechat-del-{model.__name__}",
    )

for signal in (
    published,
    unpublished,
    page_published,
    page_unpublished,
    post_page_move,
):
    signal.connect(_invalidate_on_commit, dispatch_uid=f"livechat-{id(signal)}")


@receiver(m2m_changed, dispatch_uid="livechat-m2m")
def _m2m_changed(sender, instance, action, **kwargs):
    # Chatflow and inbox fields, and group memberships (heading agents).
    User = get_user_model()
    if action.startswith("post_") and (
        isinstance(instance, Chatflow | Inbox) or sender is User.groups.through
    ):
        _invalidate_on_commit()


@receiver(post_save, dispatch_uid="livechat-user")
def _user_saved(sender, update_fields=None, **kwargs):
    """A heading agent's name or active flag is in the widget config; a
    login (which only touches ``last_login``) is not worth a recompile."""
    if sender is get_user_model() and set(update_fields or ()) != {"last_login"}:
        _invalidate_on_commit()


# -- Live sockets and per-process facts -------------------------------------


def _memberships_changed(**kwargs):
    """Tell every agent socket to read its memberships again, at once: a
    removed agent must stop hearing an inbox now, not at their next ping."""
    from . import service

    transaction.on_commit(
        lambda: service.send_now([(service.AGENTS_GROUP, {"type": "livechat.membership"})])
    )


def _forget_on_commit(**kwargs):
    transaction.on_commit(memo.forget)


for model in (AgentStatus, Chatflow, Inbox, OfficeHours):
    post_save.connect(
        _forget_on_commit, sender=model, dispatch_uid=f"livechat-memo-{model.__name__}"
    )
    post_delete.connect(
        _forget_on_commit, sender=model, dispatch_uid=f"livechat-memo-del-{model.__name__}"
    )
post_save.connect(_memberships_changed, sender=Inbox, dispatch_uid="livechat-members-inbox")
post_delete.connect(_memberships_changed, sender=Inbox, dispatch_uid="livechat-members-inbox-del")


@receiver(m2m_changed, dispatch_uid="livechat-members")
def _members_changed(sender, action, **kwargs):
    User = get_user_model()
    if action.startswith("post_") and sender in (
        Inbox.users.through,
        Inbox.groups.through,
        User.groups.through,
    ):
        _forget_on_commit()
        _memberships_changed()


@receiver(post_save, dispatch_uid="livechat-user-access")
def _user_access_changed(sender, update_fields=None, **kwargs):
    """Deactivating a user or taking their superuser status cuts them off."""
    if sender is get_user_model() and set(update_fields or ()) != {"last_login"}:
        _forget_on_commit()
        _memberships_changed()


# -- Webhooks and contact events ---------------------------------------------


def _webhooks_changed(**kwargs):
    transaction.on_commit(webhooks.forget)


post_save.connect(_webhooks_changed, sender=Webhook, dispatch_uid="livechat-webhooks")
post_delete.connect(_webhooks_changed, sender=Webhook, dispatch_uid="livechat-webhooks-del")


@receiver(post_save, sender=Contact, dispatch_uid="livechat-contact-events")
def _contact_saved(sender, instance, created, raw=False, **kwargs):
    """``contact.created`` / ``contact.updated``, wherever a contact is saved
    (the chat, the admin, site code): a save is the one place all meet."""
    if not raw:
        events.emit(
            "contact.created" if created else "contact.updated",
            Contact,
            lambda: events.contact_payload(instance),
        )
