"""Sending the chat's events (``signals.EVENTS``) to signal receivers and to
webhooks, after the transaction commits.

``emit`` decides first whether anyone listens: a receiver connected to the
signal, or an active webhook subscribed to the event (known in memory, see
:mod:`webhooks`). When nobody does, it returns before building anything,
so that an event nobody wants costs the message path nothing. The payload
builders below read nothing: they take what the caller has in hand.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from . import webhooks
from .signals import EVENTS

log = logging.getLogger("wagtail_livechat")


def emit(event: str, sender, data) -> None:
    """Send ``event`` after commit. ``data``: the payload, or a function
    that builds it (called only when someone listens)."""
    signal = EVENTS[event]
    listening = signal.has_listeners(sender)
    hooked = webhooks.subscribed(event)
    if not (listening or hooked):
        return
    if callable(data):
        data = data()
    at = timezone.now().isoformat()

    def send():
        if listening:
            for receiver, result in signal.send_robust(sender=sender, event=event, data=data):
                if isinstance(result, Exception):
                    log.error(
                        "livechat event=%s receiver=%r failed",
                        event,
                        receiver,
                        exc_info=result,
                        extra={"event": event},
                    )
        if hooked:
            webhooks.enqueue(event, data, at)

    transaction.on_commit(send)


# -- Payloads: plain data, what webhooks post and receivers get ---------------


def _iso(value):
    return value.isoformat() if value else None


def conversation_payload(conversation) -> dict:
    return {
        "id": conversation.pk,
        "inbox": conversation.inbox_id,
        "chatflow": conversation.chatflow_id,
        "visitor": conversation.visitor_id,
        "assignee": conversation.assignee_id,
        "status": conversation.status,
        "created": _iso(conversation.created_at),
        "closed": _iso(conversation.closed_at),
    }


def conversation_row_payload(conversation_id: int, row: dict) -> dict:
    """The same, from what a message's write returned (the message path
    holds no conversation object)."""
    return {
        "id": conversation_id,
        "inbox": row["inbox"],
        "chatflow": row["chatflow"],
        "visitor": row["visitor"],
        "assignee": row["assignee"],
        "status": row["status"],
    }


def message_payload(message, data: dict, row: dict) -> dict:
    """``data``: the message as agents see it (``service.message_data``)."""
    return {
        **data,
        "id": message.pk,
        "user": message.user_id,
        "inbox": row["inbox"],
        "visitor": row["visitor"],
    }


def contact_payload(contact) -> dict:
    return {
        "id": contact.pk,
        "email": contact.email,
        "name": contact.name,
        "owner": contact.owner_id,
        "external_id": contact.external_id,
        "email_confirmed": _iso(contact.email_confirmed_at),
        "identified": _iso(contact.identified_at),
        "data_consent": _iso(contact.data_consent_at),
        "subscriptions": list(contact.subscriptions or ()),
        "created": _iso(contact.created_at),
        "updated": _iso(contact.updated_at),
    }


def survey_payload(answer, scale: int) -> dict:
    return {
        "id": answer.pk,
        "conversation": answer.conversation_id,
        "chatflow": answer.chatflow_id,
        "agent": answer.agent_id,
        "rating": answer.rating,
        "scale": scale,
        "comment": answer.comment,
        "created": _iso(answer.created_at),
    }
