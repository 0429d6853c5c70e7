"""The conversation service: every change to a conversation goes through here.

Consumers (both sides) and HTTP views call these plain, synchronous functions;
nothing about a message is decided anywhere else. Each change is stored in
one transaction and only *after commit* are consumers told to look again
(:func:`notify`): the channel layer carries "something changed", never the
record, so a lost notification delays a message but cannot lose it.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from urllib.parse import urlsplit

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import Count, F, Q
from django.http.request import validate_host
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from wagtail.admin.utils import get_admin_base_url
from wagtail.models import Page

from . import assignment
from .conf import conf
from .models import AgentStatus, Chatflow, Contact, Conversation, Inbox, Message, Visitor

log = logging.getLogger(__name__)

OFFLINE_NOTIFY_EVERY = timedelta(minutes=15)
PREVIEW_LENGTH = 140


class ServiceError(Exception):
    code = "bad_frame"

    def __init__(self, message="", code=None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code


class Forbidden(ServiceError):
    code = "forbidden"


class NotFound(ServiceError):
    code = "not_found"


# -- Notification ----------------------------------------------------------


def conversation_group(pk: int) -> str:
    return f"livechat.conversation.{pk}"


def inbox_group(pk: int) -> str:
    return f"livechat.inbox.{pk}"


def visitor_group(pk: int) -> str:
    return f"livechat.visitor.{pk}"


def send_now(groups, event: dict) -> None:
    layer = get_channel_layer()
    for group in groups:
        try:
            async_to_sync(layer.group_send)(group, {"type": "livechat.event", **event})
        except Exception:  # the record is safe; clients resync on ping/reconnect
            log.warning("livechat: could not notify %s", group, exc_info=True)


def notify(conversation: Conversation, event: str, **fields) -> None:
    """After the transaction commits, tell those who follow this conversation
    to look again: its inbox's agents and its visitor. (Agents viewing it are
    in the inbox's group already; the conversation's own group carries only
    what is never stored: typing and presence.)"""
    groups = (inbox_group(conversation.inbox_id), visitor_group(conversation.visitor_id))
    payload = {"event": event, "conversation": conversation.pk, **fields}
    transaction.on_commit(lambda: send_now(groups, payload))


# -- Shared helpers --------------------------------------------------------


def display_name(user) -> str:
    if user is None:
        return ""
    return user.get_full_name() or user.get_username()


def inbox_online(inbox: Inbox, now=None) -> bool:
    """Within office hours and at least one member available."""
    if not inbox.is_open(now):
        return False
    members = list(inbox.members().values_list("pk", flat=True))
    return bool(AgentStatus.available_user_ids(members))


def _append(conversation, *, author, body, sender, client_id, user=None, note=False, **changes):
    """Number and store one message under a lock on the conversation, so that
    seq order is commit order; ``changes`` to the conversation ride along in
    the same single update.

    The lock is ``FOR NO KEY UPDATE``: it serialises writers of this
    conversation without blocking the foreign-key checks (``KEY SHARE``) of
    other transactions, which plain ``FOR UPDATE`` would turn into deadlocks.
    """
    conversation = Conversation.objects.select_for_update(no_key=True).get(pk=conversation.pk)
    now = timezone.now()
    conversation.last_seq += 1
    message = Message.objects.create(
        conversation=conversation,
        seq=conversation.last_seq,
        author=author,
        user=user,
        body=body,
        note=note,
        sender=sender,
        client_id=client_id,
        created_at=now,
    )
    conversation.updated_at = now
    for name, value in changes.items():
        setattr(conversation, name, value(conversation) if callable(value) else value)
    conversation.save(update_fields=["last_seq", "updated_at", *changes])
    return conversation, message


def stored_message(sender: str, client_id: str):
    """The message this sender already stored under this client id, if any."""
    return (
        Message.objects.select_related("conversation")
        .filter(sender=sender, client_id=client_id)
        .first()
    )


def _idempotent(sender, client_id, create):
    """Run ``create`` once per (sender, client id): a resend returns the
    message stored the first time, even when two resends race."""
    found = stored_message(sender, client_id)
    if found is not None:
        return found, False
    try:
        with transaction.atomic():
            return create(), True
    except IntegrityError:
        found = stored_message(sender, client_id)
        if found is None:
            raise
        return found, False


# -- Visitors --------------------------------------------------------------


def visitor_by_key(key: str | None) -> Visitor | None:
    if not key:
        return None
    return Visitor.objects.select_related("contact").filter(key=key).first()


def current_conversation(visitor: Visitor | None) -> Conversation | None:
    if visitor is None:
        return None
    return visitor.conversations.select_related("inbox", "chatflow").order_by("-created_at").first()


def post_visitor_message(visitor: Visitor, *, client_id: str, body: str, chatflow_id=None):
    """Store a visitor's message; returns ``(message, created)``.

    The visitor's latest conversation continues (a closed one reopens); the
    first message starts one in the inbox of the chatflow the widget shows.
    """
    sender = f"v{visitor.pk}"

    def create():
        # One conversation start at a time per visitor (NO KEY: see _append).
        Visitor.objects.select_for_update(no_key=True).filter(pk=visitor.pk).first()
        conversation = current_conversation(visitor) or _start(visitor, chatflow_id)
        conversation, message = _append(
            conversation,
            author=Message.Author.VISITOR,
            body=body,
            sender=sender,
            client_id=client_id,
            # Writing to a closed conversation reopens it.
            status=Conversation.Status.OPEN,
            closed_at=None,
        )
        Visitor.objects.filter(pk=visitor.pk).update(last_seen_at=timezone.now())
        _notify_offline(conversation, message)
        notify(conversation, "message", seq=message.seq)
        return message

    return _idempotent(sender, client_id, create)


def _start(visitor: Visitor, chatflow_id) -> Conversation:
    chatflow = (
        Chatflow.objects.filter(pk=chatflow_id, live=True).select_related("inbox").first()
        if chatflow_id
        else None
    )
    if chatflow is None:
        raise ServiceError(_("This chat is not available any more."), code="not_found")
    conversation = Conversation(inbox=chatflow.inbox, chatflow=chatflow, visitor=visitor)
    if chatflow.auto_assign:
        conversation.assignee_id = _round_robin(chatflow)
        conversation.auto_assigned = conversation.assignee_id is not None
    conversation.save()
    return conversation


def _round_robin(chatflow: Chatflow) -> int | None:
    members = set(chatflow.inbox.members().values_list("pk", flat=True))
    chosen = {u.pk for u in chatflow.assign_users.all()}
    for group in chatflow.assign_groups.all():
        chosen.update(group.user_set.values_list("pk", flat=True))
    candidates = (chosen & members) if chosen else members
    last = (
        Conversation.objects.filter(chatflow=chatflow, auto_assigned=True)
        .order_by("-created_at", "-pk")
        .values_list("assignee_id", flat=True)
        .first()
    )
    return assignment.next_assignee(
        candidates, AgentStatus.available_user_ids(list(candidates)), last
    )


def _notify_offline(conversation: Conversation, message: Message) -> None:
    """Email the inbox when a visitor writes and nobody can answer; at most
    once every quarter of an hour per conversation."""
    now = timezone.now()
    if (
        conversation.offline_notified_at
        and now - conversation.offline_notified_at < OFFLINE_NOTIFY_EVERY
    ):
        return
    inbox = conversation.inbox
    if inbox_online(inbox, now):
        return
    recipients = [u.email for u in inbox.members() if u.email]
    Conversation.objects.filter(pk=conversation.pk).update(offline_notified_at=now)
    if not recipients:
        return
    link = (get_admin_base_url() or "") + reverse(
        "wagtail_livechat_inbox:conversation", args=[conversation.pk]
    )
    subject = _("New chat message in %(inbox)s") % {"inbox": inbox.name}
    text = _("A visitor wrote while nobody was available:\n\n%(body)s\n\nAnswer: %(link)s") % {
        "body": message.body,
        "link": link,
    }
    transaction.on_commit(
        lambda: send_mail(subject, text, conf.FROM_EMAIL, recipients, fail_silently=True)
    )


def _page_at(url: str, page_id: int | None) -> int | None:
    """The page id the widget reported, if that live page is at that URL: the
    agents' "edit this page" link must not point wherever a visitor says."""
    if not page_id:
        return None
    page = Page.objects.live().filter(pk=page_id).first()
    if page is None or page.get_url() not in (url, urlsplit(url).path):
        return None
    return page.pk


