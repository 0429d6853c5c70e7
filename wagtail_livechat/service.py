"""The conversation service: every change to a conversation goes through here.

Consumers (both sides) and HTTP views call these plain, synchronous functions;
nothing about a message is decided anywhere else.

A sent message is one short transaction of two statements: an ``UPDATE ...
RETURNING`` that numbers it (and authorises the sender in its ``WHERE``), and
the ``INSERT``, whose unique (sender, client id) constraint makes a resend
idempotent; only a conflict reads. *After commit* the committed record (the
message and what changed in the conversation's summary, built once here) is
fanned out to the sockets that follow the conversation. The channel layer is
only the carrier: a socket that sees a gap in ``seq`` reads the record to
repair it, so a lost event delays a message but cannot lose it.
"""

from __future__ import annotations

import logging
import threading
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.http.request import validate_host
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from . import assignment, audit, events, memo, tasks, useragent
from .models import (
    AgentStatus,
    Chatflow,
    ConsentRecord,
    Contact,
    Conversation,
    ConversationLabel,
    Inbox,
    Message,
    SurveyAnswer,
    Visitor,
)
from .models.conversation import PAGES_KEPT
from .models.label import LABEL_MAX, LABELS_PER_CONVERSATION
from .pages import page_model
from .throttle import allow

log = logging.getLogger("wagtail_livechat")

PREVIEW_LENGTH = 140
HISTORY_LIMIT = 200
# What a message's frame tells of its attachment (``Attachment.data``).
ATTACHMENT_FIELDS = (
    "attachment",
    "attachment__key",
    "attachment__name",
    "attachment__size",
    "attachment__kind",
    "attachment__content_type",
    "attachment__width",
    "attachment__height",
)


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


# -- Fan-out ---------------------------------------------------------------


def conversation_group(pk: int) -> str:
    """Agents viewing a conversation: typing and presence, never stored."""
    return f"livechat.conversation.{pk}"


def inbox_group(pk: int) -> str:
    return f"livechat.inbox.{pk}"


def visitor_group(pk: int) -> str:
    return f"livechat.visitor.{pk}"


# Every agent socket: told to read its memberships again when they change.
AGENTS_GROUP = "livechat.agents"


def send_now(deliveries) -> None:
    layer = get_channel_layer()
    for group, event in deliveries:
        try:
            async_to_sync(layer.group_send)(group, event)
        except Exception:  # the record is safe; sockets repair gaps from it
            log.warning("livechat: could not notify %s", group, exc_info=True)


_outbox = threading.local()


@contextmanager
def collecting():
    """Collect what is fanned out inside the block instead of sending it: a
    consumer sends it from the event loop, so that the database thread (which
    every socket of a process shares) never waits on the channel layer."""
    deliveries = []
    _outbox.deliveries = deliveries
    try:
        yield deliveries
    finally:
        _outbox.deliveries = None


@contextmanager
def sharing_transaction():
    """Inside the block, a message's write runs in the caller's transaction
    with no savepoint of its own (two statements fewer): the work of several
    sockets shares it, and a failure rolls all of it back, after which each
    runs again alone (``database.run_together``)."""
    _outbox.shared = True
    try:
        yield
    finally:
        _outbox.shared = False


def fan_out(*deliveries) -> None:
    """After the transaction commits, send each ``(group, event)``: only what
    is committed ever travels."""

    def send():
        collected = getattr(_outbox, "deliveries", None)
        if collected is not None:
            collected.extend(deliveries)
        else:
            send_now(deliveries)

    transaction.on_commit(send)


def _event(kind: str, conversation_id: int, inbox_id: int, **fields) -> dict:
    return {
        "type": "livechat.event",
        "event": kind,
        "conversation": conversation_id,
        "inbox": inbox_id,
        **fields,
    }


# -- Agents ----------------------------------------------------------------


@dataclass(frozen=True)
class Agent:
    """What the service needs of an agent: who they are and which inboxes
    they may work in. A socket holds one and reads it again when memberships
    change, so that authorising a frame costs no query."""

    id: int
    name: str
    everything: bool  # a superuser: every inbox
    inboxes: frozenset[int]

    def may(self, inbox_id: int) -> bool:
        return self.everything or inbox_id in self.inboxes


def agent_inboxes(user):
    if not (user.is_authenticated and user.is_active):
        return Inbox.objects.none()
    if user.is_superuser:
        return Inbox.objects.all()
    return Inbox.objects.filter(Q(users=user) | Q(groups__user=user)).distinct()


def agent_for(user) -> Agent | None:
    """The agent this user is now, or None: inactive, without admin access,
    or a member of no inbox. The one place that decides membership."""
    if user is None or not user.is_authenticated:
        return None
    user = get_user_model().objects.filter(pk=user.pk, is_active=True).first()
    if user is None or not user.has_perm("wagtailadmin.access_admin"):
        return None
    inboxes = frozenset(agent_inboxes(user).values_list("pk", flat=True))
    if not inboxes and not user.is_superuser:
        return None
    return Agent(user.pk, user.first_name, user.is_superuser, inboxes)


def _as_agent(user) -> Agent:
    if isinstance(user, Agent):
        return user
    agent = agent_for(user)
    if agent is None:
        raise Forbidden(_("You are not a member of this inbox."))
    return agent


def display_name(user) -> str:
    if user is None:
        return ""
    return user.get_full_name() or user.get_username()


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
    agent = user if isinstance(user, Agent) else None
    allowed = (
        agent.may(conversation.inbox_id)
        if agent
        else agent_inboxes(user).filter(pk=conversation.inbox_id).exists()
    )
    if not allowed:
        raise Forbidden(_("You are not a member of this inbox."))
    return conversation


def _refused(pk: int) -> ServiceError:
    """Why a write that matched no row was refused (read only then)."""
    if Conversation.objects.filter(pk=pk).exists():
        return Forbidden(_("You are not a member of this inbox."))
    return NotFound(_("No such conversation."))


# -- Writing a message -----------------------------------------------------


