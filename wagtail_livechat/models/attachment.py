"""Attachment: a file a visitor or an agent sent in a conversation.

The file lives in Django's ``default_storage`` (S3 and friends work) under a
random name; nobody is ever given its storage URL. It is served only by
``attachment_views.download``, to the conversation's visitor or a member of
its inbox. Deleting an attachment row, however it happens (a conversation
deleted, :func:`delete_conversation_files`, the admin), deletes its file
once the transaction commits.
"""

import uuid

from django.db import models, transaction
from django.db.models.signals import post_delete
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .conversation import Conversation


def attachment_path(instance, filename):
    """A random name: it says nothing of the sender's and cannot be guessed."""
    return f"livechat/attachments/{timezone.now():%Y/%m}/{instance.key.hex}.{instance.extension}"


class Attachment(models.Model):
    class Kind(models.TextChoices):
        IMAGE = "image", _("Image")
        DOCUMENT = "document", _("Document")

    # In URLs instead of the pk: unguessable, so ids cannot be enumerated.
    key = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="attachments"
    )
    file = models.FileField(upload_to=attachment_path, max_length=255)
    # The name shown and downloaded: the sender's, cleaned, with the
    # extension of what the content is.
    name = models.CharField(_("name"), max_length=120)
    size = models.PositiveBigIntegerField(_("size"))
    # What the content was sniffed as (``sniff.KINDS``) and the type served.
    content_type = models.CharField(max_length=120)
    extension = models.CharField(max_length=8)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    # "v<visitor id>" or "u<user id>", as on messages.
    sender = models.CharField(max_length=24)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")

    def __str__(self):
        return self.name

    @property
    def image(self) -> bool:
        return self.kind == self.Kind.IMAGE

    def data(self) -> dict:
        """What a client is told of it, in a message frame."""
        found = {
            "name": self.name,
            "size": self.size,
            "kind": self.kind,
            "type": self.content_type.split(";")[0],
            "url": reverse("wagtail_livechat:attachment", args=[self.key]),
        }
        if self.image:
            found["width"], found["height"] = self.width, self.height
        return found


def delete_conversation_files(conversations) -> int:
    """Delete the attachments of these conversations (a queryset or ids):
    their rows now, their files once the transaction commits. The messages
    stay, without their attachment. Returns how many were deleted. For
    retention and erasure."""
    found = Attachment.objects.filter(conversation__in=conversations)
    return found.delete()[1].get(Attachment._meta.label, 0)


def _delete_file(sender, instance, **kwargs):
    name, storage = instance.file.name, instance.file.storage
    if name:
        transaction.on_commit(lambda: storage.delete(name))


post_delete.connect(_delete_file, sender=Attachment, dispatch_uid="livechat-attachment-file")
