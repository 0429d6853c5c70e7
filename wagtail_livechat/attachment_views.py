"""HTTP endpoints of attachments: the visitor's upload, the agent's upload
(in the admin) and the download both sides use.

An upload stores the file and then sends a message referring to it through
the conversation service, as a socket's message would be sent. A download
is served only to the conversation's visitor (their identity cookie) or a
member of its inbox, never from a public storage URL; only an image Pillow
has read is shown inline, anything else is a download, and every answer
says ``nosniff``.
"""

from __future__ import annotations

import re
from contextlib import nullcontext

from django import forms
from django.http import FileResponse, JsonResponse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from . import attachments, identity, origins, service
from .conf import conf
from .models import Attachment, Conversation, Visitor
from .protocol import CLIENT_ID, UNSTORABLE
from .throttle import allow

# Room for the multipart framing and the form's other fields.
ENVELOPE = 64 * 1024


class UploadForm(forms.Form):
    id = forms.RegexField(regex=CLIENT_ID)
    body = forms.CharField(required=False, strip=True)
    conversation = forms.IntegerField(required=False, min_value=1, max_value=2**31 - 1)
    note = forms.BooleanField(required=False)

    def clean_body(self):
        body = self.cleaned_data["body"]
        if len(body) > conf.MAX_MESSAGE_LENGTH:
            raise forms.ValidationError(
                _("Keep messages under %(count)s characters.") % {"count": conf.MAX_MESSAGE_LENGTH}
            )
        if UNSTORABLE.search(body):
            raise forms.ValidationError(_("A message must be valid text."))
        return body


def _error(code, message, status=400, **extra):
    response = JsonResponse({"error": code, "message": message, **extra}, status=status)
    response["Cache-Control"] = "no-store"
    return response


def _form(request):
    """The upload's form and file, or the error response to give instead."""
    length = request.META.get("CONTENT_LENGTH") or ""
    if not attachments.enabled():
        refused = attachments.Refused("attachments_off", _("Files cannot be sent here."), 403)
        return None, None, _error(refused.code, refused.message, refused.status)
    # Refused before Django parses (and spools to disk) a body this large.
    if re.fullmatch(r"\d+", length) and int(length) > conf.ATTACHMENT_MAX_BYTES + ENVELOPE:
        refused = attachments.too_large()
        return None, None, _error(refused.code, refused.message, refused.status)
    form = UploadForm(request.POST)
    upload = request.FILES.get("file")
    if not form.is_valid():
        return (
            None,
            None,
            _error("invalid", _("Invalid upload."), fields=form.errors.get_json_data()),
        )
    if upload is None:
        return None, None, _error("no_file", _("Choose a file to send."))
    return form.cleaned_data, upload, None


def _send(upload, conversation, sender, post):
    """Store the file and send it with ``post(attachment)``; a resend (the
    same client id) stores nothing and answers with the first message."""
    try:
        attachment = attachments.receive(upload, conversation=conversation, sender=sender)
    except attachments.Refused as refused:
        return _error(refused.code, refused.message, refused.status)
    try:
        message, created = post(attachment)
    except service.ServiceError as error:
        attachment.delete()
        return _error(error.code, error.message, 403 if error.code == "forbidden" else 400)
    if not created:  # the same id came twice at once: keep the first file
        attachment.delete()
    data = service.message_data(message, for_agents=sender.startswith("u"))
    return JsonResponse({"message": data}, status=201 if created else 200)


@csrf_exempt  # as POST /livechat/visitor/: the Origin is checked instead
@require_POST
def visitor_upload(request):
    """A visitor sends a file in their conversation. Only a visitor with an
    identity (``POST /livechat/visitor/``) and a conversation may."""
    if not origins.allowed(request.headers.get("Origin"), request.get_host(), request.is_secure()):
        return _error("forbidden_origin", _("Forbidden origin."), status=403)
    key = identity.unsign(request.COOKIES.get(conf.VISITOR_COOKIE))
    visitor = Visitor.objects.filter(key=key).first() if key else None
    if visitor is None:
        return _error("no_identity", _("Start the chat before sending a file."), status=403)
    sender = f"v{visitor.pk}"
    if not allow(f"upload:{sender}", conf.VISITOR_RATE_PER_MINUTE):
        return _error("rate_limited", _("Too many files at once; wait a minute."), status=429)
    data, upload, error = _form(request)
    if error:
        return error
    conversation = (
        Conversation.objects.select_related("chatflow")
        .filter(pk=data["conversation"] or 0, visitor=visitor)
        .first()
    )
    if conversation is None:
        return _error("not_found", _("No such conversation."), status=404)
    stored = service.stored_message(sender, data["id"])
    if stored is not None:
        return JsonResponse({"message": service.message_data(stored)})
    language = conversation.chatflow.language if conversation.chatflow else None
    with translation.override(language) if language else nullcontext():
        return _send(
            upload,
            conversation,
            sender,
            lambda attachment: service.post_visitor_message(
                visitor,
                client_id=data["id"],
                body=data["body"],
                conversation_id=conversation.pk,
                attachment=attachment,
            ),
        )


@require_POST  # in the admin: a session and Django's CSRF check
def agent_upload(request, pk):
    """An agent sends a file (or a note with one) in a conversation of an
    inbox they belong to."""
    agent = service.agent_for(request.user)
    if agent is None:
        return _error("forbidden", _("You are not a member of this inbox."), status=403)
    try:
        conversation = service.conversation_for(agent, pk)
    except service.ServiceError as error:
        return _error(error.code, error.message, status=404 if error.code == "not_found" else 403)
    data, upload, error = _form(request)
    if error:
        return error
    sender = f"u{agent.id}"
    stored = service.stored_message(sender, data["id"])
    if stored is not None:
        return JsonResponse({"message": service.message_data(stored, for_agents=True)})
    return _send(
        upload,
        conversation,
        sender,
        lambda attachment: service.post_agent_message(
            agent,
            conversation.pk,
            client_id=data["id"],
            body=data["body"],
            note=data["note"],
            attachment=attachment,
        ),
    )


def _may_download(request, attachment: Attachment) -> bool:
    """The conversation's visitor (not an agent's note), or a member of its inbox."""
    key = identity.unsign(request.COOKIES.get(conf.VISITOR_COOKIE))
    message = getattr(attachment, "message", None)
    if (
        key
        and message is not None
        and not message.note
        and Visitor.objects.filter(key=key, pk=attachment.conversation.visitor_id).exists()
    ):
        return True
    agent = service.agent_for(request.user) if request.user.is_authenticated else None
    return agent is not None and agent.may(attachment.conversation.inbox_id)


@require_GET
def download(request, key):
    attachment = (
        Attachment.objects.select_related("conversation", "message").filter(key=key).first()
    )
    if attachment is None:
        return _error("not_found", _("No such file."), status=404)
    if not _may_download(request, attachment):
        return _error("forbidden", _("You may not see this file."), status=403)
    # Inline only an image Pillow read; ?download asks for a download anyway.
    inline = attachment.image and "download" not in request.GET
    try:
        file = attachment.file.open("rb")
    except OSError:
        return _error("not_found", _("No such file."), status=404)
    response = FileResponse(
        file,
        as_attachment=not inline,
        filename=attachment.name,
        content_type=attachment.content_type,
    )
    response["X-Content-Type-Options"] = "nosniff"
    # Opened on its own, the file runs nothing and loads nothing.
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    response["Cache-Control"] = "private, max-age=3600"
    return response