_RETURNING = (
    "last_seq",
    "inbox_id",
    "visitor_id",
    "assignee_id",
    "status",
    "agent_unread",
    "chatflow_id",
    "reopened_at",
    "assigned_at",
)
_COLUMNS = (
    "conversation_id",
    "seq",
    "author",
    "user_id",
    "name",
    "body",
    "note",
    "sender",
    "client_id",
    "attachment_id",
    "created_at",
)


def _append(
    pk, *, sets="", params=(), where="", where_params=(), agent_name=None, now=None, **fields
):
    """Number and store one message: returns ``(message, row)``, ``row``
    being what the write returned of the conversation, or None when no
    conversation matched ``where`` (which is how the sender is authorised).

    The ``UPDATE ... RETURNING`` numbers it and takes the row lock until
    commit, so that seq order is commit order; an ``UPDATE`` locks like
    ``FOR NO KEY UPDATE`` and does not block other transactions' foreign-key
    checks, which ``FOR UPDATE`` would turn into deadlocks. ``sets`` change
    the conversation in the same statement. The ``INSERT`` is plain SQL
    (compiling it through the ORM cost more than running it) and takes the
    name agents answer under from the chatflow in the same statement. On
    PostgreSQL both are one statement (a CTE): one round trip, atomic
    without a transaction of its own. ``now`` is the message's time (the
    caller's, when ``sets`` also needs it).
    """
    now = now or timezone.now()
    qn = connection.ops.quote_name
    conversations, messages, chatflows = (
        qn(model._meta.db_table) for model in (Conversation, Message, Chatflow)
    )
    update = (
        f"UPDATE {conversations} SET last_seq = last_seq + 1, updated_at = %s{sets} "  # noqa: S608
        f"WHERE id = %s{where} RETURNING {', '.join(_RETURNING)}"
    )
    update_params = [connection.ops.adapt_datetimefield_value(now), *params, pk, *where_params]
    message = Message(conversation_id=pk, created_at=now, **fields)

    def select(seq, chatflow):
        """The INSERT's values, column by column, as SQL and parameters;
        ``seq`` and ``chatflow`` are each ``(sql, params)``."""
        parts, values = [], []
        for column in _COLUMNS:
            if column == "seq":
                parts.append(seq[0])
                values += seq[1]
            elif column == "name" and agent_name is not None:
                parts.append(
                    f"COALESCE((SELECT NULLIF(team_name, '') FROM {chatflows} "  # noqa: S608
                    f"WHERE id = {chatflow[0]} AND use_team_alias AND heading_mode = %s), %s)"
                )
                # The alias belongs to the custom branding heading only: a
                # team name left from it must not hide agents shown by name.
                values += [*chatflow[1], Chatflow.HeadingMode.BRANDING.value, agent_name]
            else:
                parts.append("%s")
                values.append(getattr(message, column))
        values[-1] = connection.ops.adapt_datetimefield_value(now)  # created_at
        return ", ".join(parts), values

    insert = f"INSERT INTO {messages} ({', '.join(_COLUMNS)}) SELECT"  # noqa: S608
    single = connection.vendor == "postgresql"
    shared = getattr(_outbox, "shared", False)
    if single and not connection.in_atomic_block:
        atomic = nullcontext()
    else:
        atomic = transaction.atomic(savepoint=not shared)
    with atomic:
        with connection.cursor() as cursor:
            if single:
                sql, values = select(("c.last_seq", []), ("c.chatflow_id", []))
                cursor.execute(
                    f"WITH c AS ({update}), m AS ({insert} {sql} FROM c RETURNING id, name) "  # noqa: S608
                    f"SELECT m.id, m.name, {', '.join('c.' + r for r in _RETURNING)} FROM m, c",
                    [*update_params, *values],
                )
                found = cursor.fetchone()
                if found is None:
                    return None
                message.pk, message.name, *returned = found
            else:
                cursor.execute(update, update_params)
                returned = cursor.fetchone()
                if returned is None:
                    return None
                chatflow = returned[_RETURNING.index("chatflow_id")]
                sql, values = select(("%s", [returned[0]]), ("%s", [chatflow]))
                cursor.execute(f"{insert} {sql} RETURNING id, name", values)
                message.pk, message.name = cursor.fetchone()
    row = dict(
        zip(
            (
                "seq",
                "inbox",
                "visitor",
                "assignee",
                "status",
                "unread",
                "chatflow",
                "reopened",
                "assigned",
            ),
            returned,
            strict=True,
        )
    )
    message.seq = row["seq"]
    # Reopened by this write: it set ``reopened_at`` to its own time.
    row["reopened"] = _same_instant(row["reopened"], now)
    row["assigned"] = _same_instant(row["assigned"], now)
    message._state.adding = False
    if agent_name is not None:
        message.agent_name = agent_name  # what agents see (message_data)
    message._state.db = connection.alias
    return message, row


def _same_instant(value, when: datetime) -> bool:
    """Whether a datetime the database returned (SQLite: maybe as text,
    naive in UTC) is ``when``."""
    if value is None:
        return False
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if timezone.is_naive(value):
        value = value.replace(tzinfo=UTC)
    return value == when


def stored_message(sender: str, client_id: str) -> Message | None:
    """The message this sender already stored under this client id, if any."""
    return (
        Message.objects.select_related("conversation", "attachment")
        .filter(sender=sender, client_id=client_id)
        .first()
    )


def _once(sender: str, client_id: str, write):
    """Run ``write``; if the (sender, client id) is taken, the resend
    returns the message stored the first time."""
    try:
        return write(), True
    except IntegrityError:
        found = stored_message(sender, client_id)
        if found is None:
            raise
        return found, False


def _summary_delta(message: Message, row: dict, **extra) -> dict:
    """What a message changes in the inbox list's row: built from what the
    write returned, with no read."""
    delta = {
        "id": message.conversation_id,
        "inbox": row["inbox"],
        "status": row["status"],
        "unread": row["unread"],
        "updated": message.created_at.isoformat(),
        **extra,
    }
    if not message.note:
        delta["last_message"] = preview(message.body, message.attachment)
    return delta


def preview(body: str, attachment=None) -> str:
    """The start of a message for the inbox list: a file shows its name."""
    if attachment is not None and not body:
        body = f"\N{PAPERCLIP} {attachment.name}"
    return body[:PREVIEW_LENGTH]


