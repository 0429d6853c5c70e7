"""Side work of the chat (email), run by Django's task framework.

Nothing slow runs on a socket's path: these are enqueued after the
transaction commits. With a real backend (a worker process) they run there.
With ``ImmediateBackend``, the framework's default, a task would run where it
is enqueued, which is the database thread that every socket of the process
shares; there it is handed to a small thread pool of this process instead.
"""

from __future__ import annotations

import logging
import os
from concurrent.futures import Future, ThreadPoolExecutor, wait
from datetime import timedelta

from django.core.mail import send_mail
from django.db import connections, transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django_tasks import task
from django_tasks.backends.immediate import ImmediateBackend
from wagtail.admin.utils import get_admin_base_url
from wagtail.models import Site

from .conf import conf

log = logging.getLogger("wagtail_livechat")

OFFLINE_NOTIFY_EVERY = timedelta(minutes=15)

_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="livechat-tasks")
_running: set[Future] = set()


def _new_pool() -> None:
    """A forked child inherits the pool but not its threads: it starts its
    own (see ``database``)."""
    global _pool
    _pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="livechat-tasks")
    _running.clear()


os.register_at_fork(after_in_child=_new_pool)


def after_commit(work, *args) -> None:
    """Enqueue ``work(*args)`` once the current transaction commits."""
    transaction.on_commit(lambda: _enqueue(work, args))


def _enqueue(work, args) -> None:
    if isinstance(work.get_backend(), ImmediateBackend):
        future = _pool.submit(_run, work, args)
        _running.add(future)
        future.add_done_callback(_running.discard)
    else:
        work.enqueue(*args)


def _run(work, args) -> None:
    try:
        work.call(*args)
    except Exception:
        log.exception("livechat: %s failed", work.name)
    finally:
        connections.close_all()


def drain(timeout: float = 10) -> None:
    """Wait for the tasks this process is running in its pool (tests)."""
    wait(list(_running), timeout=timeout)


def _text(message) -> str:
    """A message in a mail: its text, and the name of its file (the file
    itself never leaves the site by mail)."""
    if message.attachment is None:
        return message.body
    return "\n".join(filter(None, [message.body, f"[{message.attachment.name}]"]))


@task()
def notify_offline(conversation_id: int, message_id: int) -> bool:
    """Email the inbox when a visitor writes and nobody can answer; at most
    once every quarter of an hour per conversation (a conditional update, so
    that two workers never both send)."""
    from .models import Conversation, Message

    now = timezone.now()
    claimed = (
        Conversation.objects.filter(pk=conversation_id)
        .exclude(offline_notified_at__gt=now - OFFLINE_NOTIFY_EVERY)
        .update(offline_notified_at=now)
    )
    message = (
        Message.objects.filter(pk=message_id)
        .select_related("conversation__inbox", "attachment")
        .first()
    )
    if not claimed or message is None:
        return False
    inbox = message.conversation.inbox
    recipients = [u.email for u in inbox.members() if u.email]
    if not recipients:
        return False
    link = (get_admin_base_url() or "") + reverse(
        "wagtail_livechat_inbox:conversation", args=[conversation_id]
    )
    subject = _("New chat message in %(inbox)s") % {"inbox": inbox.name}
    text = _("A visitor wrote while nobody was available:\n\n%(body)s\n\nAnswer: %(link)s") % {
        "body": _text(message),
        "link": link,
    }
    send_mail(subject, text, conf.FROM_EMAIL, recipients)
    return True


@task()
def send_transcript(conversation_id: int) -> bool:
    """Mail the conversation, without its notes, to the visitor's contact."""
    from .models import Conversation, Message

    conversation = (
        Conversation.objects.filter(pk=conversation_id)
        .select_related("inbox", "visitor__contact")
        .first()
    )
    if conversation is None or conversation.visitor.contact is None:
        return False
    lines = [
        f"{_('You') if m.author == Message.Author.VISITOR else (m.name or _('Agent'))}: {_text(m)}"
        for m in conversation.messages.filter(note=False).select_related("attachment")
    ]
    send_mail(
        _("Your conversation with %(inbox)s") % {"inbox": conversation.inbox.name},
        "\n\n".join(lines),
        conf.FROM_EMAIL,
        [conversation.visitor.contact.email],
    )
    return True


@task()
def send_confirmation(visitor_id: int, contact_id: int, language: str = "en") -> bool:
    """Mail the address a visitor typed a link that proves it is theirs, in
    the language of the chat they typed it in."""
    with translation.override(language):
        return _send_confirmation(visitor_id, contact_id)


def _send_confirmation(visitor_id, contact_id):
    from . import identity
    from .models import Contact

    contact = Contact.objects.filter(pk=contact_id).first()
    if contact is None or not contact.email:  # gone, or erased since
        return False
    site = Site.objects.filter(is_default_site=True).first()
    link = (site.root_url if site else get_admin_base_url() or "") + reverse(
        "wagtail_livechat:confirm", args=[identity.confirmation_token(visitor_id, contact_id)]
    )
    send_mail(
        _("Confirm your email address"),
        _(
            "Someone chatting on our site gave this address. If it was you, confirm it here "
            "to receive replies and transcripts by email:\n\n%(link)s\n\n"
            "If it was not you, ignore this mail: nothing more will be sent."
        )
        % {"link": link},
        conf.FROM_EMAIL,
        [contact.email],
    )
    return True


@task()
def notify_owner(conversation_id: int, owner_id: int) -> bool:
    """Email a contact's owner that their contact started a conversation
    while they were away (as HubSpot does); the conversation waits for them,
    unassigned, or went to someone else, as the chatflow says."""
    from django.contrib.auth import get_user_model

    from .models import Conversation

    owner = get_user_model().objects.filter(pk=owner_id, is_active=True).first()
    conversation = (
        Conversation.objects.filter(pk=conversation_id)
        .select_related("inbox", "visitor__contact")
        .first()
    )
    if owner is None or not owner.email or conversation is None:
        return False
    contact = conversation.visitor.contact
    who = (contact.name or contact.email) if contact else _("A visitor")
    link = (get_admin_base_url() or "") + reverse(
        "wagtail_livechat_inbox:conversation", args=[conversation_id]
    )
    send_mail(
        _("%(contact)s started a chat while you were away") % {"contact": who},
        _(
            "%(contact)s, a contact you own, started a conversation in %(inbox)s while "
            "you were away.\n\nAnswer: %(link)s"
        )
        % {"contact": who, "inbox": conversation.inbox.name, "link": link},
        conf.FROM_EMAIL,
        [owner.email],
    )
    return True