def update_visitor_page(visitor: Visitor, page: dict | None) -> None:
    # Only pages of this site: the agents' "Now on" link must not lead them
    # to wherever a visitor says.
    if not page or not validate_host(urlsplit(page["url"]).hostname or "", settings.ALLOWED_HOSTS):
        return
    Visitor.objects.filter(pk=visitor.pk).update(
        page_url=page["url"],
        page_title=page.get("title") or "",
        page_id=_page_at(page["url"], page.get("id")),
        last_seen_at=timezone.now(),
    )
    for conversation in visitor.conversations.filter(status=Conversation.Status.OPEN):
        notify(conversation, "visitor_page")


def capture_email(
    visitor: Visitor, *, email: str, subscribe: bool, consent: bool, chatflow_id=None
):
    """Create or update the contact with this address and link the visitor."""
    try:
        validate_email(email)
    except ValidationError:
        raise ServiceError(_("Enter a valid email address."), code="invalid_email") from None
    now = timezone.now()
    with transaction.atomic():
        contact, _created = Contact.objects.get_or_create(email=email.lower())
        chatflow = (
            Chatflow.objects.filter(pk=chatflow_id, live=True).first() if chatflow_id else None
        )
        # Consent counts only where it was asked for ("explicit"), never
        # inferred from a chatflow that shows no checkbox.
        asked = chatflow is not None and chatflow.data_consent == Chatflow.DataConsent.EXPLICIT
        if consent and asked and contact.data_consent_at is None:
            contact.data_consent_at = now
        if subscribe and chatflow and chatflow.communication_consent:
            kinds = {s["type"] for s in contact.subscriptions}
            if chatflow.subscription_type not in kinds:
                contact.subscriptions = [
                    *contact.subscriptions,
                    {"type": chatflow.subscription_type, "at": now.isoformat()},
                ]
        contact.save()
        visitor.contact = contact
        visitor.save(update_fields=["contact"])
        for conversation in visitor.conversations.filter(status=Conversation.Status.OPEN):
            notify(conversation, "contact")
    return contact