def _fan_out_message(message: Message, row: dict, summary: dict) -> None:
    data = message_data(message, for_agents=True)
    event = _event(
        "message",
        message.conversation_id,
        row["inbox"],
        message=data,
        summary=summary,
        # Not for clients: lets the sending socket know its own message.
        sender=message.sender,
        client_id=message.client_id,
    )
    # A note never travels to the visitor's sockets: only its seq does, so
    # that they know there is no gap.
    to_visitor = (
        _event("message", message.conversation_id, row["inbox"], seq=message.seq, note=True)
        if message.note
        else event
    )
    if not message.note and data["name"] != message.name and message.name:
        # The visitor sees the team's alias; agents, who answered.
        to_visitor = dict(event, message=message_data(message))
    fan_out((inbox_group(row["inbox"]), event), (visitor_group(row["visitor"]), to_visitor))
    # Nothing is built unless someone listens (events.emit decides).
    events.emit("message.created", Message, lambda: events.message_payload(message, data, row))
    if row["reopened"]:
        events.emit(
            "conversation.reopened",
            Conversation,
            lambda: {
                **events.conversation_row_payload(message.conversation_id, row),
                "by": message.user_id,
            },
        )


def post_visitor_message(
    visitor: Visitor,
    *,
    client_id: str,
    body: str,
    chatflow_id=None,
    conversation_id=None,
    context: dict | None = None,
    attachment=None,
):
    """Store a visitor's message; returns ``(message, created)``.

    The visitor's conversation continues (a closed one reopens); with none
    known, the first message starts one in the inbox of the chatflow the
    widget shows (the only path here that reads), with the visitor's
    ``context`` (``user_agent``, ``time_zone``: see :func:`_start`). An
    ``attachment`` (stored already, see ``attachments.receive``) is sent with
    it, ``body`` its caption.
    """
    sender = f"v{visitor.pk}"
    # Writing to a closed conversation reopens it (and says so in
    # ``reopened_at``: SET sees the row as it was).
    sets = (
        ", reopened_at = CASE WHEN status = %s THEN %s ELSE reopened_at END"
        ", status = %s, closed_at = NULL, agent_unread = agent_unread + 1, last_message = %s"
    )
    fields = {"author": Message.Author.VISITOR, "body": body, "sender": sender}
    if attachment is not None:
        fields["attachment"] = attachment

    def write():
        now = timezone.now()
        params = (
            Conversation.Status.CLOSED,
            connection.ops.adapt_datetimefield_value(now),
            Conversation.Status.OPEN,
            preview(body, attachment),
        )
        appended = conversation_id and _append(
            conversation_id,
            sets=sets,
            params=params,
            where=" AND visitor_id = %s",
            where_params=(visitor.pk,),
            client_id=client_id,
            now=now,
            **fields,
        )
        if appended:
            message, row = appended
            summary = _summary_delta(message, row)
        else:
            with transaction.atomic():
                pk = _current_or_start(visitor, chatflow_id, context).pk
                message, row = _append(
                    pk, sets=sets, params=params, client_id=client_id, now=now, **fields
                )
                # The list may not have this row yet: the whole summary (one read).
                summary = conversation_data(conversation_for_summary(pk))
        _fan_out_message(message, row, summary)
        if not memo.inbox_online(row["inbox"]) and memo.offline_notice_due(message.conversation_id):
            tasks.after_commit(tasks.notify_offline, message.conversation_id, message.pk)
        return message

    return _once(sender, client_id, write)


def _current_or_start(visitor: Visitor, chatflow_id, context=None) -> Conversation:
    # One conversation start at a time per visitor (NO KEY: see _append).
    Visitor.objects.select_for_update(no_key=True).filter(pk=visitor.pk).first()
    chatflow = (
        Chatflow.objects.filter(pk=chatflow_id, live=True).select_related("inbox").first()
        if chatflow_id
        else None
    )
    if chatflow is None:
        # No chatflow shows any more: the latest conversation, if any, goes on.
        conversation = current_conversation(visitor)
        if conversation is None:
            raise ServiceError(_("This chat is not available any more."), code="not_found")
        return conversation
    return current_conversation(visitor, chatflow.inbox_id) or _start(visitor, chatflow, context)


def _start(visitor: Visitor, chatflow: Chatflow, context=None) -> Conversation:
    """A new conversation. Only now, as the visitor writes, is their context
    stored: browser, system and device from their user agent, their time
    zone, and the page they are on, the first of the pages visited."""
    context = context or {}
    agent = useragent.parse(context.get("user_agent"))
    conversation = Conversation(
        inbox=chatflow.inbox,
        chatflow=chatflow,
        visitor=visitor,
        browser=agent.browser,
        os=agent.os,
        device=agent.device,
        time_zone=valid_time_zone(context.get("time_zone")),
        pages=[_visit(visitor.page_url, visitor.page_title)] if visitor.page_url else [],
    )
    owner, away = _owner_route(visitor, chatflow)
    if owner is not None and not away:
        conversation.assignee_id = owner
    elif chatflow.auto_assign and not (away and chatflow.owner_routing == "owner"):
        conversation.assignee_id = _round_robin(chatflow)
        conversation.auto_assigned = conversation.assignee_id is not None
    if conversation.assignee_id is not None:
        conversation.assigned_at = conversation.created_at
    conversation.save()
    if away:
        tasks.after_commit(tasks.notify_owner, conversation.pk, owner)
    events.emit(
        "conversation.created", Conversation, lambda: events.conversation_payload(conversation)
    )
    if conversation.assignee_id is not None:
        events.emit(
            "conversation.assigned",
            Conversation,
            lambda: {**events.conversation_payload(conversation), "by": None},
        )
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


