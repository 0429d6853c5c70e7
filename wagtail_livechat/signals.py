"""The chat's signals, for site code: connect to them as to Django's own.

Each is sent after the transaction that made the change commits, never for
a change that was rolled back. Every signal gets ``sender`` (the model
class), ``event`` (the event's name, as webhooks call it) and ``data`` (a
JSON-ready dict, the same a webhook posts); see docs/signals.md for the keys
of each. A receiver that raises is logged and does not stop the others.

    from django.dispatch import receiver
    from wagtail_livechat.signals import conversation_closed

    @receiver(conversation_closed)
    def closed(sender, data, **kwargs):
        ...

The message path sends ``message_created`` only while someone listens (a
receiver, or an active webhook for ``message.created``): unused, it costs
nothing.
"""

from django.dispatch import Signal

conversation_created = Signal()
conversation_assigned = Signal()
conversation_closed = Signal()
conversation_reopened = Signal()
message_created = Signal()
contact_created = Signal()
contact_updated = Signal()
survey_answered = Signal()

# Event name -> signal: what webhooks subscribe to.
EVENTS = {
    "conversation.created": conversation_created,
    "conversation.assigned": conversation_assigned,
    "conversation.closed": conversation_closed,
    "conversation.reopened": conversation_reopened,
    "message.created": message_created,
    "contact.created": contact_created,
    "contact.updated": contact_updated,
    "survey.answered": survey_answered,
}
