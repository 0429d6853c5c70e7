"""Conversation and Message: the record of every chat.

Messages are numbered per conversation (``seq``) under a lock on the
conversation row, so that the order in which messages commit is the order of
their numbers: a client that has seen ``seq`` n has seen everything before it.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .chatflow import Chatflow
from .contact import Visitor
from .inbox import Inbox

PAGES_KEPT = 20


class Conversation(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        CLOSED = "closed", _("Closed")

    inbox = models.ForeignKey(
        Inbox, on_delete=models.PROTECT, related_name="conversations", verbose_name=_("inbox")
    )
    chatflow = models.ForeignKey(
        Chatflow, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    visitor = models.ForeignKey(Visitor, on_delete=models.CASCADE, related_name="conversations")
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="livechat_conversations",
        verbose_name=_("assignee"),
    )
    # Whether round robin chose the assignee: the last such conversation of a
    # chatflow tells round robin whose turn is next.
    auto_assigned = models.BooleanField(default=False)
    status = models.CharField(
        _("status"), max_length=6, choices=Status.choices, default=Status.OPEN
    )
    created_at = models.DateTimeField(_("started"), default=timezone.now)
    updated_at = models.DateTimeField(_("last activity"), default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)
    # When a closed conversation last opened again (an agent, or the visitor
    # writing): the write that reopens it sets it, so that the message path
    # knows it reopened one without reading what it was.
    reopened_at = models.DateTimeField(null=True, blank=True)
    # When the conversation was last given to an agent (likewise: an agent
    # who answers takes an unassigned one, and the write says so here).
    assigned_at = models.DateTimeField(null=True, blank=True)
    # When an agent first answered (a note is no answer): set by the agent
    # message's own UPDATE, so that the reports need no scan of messages.
    first_response_at = models.DateTimeField(_("first response"), null=True, blank=True)
    last_seq = models.PositiveIntegerField(default=0)
    # The last seq the agents (any of them) have read, and how many visitor
    # messages came after it: kept by the write that changes them, so that
    # neither the list nor a message's fan-out has to count.
    agent_read_seq = models.PositiveIntegerField(default=0)
    agent_unread = models.PositiveIntegerField(default=0)
    # The start of the last message that is not a note, for the inbox list.
    last_message = models.CharField(max_length=140, blank=True, default="")
    visitor_read_seq = models.PositiveIntegerField(default=0)
    offline_notified_at = models.DateTimeField(null=True, blank=True)
    # The visitor's context, stored when the conversation starts (never
    # before the visitor chats): browser, operating system and device as
    # parsed from the user agent (see useragent.py), and the browser's
    # time zone; then the pages they visit while it is open, the latest
    # ``PAGES_KEPT`` as ``{"url", "title", "at"}``.
    browser = models.CharField(_("browser"), max_length=64, blank=True, default="")
    os = models.CharField(_("operating system"), max_length=64, blank=True, default="")
    device = models.CharField(_("device"), max_length=8, blank=True, default="")
    time_zone = models.CharField(_("time zone"), max_length=64, blank=True, default="")
    pages = models.JSONField(_("pages visited"), default=list, blank=True)

    class Meta:
        verbose_name = _("conversation")
        verbose_name_plural = _("conversations")
        ordering = ["-updated_at"]
        indexes = [
            models.Index(fields=["inbox", "status", "-updated_at"]),
            # The retention purge's search: closed, and closed long ago.
            models.Index(fields=["status", "closed_at"], name="livechat_conv_closed"),
            # The reports select conversations by when they started.
            models.Index(fields=["created_at"], name="livechat_conv_created"),
        ]
        permissions = [
            ("view_reports", _("Can view live chat reports of their own inboxes")),
            ("view_all_reports", _("Can view live chat reports of every inbox")),
        ]

    def __str__(self):
        return _("Conversation %(id)s") % {"id": self.pk}


class Message(models.Model):
    class Author(models.TextChoices):
        VISITOR = "visitor", _("Visitor")
        AGENT = "agent", _("Agent")
        SYSTEM = "system", _("System")

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages"
    )
    seq = models.PositiveIntegerField()
    author = models.CharField(max_length=7, choices=Author.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The name shown with the message, decided when it was sent (a team
    # alias or the agent's first name); empty: "Visitor" or "Agent".
    name = models.CharField(max_length=150, blank=True, default="")
    body = models.TextField()
    # An internal note: agents only, never sent to the visitor.
    note = models.BooleanField(default=False)
    # Who sent it ("v<visitor id>" or "u<user id>") and the id their client
    # gave it: together they make a resend idempotent.
    sender = models.CharField(max_length=24)
    client_id = models.CharField(max_length=64, null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # A file sent with the message (``models.attachment``); the body is then
    # an optional caption.
    attachment = models.OneToOneField(
        "wagtail_livechat.Attachment",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="message",
    )

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        ordering = ["conversation", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["conversation", "seq"], name="livechat_message_seq"),
            models.UniqueConstraint(
                fields=["sender", "client_id"],
                condition=Q(client_id__isnull=False),
                name="livechat_message_client_id",
            ),
        ]

    def __str__(self):
        return f"{self.conversation_id}#{self.seq}"