def send_transcript(visitor: Visitor) -> None:
    if visitor.contact_id is None:
        raise ServiceError(_("Leave your email address first."), code="no_email")
    conversation = current_conversation(visitor)
    if conversation is None:
        raise ServiceError(_("There is no conversation yet."), code="not_found")
    lines = [
        f"{_('You') if m.author == Message.Author.VISITOR else author_name(m)}: {m.body}"
        for m in conversation.messages.filter(note=False).select_related("user")
    ]
    send_mail(
        _("Your conversation with %(inbox)s") % {"inbox": conversation.inbox.name},
        "\n\n".join(lines),
        conf.FROM_EMAIL,
        [visitor.contact.email],
        fail_silently=True,  # a mail server's trouble must not break the socket
    )


def mark_visitor_read(visitor: Visitor, seq: int) -> None:
    conversation = current_conversation(visitor)
    if conversation is not None:
        Conversation.objects.filter(pk=conversation.pk, visitor_read_seq__lt=seq).update(
            visitor_read_seq=min(seq, conversation.last_seq)
        )


# -- Agents ----------------------------------------------------------------


def agent_inboxes(user):
    if not (user.is_authenticated and user.is_active):
        return Inbox.objects.none()
    if user.is_superuser:
        return Inbox.objects.all()
    return Inbox.objects.filter(Q(users=user) | Q(groups__user=user)).distinct()


def conversation_for(user, pk: int, *, lock=False) -> Conversation:
    """The conversation, if this agent may reach it."""
    queryset = Conversation.objects.select_related(
        "inbox", "assignee", "visitor__contact", "chatflow"
    )
    if lock:
        queryset = queryset.select_for_update(of=("self",), no_key=True)
    conversation = queryset.filter(pk=pk).first()
    if conversation is None:
        raise NotFound(_("No such conversation."))
    if not agent_inboxes(user).filter(pk=conversation.inbox_id).exists():
        raise Forbidden(_("You are not a member of this inbox."))
    return conversation


def post_agent_message(user, conversation_id: int, *, client_id: str, body: str, note=False):
    sender = f"u{user.pk}"

    def create():
        conversation = conversation_for(user, conversation_id)
        # An agent who answers takes an unassigned conversation and has read
        # what came before.
        changes = (
            {}
            if note
            else {
                "assignee_id": lambda c: c.assignee_id or user.pk,
                "agent_read_seq": lambda c: c.last_seq,
            }
        )
        conversation, message = _append(
            conversation,
            author=Message.Author.AGENT,
            body=body,
            sender=sender,
            client_id=client_id,
            user=user,
            note=note,
            **changes,
        )
        notify(conversation, "message", seq=message.seq, note=note)
        return message

    conversation_for(user, conversation_id)  # authorise before the idempotency lookup
    return _idempotent(sender, client_id, create)


def assign(user, conversation_id: int, assignee_id: int | None) -> Conversation:
    with transaction.atomic():
        conversation = conversation_for(user, conversation_id, lock=True)
        if (
            assignee_id is not None
            and not conversation.inbox.members().filter(pk=assignee_id).exists()
        ):
            raise ServiceError(_("Only members of the inbox can be assigned."), code="bad_frame")
        conversation.assignee_id = assignee_id
        conversation.auto_assigned = False
        conversation.save(update_fields=["assignee", "auto_assigned"])
        notify(conversation, "conversation")
    return conversation


def set_status(user, conversation_id: int, status: str) -> Conversation:
    with transaction.atomic():
        conversation = conversation_for(user, conversation_id, lock=True)
        if conversation.status != status:
            conversation.status = status
            conversation.closed_at = (
                timezone.now() if status == Conversation.Status.CLOSED else None
            )
            conversation.save(update_fields=["status", "closed_at"])
            notify(
                conversation, "closed" if status == Conversation.Status.CLOSED else "conversation"
            )
    return conversation