def post_agent_message(
    user, conversation_id: int, *, client_id: str, body: str, note=False, attachment=None
):
    """Store an agent's message or note; returns ``(message, created)``.

    ``user`` may be an :class:`Agent` (what a socket holds): then the write
    is authorised in its own ``WHERE`` with no query.
    """
    agent = _as_agent(user)
    sender = f"u{agent.id}"
    where, where_params = "", ()
    if not agent.everything:
        if not agent.inboxes:
            raise Forbidden(_("You are not a member of this inbox."))
        where = f" AND inbox_id IN ({', '.join(['%s'] * len(agent.inboxes))})"
        where_params = tuple(agent.inboxes)

    def write():
        # An agent who answers takes an unassigned conversation (and says so
        # in ``assigned_at``) and has read what came before, and the first
        # answer's time is kept for the reports; a note changes none of these.
        now = timezone.now()
        sets, params, fields = "", (), {}
        if not note:
            sets = (
                ", assigned_at = CASE WHEN assignee_id IS NULL THEN %s ELSE assigned_at END"
                ", assignee_id = COALESCE(assignee_id, %s), agent_read_seq = last_seq + 1,"
                " agent_unread = 0, last_message = %s,"
                " first_response_at = COALESCE(first_response_at, %s)"
            )
            params = (
                connection.ops.adapt_datetimefield_value(now),
                agent.id,
                preview(body, attachment),
                connection.ops.adapt_datetimefield_value(now),
            )
        if attachment is not None:
            fields["attachment"] = attachment
        appended = _append(
            conversation_id,
            sets=sets,
            params=params,
            where=where,
            where_params=where_params,
            now=now,
            agent_name=agent.name,
            author=Message.Author.AGENT,
            user_id=agent.id,
            body=body,
            note=note,
            sender=sender,
            client_id=client_id,
            **fields,
        )
        if appended is None:
            raise _refused(conversation_id)
        message, row = appended
        extra = {}
        if row["assignee"] == agent.id:  # taken now, or already theirs
            extra["assignee"] = {"id": agent.id, "name": agent.name or _("Agent")}
        _fan_out_message(message, row, _summary_delta(message, row, **extra))
        if row["assigned"]:  # taken by answering
            events.emit(
                "conversation.assigned",
                Conversation,
                lambda: {
                    **events.conversation_row_payload(message.conversation_id, row),
                    "by": agent.id,
                },
            )
        return message

    return _once(sender, client_id, write)


# -- Other changes ---------------------------------------------------------


def _announce(conversation: Conversation, kind="conversation", **fields) -> None:
    """Fan out a conversation's whole summary (the rare changes: assignment,
    status, contact), built once for every socket."""
    summary = conversation_data(conversation)
    deliveries = [
        (
            inbox_group(conversation.inbox_id),
            _event(kind, conversation.pk, conversation.inbox_id, summary=summary, **fields),
        )
    ]
    if conversation.status == Conversation.Status.CLOSED and kind == "conversation":
        deliveries.append(
            (
                visitor_group(conversation.visitor_id),
                _event("closed", conversation.pk, conversation.inbox_id),
            )
        )
    fan_out(*deliveries)


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
        conversation.assigned_at = timezone.now() if assignee_id is not None else None
        conversation.save(update_fields=["assignee", "auto_assigned", "assigned_at"])
        conversation = conversation_for_summary(conversation.pk)
        audit.log(
            conversation,
            audit.ASSIGN,
            user,
            assignee=assignee_id,
            assignee_name=display_name(conversation.assignee),
        )
        _announce(conversation)
        events.emit(
            "conversation.assigned",
            Conversation,
            lambda: {**events.conversation_payload(conversation), "by": _user_id(user)},
        )
    return conversation


def _user_id(user) -> int | None:
    return user.id if isinstance(user, Agent) else getattr(user, "pk", None)


def _emit_status(conversation: Conversation, by: int | None) -> None:
    closed = conversation.status == Conversation.Status.CLOSED
    events.emit(
        "conversation.closed" if closed else "conversation.reopened",
        Conversation,
        lambda: {**events.conversation_payload(conversation), "by": by},
    )


def set_status(user, conversation_id: int, status: str) -> Conversation:
    with transaction.atomic():
        conversation = conversation_for(user, conversation_id, lock=True)
        if conversation.status != status:
            conversation.status = status
            now = timezone.now()
            closed = status == Conversation.Status.CLOSED
            conversation.closed_at = now if closed else None
            fields = ["status", "closed_at"]
            if not closed:
                conversation.reopened_at = now
                fields.append("reopened_at")
            conversation.save(update_fields=fields)
            audit.log(conversation, audit.CLOSE if closed else audit.REOPEN, user)
            _announce(conversation)
            _emit_status(conversation, _user_id(user))
    return conversation


def mark_read(user, conversation_id: int, seq: int) -> dict | None:
    """Agents have read up to ``seq``; returns what changed in the summary
    (None: nothing). Only the unread count travels, never a second summary."""
    agent = _as_agent(user)
    with transaction.atomic():
        conversation = (
            Conversation.objects.select_for_update(no_key=True)
            .filter(pk=conversation_id)
            .only("pk", "inbox_id", "last_seq", "agent_read_seq", "agent_unread")
            .first()
        )
        if conversation is None:
            raise NotFound(_("No such conversation."))
        if not agent.may(conversation.inbox_id):
            raise Forbidden(_("You are not a member of this inbox."))
        seq = min(seq, conversation.last_seq)
        if seq <= conversation.agent_read_seq:
            return None
        unread = (
            0
            if seq == conversation.last_seq
            else conversation.messages.filter(
                author=Message.Author.VISITOR, note=False, seq__gt=seq
            ).count()
        )
        Conversation.objects.filter(pk=conversation_id).update(
            agent_read_seq=seq, agent_unread=unread
        )
        delta = {"id": conversation_id, "inbox": conversation.inbox_id, "unread": unread}
        fan_out(
            (
                inbox_group(conversation.inbox_id),
                _event("read", conversation_id, conversation.inbox_id, summary=delta),
            )
        )
    return delta


def set_availability(user, available: bool) -> bool:
    AgentStatus.objects.update_or_create(
        user_id=user.pk if not isinstance(user, Agent) else user.id,
        defaults={"available": available, "updated_at": timezone.now()},
    )
    return available


def is_available(user) -> bool:
    pk = user.id if isinstance(user, Agent) else user.pk
    return bool(AgentStatus.available_user_ids([pk]))


# -- Visitors --------------------------------------------------------------


def visitor_by_key(key: str | None) -> Visitor | None:
    if not key:
        return None
    return Visitor.objects.select_related("contact").filter(key=key).first()


