"""Invalidate the compiled widget config whenever what it depends on changes.

Receivers run ``config.invalidate`` after the transaction commits, so that a
request in between cannot cache a half-saved chatflow (its many-to-many
fields and rules are written after the row itself).
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

from . import config
from .models import Chatflow, Inbox, OfficeHours, QueryRule, UrlRule, VisitorFilter

# Sites: a page's site facts are cached too.
WATCHED = (Chatflow, Inbox, OfficeHours, UrlRule, QueryRule, VisitorFilter, Site)


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