def mark_read(user, conversation_id: int, seq: int) -> Conversation:
    with transaction.atomic():
        conversation = conversation_for(user, conversation_id, lock=True)
        seq = min(seq, conversation.last_seq)
        if seq > conversation.agent_read_seq:
            conversation.agent_read_seq = seq
            conversation.save(update_fields=["agent_read_seq"])
            notify(conversation, "conversation")
    return conversation


def set_availability(user, available: bool) -> bool:
    AgentStatus.objects.update_or_create(
        user=user, defaults={"available": available, "updated_at": timezone.now()}
    )
    return available


def is_available(user) -> bool:
    return bool(AgentStatus.available_user_ids([user.pk]))


# -- Reading ---------------------------------------------------------------


def author_name(message: Message) -> str:
    if message.author == Message.Author.VISITOR:
        return _("Visitor")
    chatflow = message.conversation.chatflow if message.conversation_id else None
    if message.author == Message.Author.AGENT and chatflow and chatflow.use_team_alias:
        return chatflow.team_name
    # A first name or "Agent": never a username, which may be a login.
    return (message.user.first_name if message.user else "") or _("Agent")


def message_data(message: Message) -> dict:
    return {
        "seq": message.seq,
        "conversation": message.conversation_id,
        "author": message.author,
        "name": author_name(message),
        "body": message.body,
        "note": message.note,
        "created": message.created_at.isoformat(),
    }


HISTORY_LIMIT = 200


def messages_after(conversation: Conversation, after: int, *, notes: bool) -> list[dict]:
    """Messages after ``after``, oldest first: at most the newest
    ``HISTORY_LIMIT``, so that a huge conversation cannot flood a socket."""
    queryset = conversation.messages.filter(seq__gt=after).select_related(
        "user", "conversation__chatflow"
    )
    if not notes:
        queryset = queryset.filter(note=False)
    newest = list(queryset.order_by("-seq")[:HISTORY_LIMIT])
    return [message_data(m) for m in reversed(newest)]


def visitor_label(visitor: Visitor) -> str:
    contact = visitor.contact
    if contact is not None:
        return contact.name or contact.email
    return _("Visitor %(id)s") % {"id": visitor.pk}


def visitor_page(visitor: Visitor) -> dict | None:
    if not visitor.page_url:
        return None
    edit = reverse("wagtailadmin_pages:edit", args=[visitor.page_id]) if visitor.page_id else None
    return {
        "url": visitor.page_url,
        "title": visitor.page_title,
        "id": visitor.page_id,
        "edit_url": edit,
    }


def with_unread(queryset):
    return queryset.annotate(
        unread=Count(
            "messages",
            filter=Q(messages__author=Message.Author.VISITOR)
            & Q(messages__seq__gt=F("agent_read_seq")),
        )
    )


def conversation_data(conversation: Conversation) -> dict:
    last = (
        conversation.messages.filter(note=False)
        .order_by("-seq")
        .values_list("body", flat=True)
        .first()
    )
    unread = getattr(conversation, "unread", None)
    if unread is None:
        unread = conversation.messages.filter(
            author=Message.Author.VISITOR, seq__gt=conversation.agent_read_seq
        ).count()
    assignee = conversation.assignee
    return {
        "id": conversation.pk,
        "inbox": conversation.inbox_id,
        "inbox_name": conversation.inbox.name,
        "status": conversation.status,
        "assignee": {"id": assignee.pk, "name": display_name(assignee)} if assignee else None,
        "unread": unread,
        "last_message": (last or "")[:PREVIEW_LENGTH],
        "updated": conversation.updated_at.isoformat(),
        "visitor": visitor_label(conversation.visitor),
        "visitor_page": visitor_page(conversation.visitor),
    }


def conversation_context(conversation: Conversation) -> dict:
    """What an agent sees beside the thread."""
    visitor = conversation.visitor
    contact = visitor.contact
    earlier = visitor.conversations.exclude(pk=conversation.pk).order_by("-created_at")[:10]
    return {
        "page": visitor_page(visitor),
        "contact": (
            {
                "email": contact.email,
                "name": contact.name,
                "data_consent": bool(contact.data_consent_at),
                "subscriptions": [s["type"] for s in contact.subscriptions],
            }
            if contact
            else None
        ),
        "earlier": [
            {"id": c.pk, "created": c.created_at.isoformat(), "status": c.status} for c in earlier
        ],
        "members": [
            {"id": u.pk, "name": display_name(u)}
            for u in conversation.inbox.members().order_by("first_name", "username")
        ],
    }