def current_conversation(visitor: Visitor | None, inbox_id=None) -> Conversation | None:
    """The visitor's latest conversation in this inbox (any inbox: None). A
    conversation belongs to the inbox of the chatflow it started in, so a
    visitor has one per inbox."""
    if visitor is None:
        return None
    conversations = visitor.conversations.select_related("inbox", "chatflow")
    if inbox_id is not None:
        conversations = conversations.filter(inbox_id=inbox_id)
    return conversations.order_by("-created_at", "-pk").first()


def _page_at(url: str, page_id: int | None) -> int | None:
    """The page id the widget reported, if that live page is at that URL: the
    agents' "edit this page" link must not point wherever a visitor says."""
    if not page_id:
        return None
    page = page_model().objects.live().filter(pk=page_id).first()
    if page is None or page.get_url() not in (url, urlsplit(url).path):
        return None
    return page.pk


def valid_time_zone(name) -> str:
    """An IANA time zone name the server knows, else ""."""
    if not isinstance(name, str) or not name or len(name) > 64 or name.startswith("/"):
        return ""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return ""
    return name


def _visit(url: str, title: str) -> dict:
    return {"url": url, "title": title, "at": timezone.now().isoformat()}


def update_visitor_page(visitor: Visitor, page: dict | None) -> None:
    """Where the visitor is now; a page they move to while a conversation is
    open is added to its pages visited (the latest ``PAGES_KEPT``)."""
    # Only pages of this site: the agents' "Now on" link must not lead them
    # to wherever a visitor says.
    if not page or not validate_host(urlsplit(page["url"]).hostname or "", settings.ALLOWED_HOSTS):
        return
    visitor.page_url = page["url"]
    visitor.page_title = page.get("title") or ""
    visitor.page_id = _page_at(page["url"], page.get("id"))
    visitor.last_seen_at = timezone.now()
    visit = _visit(visitor.page_url, visitor.page_title)
    with transaction.atomic():
        visitor.save(update_fields=["page_url", "page_title", "page_id", "last_seen_at"])
        data = visitor_page(visitor)
        open_ = visitor.conversations.filter(status=Conversation.Status.OPEN)
        deliveries = []
        for pk, inbox, pages in open_.select_for_update(no_key=True).values_list(
            "pk", "inbox_id", "pages"
        ):
            # A reload or a reconnect on the same page is no new visit.
            fields = {}
            if not pages or pages[-1].get("url") != visit["url"]:
                Conversation.objects.filter(pk=pk).update(pages=[*pages, visit][-PAGES_KEPT:])
                fields["visit"] = visit
            deliveries.append(
                (inbox_group(inbox), _event("visitor_page", pk, inbox, page=data, **fields))
            )
        fan_out(*deliveries)


# -- Labels ----------------------------------------------------------------


def clean_label(name: str) -> str:
    """A label as stored: spaces collapsed, lower case, at most ``LABEL_MAX``
    characters; refused when empty or longer."""
    label = " ".join(str(name).split()).lower()
    if not label:
        raise ServiceError(_("A label cannot be empty."), code="bad_frame")
    if len(label) > LABEL_MAX:
        raise ServiceError(
            _("Keep labels under %(max)s characters.") % {"max": LABEL_MAX}, code="too_long"
        )
    return label


def set_label(user, conversation_id: int, name: str, add: bool) -> Conversation:
    """Put a label on a conversation, or take it off; every agent of the
    inbox gets the new summary. Returns the conversation as now stored."""
    label = clean_label(name)
    with transaction.atomic():
        conversation = conversation_for(user, conversation_id, lock=True)
        labels = conversation.labels.all()
        if add:
            if not labels.filter(name=label).exists():
                if labels.count() >= LABELS_PER_CONVERSATION:
                    raise ServiceError(
                        _("A conversation has at most %(max)s labels.")
                        % {"max": LABELS_PER_CONVERSATION},
                        code="too_many_labels",
                    )
                ConversationLabel.objects.create(conversation=conversation, name=label)
        else:
            labels.filter(name=label).delete()
        conversation = conversation_for_summary(conversation.pk)
        _announce(conversation, "labels")
    return conversation


# Labels offered to an agent (suggestions and the list's filter), at most.
LABELS_OFFERED = 100


def labels_in_use(inboxes) -> list[str]:
    """The labels the conversations of these inboxes carry, A to Z."""
    return list(
        ConversationLabel.objects.filter(conversation__inbox__in=inboxes)
        .order_by("name")
        .values_list("name", flat=True)
        .distinct()[:LABELS_OFFERED]
    )


# Mails one address may receive from the chat in an hour (confirmations and
# transcripts together), however many visitors give it.
MAILS_PER_ADDRESS = 3


def capture_email(
    visitor: Visitor, *, email: str, subscribe: bool, consent: bool, chatflow_id=None
) -> Visitor:
    """Link the visitor to the contact with this address (created if new);
    returns the visitor as now stored.

    A typed address proves nothing: until the visitor follows the link
    mailed to it, nothing else is mailed there and their consents are
    recorded on the visitor as unconfirmed (see :func:`confirm_email`).
    """
    try:
        validate_email(email)
    except ValidationError:
        raise ServiceError(_("Enter a valid email address."), code="invalid_email") from None
    now = timezone.now().isoformat()
    with transaction.atomic():
        # Afresh and locked: the socket's copy may predate a confirmation.
        visitor = Visitor.objects.select_for_update(no_key=True).get(pk=visitor.pk)
        contact, _created = Contact.objects.get_or_create(email=email.lower())
        chatflow = (
            Chatflow.objects.filter(pk=chatflow_id, live=True).first() if chatflow_id else None
        )
        consents = {}
        # Consent counts only where it was asked for ("explicit"), never
        # inferred from a chatflow that shows no checkbox.
        if consent and chatflow and chatflow.data_consent == Chatflow.DataConsent.EXPLICIT:
            consents["data"] = now
        if subscribe and chatflow and chatflow.communication_consent:
            consents["subscriptions"] = [{"type": chatflow.subscription_type, "at": now}]
        if chatflow is not None:
            # The evidence, whatever was chosen: what was asked, and the answer.
            if chatflow.data_consent == Chatflow.DataConsent.EXPLICIT:
                _record_consent(visitor, chatflow, "data", consent, contact=contact)
            if chatflow.communication_consent:
                _record_consent(visitor, chatflow, "communication", subscribe, contact=contact)
        changed = visitor.contact_id != contact.pk
        visitor.contact = contact
        if changed:
            visitor.contact_confirmed_at = None
        visitor.pending_consents = consents
        visitor.save(update_fields=["contact", "contact_confirmed_at", "pending_consents"])
        if visitor.contact_confirmed_at is not None:
            _apply_consents(visitor, contact)
        elif allow_mail(contact.email):
            language = chatflow.language if chatflow else settings.LANGUAGE_CODE
            tasks.after_commit(tasks.send_confirmation, visitor.pk, contact.pk, language)
        for conversation in visitor.conversations.filter(
            status=Conversation.Status.OPEN
        ).select_related("inbox", "assignee", "visitor__contact"):
            _announce(conversation, "contact", context=conversation_context(conversation))
    return visitor


