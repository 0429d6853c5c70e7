"""The chat's entries in Wagtail's audit log: who assigned, closed or
reopened a conversation, and who exported or erased a contact's data.

Entries are Wagtail's ``ModelLogEntry`` rows (through ``log()``), so they
show in Reports › Site history and in a contact's History. Conversation
entries are written by :mod:`service` inside the transaction of the change
they record; nothing here runs on the message path.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _
from wagtail.log_actions import LogFormatter
from wagtail.log_actions import log as wagtail_log

ASSIGN = "wagtail_livechat.assign"
CLOSE = "wagtail_livechat.close"
REOPEN = "wagtail_livechat.reopen"
EXPORT = "wagtail_livechat.export"
ERASE = "wagtail_livechat.erase"


def _user(user):
    """The user to record. The sockets hold an ``Agent`` (an id, no model
    instance): an unsaved instance with that primary key records it without
    reading the user."""
    if user is None or getattr(user, "_meta", None) is not None:
        return user
    return get_user_model()(pk=user.id)


def log(instance, action: str, user=None, **data):
    """One audit entry for ``instance``; ``user`` None: the visitor or the
    system did it (the entry says so from ``data``)."""
    return wagtail_log(instance, action, user=_user(user), data=data)


class AssignFormatter(LogFormatter):
    label = _("Assign conversation")

    def format_message(self, log_entry):
        name = log_entry.data.get("assignee_name")
        if not name:
            return _("%(conversation)s: unassigned") % {"conversation": log_entry.label}
        return _("%(conversation)s: assigned to %(assignee)s") % {
            "conversation": log_entry.label,
            "assignee": name,
        }


class CloseFormatter(LogFormatter):
    label = _("Close conversation")

    def format_message(self, log_entry):
        if log_entry.data.get("by") == "visitor":
            return _("%(conversation)s: closed by the visitor") % {"conversation": log_entry.label}
        return _("%(conversation)s: closed") % {"conversation": log_entry.label}


class ReopenFormatter(LogFormatter):
    label = _("Reopen conversation")

    def format_message(self, log_entry):
        return _("%(conversation)s: reopened") % {"conversation": log_entry.label}


class ExportFormatter(LogFormatter):
    label = _("Export personal data")
    message = _("Personal data exported")


class EraseFormatter(LogFormatter):
    label = _("Erase personal data")

    def format_message(self, log_entry):
        if log_entry.data.get("mode") == "delete":
            return _("Personal data erased; conversations deleted")
        return _("Personal data erased; messages anonymised")


def register_actions(actions):
    """The ``register_log_actions`` hook (registered in wagtail_hooks.py)."""
    for action, formatter in (
        (ASSIGN, AssignFormatter),
        (CLOSE, CloseFormatter),
        (REOPEN, ReopenFormatter),
        (EXPORT, ExportFormatter),
        (ERASE, EraseFormatter),
    ):
        actions.register_action(action)(formatter)
