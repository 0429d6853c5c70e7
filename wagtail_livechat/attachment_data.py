"""Attachments as personal data: the :class:`~.personal_data.DataSection`
that exports, erases and purges them with their conversations (registered
with the ``register_livechat_data_section`` hook in ``wagtail_hooks``).

A file a person sent, or was sent, is their personal data: erasure deletes
it (row and file) in both modes, as the retention purge does.
"""

from __future__ import annotations

from django.urls import reverse

from .models import Attachment, delete_conversation_files
from .personal_data import DataSection


class Attachments(DataSection):
    """The export lists each file's metadata and where an agent of its inbox
    downloads it; the bytes are not in the JSON."""

    name = "attachments"

    def export(self, conversations) -> list:
        found = (
            Attachment.objects.filter(conversation__in=conversations)
            .select_related("message")
            .order_by("conversation_id", "created_at", "pk")
        )
        return [
            {
                "conversation": attachment.conversation_id,
                # The message it was sent with (None: uploaded, never sent).
                "message": getattr(getattr(attachment, "message", None), "seq", None),
                "name": attachment.name,
                "size": attachment.size,
                "kind": attachment.kind,
                "content_type": attachment.content_type,
                "sender": attachment.sender,
                "uploaded_at": attachment.created_at,
                "url": reverse("wagtail_livechat:attachment", args=[attachment.key]),
            }
            for attachment in found
        ]

    def count(self, conversations) -> int:
        return Attachment.objects.filter(conversation__in=conversations).count()

    def erase(self, conversations, mode: str) -> int:
        # Both modes: the rows now, the files once the erasure commits.
        return delete_conversation_files(conversations)

    def purge(self, conversation_ids: list[int]) -> int:
        return delete_conversation_files(conversation_ids)