def identify_visitor(visitor: Visitor, claims) -> Visitor:
    """Link the visitor to the contact the site vouched for (``claims``: a
    :class:`identity.Claims` read from a genuine token or a logged-in user),
    marked identified, its address proven; returns the visitor as now stored.
    Nothing is written when the visitor is already that contact."""
    email = claims.email.lower()
    try:
        validate_email(email)
    except ValidationError:
        return visitor
    contact = visitor.contact
    if (
        contact is not None
        and contact.identified_at is not None
        and contact.email == email
        and (not claims.name or contact.name == claims.name)
        and contact.external_id == claims.external_id
        and visitor.contact_confirmed_at is not None
    ):
        return visitor
    now = timezone.now()
    with transaction.atomic():
        visitor = Visitor.objects.select_for_update(no_key=True).get(pk=visitor.pk)
        # The site's own id first: a person whose address changed stays one contact.
        contact = (
            claims.external_id
            and Contact.objects.select_for_update().filter(external_id=claims.external_id).first()
        ) or Contact.objects.get_or_create(email=email)[0]
        if contact.email != email and not Contact.objects.filter(email=email).exists():
            contact.email = email
        contact.name = claims.name or contact.name
        contact.external_id = claims.external_id or contact.external_id
        contact.identified_at = contact.identified_at or now
        contact.email_confirmed_at = contact.email_confirmed_at or now
        contact.save()
        visitor.contact = contact
        visitor.contact_confirmed_at = now
        visitor.save(update_fields=["contact", "contact_confirmed_at"])
        _apply_consents(visitor, contact)
        for conversation in visitor.conversations.filter(
            status=Conversation.Status.OPEN
        ).select_related("inbox", "assignee", "visitor__contact"):
            _announce(conversation, "contact", context=conversation_context(conversation))
    return Visitor.objects.select_related("contact").get(pk=visitor.pk)


def allow_mail(address: str) -> bool:
    """At most ``MAILS_PER_ADDRESS`` chat mails an hour to one address."""
    return allow(f"mail:{address.lower()}", MAILS_PER_ADDRESS, 3600)


def _apply_consents(visitor: Visitor, contact: Contact, changed: bool = False) -> None:
    """Move the consents the visitor gave to their (now proven) contact,
    saving it when that (or the caller, ``changed``) changed it: each save
    is a ``contact.updated`` event."""
    consents = visitor.pending_consents or {}
    if consents.get("data") and contact.data_consent_at is None:
        contact.data_consent_at = datetime.fromisoformat(consents["data"])
        changed = True
    kinds = {s["type"] for s in contact.subscriptions}
    for subscription in consents.get("subscriptions", ()):
        if subscription["type"] not in kinds:
            contact.subscriptions = [*contact.subscriptions, subscription]
            changed = True
    if changed:
        contact.save()
    Visitor.objects.filter(pk=visitor.pk).update(pending_consents={})
    visitor.pending_consents = {}


def confirm_email(visitor_id: int, contact_id: int) -> Contact | None:
    """The visitor followed the link mailed to the contact's address: the
    address is theirs. None when either is gone or the link is stale."""
    with transaction.atomic():
        visitor = (
            Visitor.objects.select_for_update(no_key=True)
            .filter(pk=visitor_id, contact_id=contact_id)
            .select_related("contact")
            .first()
        )
        if visitor is None:
            return None
        now = timezone.now()
        contact = visitor.contact
        first = contact.email_confirmed_at is None
        contact.email_confirmed_at = contact.email_confirmed_at or now
        visitor.contact_confirmed_at = now
        visitor.save(update_fields=["contact_confirmed_at"])
        _apply_consents(visitor, contact, changed=first)
        for conversation in visitor.conversations.filter(
            status=Conversation.Status.OPEN
        ).select_related("inbox", "assignee", "visitor__contact"):
            _announce(conversation, "contact", context=conversation_context(conversation))
    return contact


def request_transcript(visitor: Visitor) -> None:
    """Queue the transcript mail (never sent on the socket's thread), to an
    address this visitor has proven is theirs, within the address's quota."""
    # Afresh: the address may have been confirmed since the socket read it.
    visitor = Visitor.objects.select_related("contact").get(pk=visitor.pk)
    if visitor.contact_id is None:
        raise ServiceError(_("Leave your email address first."), code="no_email")
    if visitor.contact_confirmed_at is None:
        raise ServiceError(
            _("Confirm your email address first: follow the link we sent you."),
            code="unconfirmed",
        )
    conversation = current_conversation(visitor)
    if conversation is None:
        raise ServiceError(_("There is no conversation yet."), code="not_found")
    # Two an hour per visitor, and the address's own quota.
    if not allow(f"transcript:{visitor.pk}", 2, 3600) or not allow_mail(visitor.contact.email):
        raise ServiceError(_("A transcript was sent already."), code="rate_limited")
    tasks.after_commit(tasks.send_transcript, conversation.pk)


def mark_visitor_read(visitor: Visitor, conversation_id: int | None, seq: int) -> None:
    if conversation_id is not None:
        Conversation.objects.filter(
            pk=conversation_id, visitor=visitor, visitor_read_seq__lt=seq, last_seq__gte=seq
        ).update(visitor_read_seq=seq)


# -- Reading ---------------------------------------------------------------


def _agent_name(message: Message) -> str:
    """The real name of the agent who wrote a message: what agents see, even
    where the visitor saw the team's alias. Known without a read when this
    process stored the message; else from its user (select it along)."""
    name = getattr(message, "agent_name", None)
    if name is None and message.user_id is not None:
        name = message.user.first_name or message.user.get_username()
    return name or message.name


def message_data(message: Message, *, for_agents: bool = False) -> dict:
    """A message as a client sees it; ``for_agents``: under the agent's real
    name, not the team alias the visitor saw."""
    name = message.name
    if for_agents and message.author == Message.Author.AGENT:
        name = _agent_name(message)
    data = {
        "seq": message.seq,
        "conversation": message.conversation_id,
        "author": message.author,
        "name": name or (_("Visitor") if message.author == Message.Author.VISITOR else _("Agent")),
        "body": message.body,
        "note": message.note,
        "created": message.created_at.isoformat(),
    }
    if message.attachment_id is not None:
        data["attachment"] = message.attachment.data()
    return data


def page_after(conversation_id: int, after: int, *, notes: bool, limit: int = HISTORY_LIMIT):
    """The oldest ``limit`` messages after ``after``, so that a huge backlog
    cannot flood a socket yet none is skipped; returns ``(messages, through,
    more)``: ``through`` is the last seq read (notes included, so that a
    visitor's socket knows a note is no gap) and ``more`` says a next page
    exists."""
    rows = list(
        Message.objects.filter(conversation_id=conversation_id, seq__gt=after)
        .order_by("seq")
        .select_related("attachment", *(("user",) if notes else ()))
        .only(
            "seq",
            "conversation_id",
            "author",
            "name",
            "body",
            "note",
            "created_at",
            *(("user__first_name", "user__username") if notes else ("user_id",)),
            *ATTACHMENT_FIELDS,
        )[: limit + 1]
    )
    more = len(rows) > limit
    rows = rows[:limit]
    through = rows[-1].seq if rows else after
    # Notes go to agents only: a page with notes is an agent's.
    return [message_data(m, for_agents=notes) for m in rows if notes or not m.note], through, more


def messages_between(conversation_id: int, after: int, before: int, *, notes: bool) -> list:
    """The messages with ``after < seq < before``, oldest first: what a
    socket missed before a message it is about to acknowledge."""
    found, more = [], True
    while more and after < before - 1:
        page, after, more = page_after(conversation_id, after, notes=notes)
        found.extend(m for m in page if m["seq"] < before)
    return found


def recent_messages(conversation: Conversation, limit: int = HISTORY_LIMIT) -> list[dict]:
    """The newest ``limit`` messages, oldest first, notes included (the
    thread an agent's page opens with)."""
    newest = conversation.messages.select_related("user", "attachment").order_by("-seq")[:limit]
    return [message_data(m, for_agents=True) for m in reversed(newest)]


def last_seqs(pks) -> dict[int, int]:
    """The last seq of each conversation: a socket's cheap check for a gap."""
    return dict(Conversation.objects.filter(pk__in=list(pks)).values_list("pk", "last_seq"))


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


def conversation_for_summary(pk: int) -> Conversation:
    return (
        Conversation.objects.select_related("inbox", "assignee", "visitor__contact")
        .prefetch_related("labels")
        .get(pk=pk)
    )


def conversation_data(conversation: Conversation) -> dict:
    """A conversation's whole row in the inbox list (no query beyond the
    related rows the caller selected)."""
    assignee = conversation.assignee
    return {
        "id": conversation.pk,
        "inbox": conversation.inbox_id,
        "inbox_name": conversation.inbox.name,
        "status": conversation.status,
        "assignee": {"id": assignee.pk, "name": display_name(assignee)} if assignee else None,
        "unread": conversation.agent_unread,
        "last_message": conversation.last_message,
        "updated": conversation.updated_at.isoformat(),
        "visitor": visitor_label(conversation.visitor),
        "visitor_page": visitor_page(conversation.visitor),
        # One query unless the caller prefetched them (the list does).
        "labels": sorted(label.name for label in conversation.labels.all()),
    }


def visitor_context(conversation: Conversation) -> dict:
    """What the conversation's start stored of the visitor's browser, and
    the pages they visited since."""
    return {
        "browser": conversation.browser,
        "os": conversation.os,
        "device": conversation.device,
        "time_zone": conversation.time_zone,
        "pages": conversation.pages,
    }


def conversation_context(conversation: Conversation) -> dict:
    """What an agent sees beside the thread."""
    visitor = conversation.visitor
    contact = visitor.contact
    earlier = visitor.conversations.exclude(pk=conversation.pk).order_by("-created_at")[:10]
    return {
        "page": visitor_page(visitor),
        "visitor": visitor_context(conversation),
        "contact": (
            {
                "email": contact.email,
                "confirmed": visitor.contact_confirmed_at is not None,
                "unconfirmed_consents": sorted(visitor.pending_consents or ()),
                "name": contact.name,
                "identified": contact.identified_at is not None,
                "external_id": contact.external_id,
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


# -- Consent records -------------------------------------------------------


def consent_text(chatflow: Chatflow, kind: str) -> str:
    """The text a chatflow shows for a consent, as the widget shows it (its
    own or the default, in the chatflow's language)."""
    from .config import consent_texts

    return consent_texts(chatflow)[kind]


def _record_consent(visitor, chatflow, kind, given, *, contact=None) -> ConsentRecord:
    return ConsentRecord.objects.create(
        kind=kind,
        given=given,
        text=consent_text(chatflow, kind),
        subscription_type=chatflow.subscription_type if kind == "communication" else "",
        visitor=visitor,
        contact=contact if contact is not None else visitor.contact,
        chatflow=chatflow,
        revision_id=chatflow.live_revision_id,
    )


def record_consent(visitor: Visitor, chatflow_id, kind: str, given: bool) -> ConsentRecord:
    """A visitor's answer to the cookie question, or their "I agree" to data
    processing, as the chatflow they chat in asked it (a chatflow that does not
    ask is refused: nothing is recorded that was never asked)."""
    chatflow = Chatflow.objects.filter(pk=chatflow_id, live=True).first() if chatflow_id else None
    asked = chatflow is not None and (
        chatflow.cookie_consent != Chatflow.CookieConsent.OFF
        if kind == "cookies"
        else chatflow.data_consent == Chatflow.DataConsent.EXPLICIT
    )
    if not asked:
        raise ServiceError(_("This chat does not ask for that consent."), code="forbidden")
    return _record_consent(visitor, chatflow, kind, given)


# -- Contact owners ----------------------------------------------------------


def known_contact(visitor: Visitor | None) -> Contact | None:
    """The visitor's contact when the visitor proved it (the mailed link, or
    the site vouched for them): only then may the chat act on who they are."""
    if visitor is None or visitor.contact_id is None or visitor.contact_confirmed_at is None:
        return None
    return visitor.contact


def _owner_route(visitor: Visitor, chatflow: Chatflow) -> tuple[int | None, bool]:
    """Whom the chatflow's owner routing gives a new conversation:
    ``(owner id, away)``, or ``(None, False)`` when it does not apply (off, no
    proven contact, no owner, or an owner who is not a member of the inbox)."""
    if chatflow.owner_routing == Chatflow.OwnerRouting.OFF:
        return None, False
    contact = known_contact(Visitor.objects.select_related("contact").get(pk=visitor.pk))
    owner = contact.owner_id if contact else None
    if owner is None or not chatflow.inbox.members().filter(pk=owner).exists():
        return None, False
    # Present as the inbox is online (memo decides): within office hours,
    # available, and connected now.
    present = memo.inbox_online(chatflow.inbox_id) and memo.connected(
        AgentStatus.available_user_ids([owner])
    )
    return owner, not present


def heading_owner(visitor: Visitor | None, chatflow_id) -> dict | None:
    """The owner the widget's heading shows (``{name, avatar}``), for a proven
    contact with an owner, when the chatflow's heading is "contact owner"."""
    from .config import person

    contact = known_contact(visitor)
    if contact is None or contact.owner_id is None or not chatflow_id:
        return None
    if not Chatflow.objects.filter(
        pk=chatflow_id, live=True, heading_mode=Chatflow.HeadingMode.OWNER
    ).exists():
        return None
    owner = (
        get_user_model()
        .objects.filter(pk=contact.owner_id, is_active=True)
        .select_related("wagtail_userprofile")
        .first()
    )
    return person(owner) if owner else None


def owner_choices():
    """Who may own a contact: active members of an inbox (directly, through a
    group, or superusers, who are members of every inbox)."""
    return (
        get_user_model()
        .objects.filter(
            Q(is_superuser=True)
            | Q(livechat_inboxes__isnull=False)
            | Q(groups__livechat_inboxes__isnull=False),
            is_active=True,
        )
        .distinct()
        .order_by("first_name", "last_name", "username")
    )


# -- Ending a conversation and its survey -----------------------------------


def end_by_visitor(visitor: Visitor, conversation_id: int) -> bool:
    """The visitor ends their conversation: closed as an agent closes it
    (the visitor's sockets get ``closed``). False: it was closed already."""
    with transaction.atomic():
        conversation = (
            Conversation.objects.select_for_update(of=("self",), no_key=True)
            .select_related("inbox", "assignee", "visitor__contact")
            .filter(pk=conversation_id, visitor=visitor)
            .first()
        )
        if conversation is None:
            raise NotFound(_("No such conversation."))
        if conversation.status != Conversation.Status.CLOSED:
            conversation.status = Conversation.Status.CLOSED
            conversation.closed_at = timezone.now()
            conversation.save(update_fields=["status", "closed_at"])
            audit.log(conversation, audit.CLOSE, None, by="visitor")
            _announce(conversation)
            _emit_status(conversation, None)
            return True
    return False


def survey_pending(conversation: Conversation | None) -> bool:
    """Whether the visitor may still answer this ended conversation's survey."""
    return bool(
        conversation is not None
        and conversation.status == Conversation.Status.CLOSED
        and conversation.chatflow is not None
        and conversation.chatflow.feedback_survey
        and not SurveyAnswer.objects.filter(conversation=conversation).exists()
    )


def survey_data(answer: SurveyAnswer | None) -> dict | None:
    if answer is None:
        return None
    agent = answer.agent
    return {
        "rating": answer.rating,
        "scale": SURVEY_SCALE,
        "comment": answer.comment,
        "agent": {"id": agent.pk, "name": display_name(agent)} if agent else None,
        "created": answer.created_at.isoformat(),
    }


SURVEY_SCALE = 5


def survey_of(conversation_id: int) -> dict | None:
    return survey_data(
        SurveyAnswer.objects.select_related("agent").filter(conversation_id=conversation_id).first()
    )


def answer_survey(visitor: Visitor, conversation_id: int, rating: int, comment: str) -> dict:
    """Store the visitor's answer to the survey of their ended conversation,
    once: the conversation's chatflow must ask for feedback, and a second
    answer (or a resend) is refused with ``answered``, the first one kept."""
    with transaction.atomic():
        conversation = (
            Conversation.objects.select_related("chatflow", "assignee")
            .filter(pk=conversation_id, visitor=visitor)
            .first()
        )
        if conversation is None:
            raise NotFound(_("No such conversation."))
        if conversation.chatflow is None or not conversation.chatflow.feedback_survey:
            raise ServiceError(_("This chat asks for no feedback."), code="forbidden")
        if conversation.status != Conversation.Status.CLOSED:
            raise ServiceError(_("The conversation has not ended."), code="not_closed")
        answer, created = SurveyAnswer.objects.get_or_create(
            conversation=conversation,
            defaults={
                "chatflow": conversation.chatflow,
                "agent": conversation.assignee,
                "rating": rating,
                "comment": comment,
            },
        )
        if not created:
            raise ServiceError(_("You rated this conversation already."), code="answered")
        data = survey_data(answer)
        events.emit(
            "survey.answered", SurveyAnswer, lambda: events.survey_payload(answer, SURVEY_SCALE)
        )
        fan_out(
            (
                inbox_group(conversation.inbox_id),
                _event("survey", conversation.pk, conversation.inbox_id, survey=data),
            )
        )
    return data
