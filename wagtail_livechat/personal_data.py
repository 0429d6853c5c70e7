"""A contact's rights over their data: access (everything stored about them,
as JSON) and erasure. The admin's views and the ``livechat_export`` and
``livechat_erase`` commands call these functions and nothing else decides.

What belongs to a contact: the contact row, the visitors (browsers) linked to
it, their conversations with every message (internal notes included: notes
about a person are their personal data), each conversation's visitor context
(browser, OS, device, time zone, pages) and labels, the survey answers of
those conversations, the consent records, and the webhook deliveries whose
payload is about any of these (erased, not exported: copies of the rest).
Other parts of the app that store more (attachments: ``attachment_data``)
add a :class:`DataSection` through the ``register_livechat_data_section``
hook, and are exported, erased and purged (retention.py) with the rest.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from wagtail import hooks
from wagtail.models import ModelLogEntry

from . import audit
from .conf import conf
from .models import (
    ConsentRecord,
    Contact,
    Conversation,
    ConversationLabel,
    Message,
    SurveyAnswer,
    Visitor,
    WebhookDelivery,
)
from .models.contact import new_visitor_key

FORMAT = "wagtail_livechat.personal_data/1"
ANONYMISE = "anonymise"
DELETE = "delete"
MODES = (ANONYMISE, DELETE)
# What an anonymised message says instead of its text.
ERASED_BODY = "[erased]"
SECTION_HOOK = "register_livechat_data_section"


class DataSection:
    """More data about a contact, kept by another module (the extension
    point). Register an instance with the ``register_livechat_data_section``
    hook; ``conversations`` is a queryset of the contact's conversations
    (or, for ``purge``, a list of conversation ids about to be deleted)."""

    #: The key of this section in the export.
    name = ""

    def export(self, conversations: QuerySet) -> list:
        """JSON-serialisable records (dates may stay datetimes)."""
        return []

    def count(self, conversations) -> int:
        """How many records :meth:`erase` or :meth:`purge` would remove
        (their dry runs); ``conversations`` as for either."""
        return 0

    def erase(self, conversations: QuerySet, mode: str) -> int:
        """Remove or anonymise this section's records (files included),
        before the conversations are; returns how many."""
        return 0

    def purge(self, conversation_ids: list[int]) -> int:
        """The retention purge deletes these conversations next: remove this
        section's records of them (files included); returns how many."""
        return 0


def sections() -> list[DataSection]:
    return [fn() for fn in hooks.get_hooks(SECTION_HOOK)]


def contacts_by_email(email: str) -> QuerySet:
    """Addresses are stored in lower case (service.capture_email)."""
    return Contact.objects.filter(email__iexact=email.strip())


def conversations_of(contact: Contact) -> QuerySet:
    return Conversation.objects.filter(visitor__contact=contact)


# -- Right of access ---------------------------------------------------------


def _pick(instance, names) -> dict:
    return {name: getattr(instance, name) for name in names}


def _contact(contact: Contact) -> dict:
    data = _pick(contact, ("id", "email", "name"))
    data["owner"] = contact.owner.get_username() if contact.owner else None
    return data | _pick(
        contact,
        (
            "email_confirmed_at",
            "identified_at",
            "external_id",
            "data_consent_at",
            "subscriptions",
            "created_at",
            "updated_at",
        ),
    )


def _visitor(visitor: Visitor) -> dict:
    # Not its key: that is a credential (the cookie), not data about anyone.
    return _pick(
        visitor,
        (
            "id",
            "created_at",
            "last_seen_at",
            "page_url",
            "page_title",
            "contact_confirmed_at",
            "pending_consents",
        ),
    )


def _message(message: Message) -> dict:
    return _pick(message, ("seq", "author", "name", "body", "note", "created_at"))


def _conversation(conversation: Conversation, messages: list[Message]) -> dict:
    return {
        "id": conversation.pk,
        "visitor": conversation.visitor_id,
        "inbox": conversation.inbox.name,
        "chatflow": conversation.chatflow.name if conversation.chatflow else None,
        "status": conversation.status,
        "assignee": conversation.assignee.get_username() if conversation.assignee else None,
        "created_at": conversation.created_at,
        "closed_at": conversation.closed_at,
        # Stored when it started (useragent.py, the widget's time zone and pages).
        "visitor_context": {
            "browser": conversation.browser,
            "os": conversation.os,
            "device": conversation.device,
            "time_zone": conversation.time_zone,
            "pages": conversation.pages,
        },
        "labels": [label.name for label in conversation.labels.all()],
        "messages": [_message(m) for m in messages],
    }


def _consent(record: ConsentRecord) -> dict:
    return {
        "kind": record.kind,
        "given": record.given,
        "text": record.text,
        "subscription_type": record.subscription_type,
        "chatflow": record.chatflow.name if record.chatflow else None,
        "visitor": record.visitor_id,
        "created_at": record.created_at,
    }


def _answer(answer: SurveyAnswer) -> dict:
    return {
        "conversation": answer.conversation_id,
        "rating": answer.rating,
        "comment": answer.comment,
        "created_at": answer.created_at,
    }


def export(contact: Contact, *, now=None) -> dict:
    """Everything stored about the contact, as one JSON-serialisable dict."""
    conversations = (
        conversations_of(contact)
        .select_related("inbox", "chatflow", "assignee")
        .prefetch_related("labels")
    )
    messages: dict[int, list[Message]] = {}
    for message in Message.objects.filter(conversation__in=conversations).order_by(
        "conversation_id", "seq"
    ):
        messages.setdefault(message.conversation_id, []).append(message)
    data = {
        "format": FORMAT,
        "exported_at": now or timezone.now(),
        "contact": _contact(contact),
        "visitors": [_visitor(v) for v in contact.visitors.order_by("pk")],
        "conversations": [
            _conversation(c, messages.get(c.pk, [])) for c in conversations.order_by("pk")
        ],
        "consent_records": [
            _consent(r)
            for r in contact.consent_records.select_related("chatflow").order_by("created_at")
        ],
        "survey_answers": [
            _answer(a)
            for a in SurveyAnswer.objects.filter(conversation__in=conversations).order_by("pk")
        ],
    }
    for section in sections():
        data[section.name] = section.export(conversations)
    return data


def to_json(data: dict) -> str:
    return json.dumps(data, cls=DjangoJSONEncoder, indent=2, ensure_ascii=False)


def record_export(contact: Contact, user=None) -> None:
    """The audit entry for an export (an admin's download or the command)."""
    audit.log(contact, audit.EXPORT, user)


# -- Right of erasure --------------------------------------------------------


@dataclass
class Erasure:
    """What an erasure removed (or, dry, would remove)."""

    mode: str
    visitors: int = 0
    conversations: int = 0
    messages: int = 0
    survey_answers: int = 0
    labels: int = 0
    webhook_deliveries: int = 0
    consent_records_kept: int = 0
    consent_records_deleted: int = 0
    contact_deleted: bool = False
    sections: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "mode": self.mode,
            "visitors": self.visitors,
            "conversations": self.conversations,
            "messages": self.messages,
            "survey_answers": self.survey_answers,
            "labels": self.labels,
            "webhook_deliveries": self.webhook_deliveries,
            "consent_records_kept": self.consent_records_kept,
            "consent_records_deleted": self.consent_records_deleted,
            "contact_deleted": self.contact_deleted,
            **self.sections,
        }


def _mode(mode):
    mode = mode or conf.ERASURE
    if mode not in MODES:
        raise ValueError(f"WAGTAIL_LIVECHAT_ERASURE must be one of {MODES}, not {mode!r}")
    return mode


def _keeps_contact(contact, keep_consents) -> bool:
    keep = conf.ERASURE_KEEP_CONSENTS if keep_consents is None else keep_consents
    return bool(keep) and contact.consent_records.exists()


def webhook_deliveries_of(contact: Contact) -> QuerySet:
    """The deliveries whose payload is about the contact: its own events,
    and those of its visitors' conversations, messages and survey answers
    (``events.py`` builds them; ``data.id`` is the contact's or the
    conversation's id only in those events)."""
    visitors = list(contact.visitors.values_list("pk", flat=True))
    conversations = list(
        Conversation.objects.filter(visitor_id__in=visitors).values_list("pk", flat=True)
    )
    return WebhookDelivery.objects.filter(
        Q(event__startswith="contact.", payload__data__id=contact.pk)
        | Q(event__startswith="conversation.", payload__data__id__in=conversations)
        | Q(payload__data__visitor__in=visitors)
        | Q(payload__data__conversation__in=conversations)
    )


def erasure_plan(contact: Contact, *, mode=None, keep_consents=None) -> Erasure:
    """What :func:`erase` would do, changing nothing (``--dry-run``)."""
    mode = _mode(mode)
    conversations = conversations_of(contact)
    consents = contact.consent_records.count()
    kept = _keeps_contact(contact, keep_consents)
    return Erasure(
        mode=mode,
        visitors=contact.visitors.count(),
        conversations=conversations.count(),
        messages=Message.objects.filter(conversation__in=conversations).count(),
        survey_answers=SurveyAnswer.objects.filter(conversation__in=conversations).count(),
        labels=ConversationLabel.objects.filter(conversation__in=conversations).count(),
        webhook_deliveries=webhook_deliveries_of(contact).count(),
        sections={section.name: section.count(conversations) for section in sections()},
        consent_records_kept=consents if kept else 0,
        consent_records_deleted=0 if kept else consents,
        contact_deleted=not kept,
    )


def erase(contact: Contact, *, mode=None, keep_consents=None, user=None, now=None) -> Erasure:
    """Erase the contact, in one transaction.

    ``anonymise``: every message body of their conversations becomes
    ``[erased]`` (authors, times and counts stay, for the reports), survey
    comments are emptied (ratings stay), the visitor context (browser, OS,
    device, time zone, pages) is cleared and the labels deleted.
    ``delete``: their conversations go, with messages, survey answers and
    labels. Either way their visitors lose
    everything that links them to the person (``anonymise``: unlinked, page
    and pending consents cleared, a new key so the old cookie reaches
    nothing; ``delete``: deleted), and the contact is emptied of every
    personal field, kept only to hold its consent records as proof
    (``WAGTAIL_LIVECHAT_ERASURE_KEEP_CONSENTS``; otherwise, or without any
    record, deleted with them). Earlier audit entries about the contact lose
    its name from their label. Either way the data sections erase theirs
    first (attachments: rows and files), and the webhook deliveries about
    the contact are deleted (their payloads carry its name, address and
    messages).
    """
    now = now or timezone.now()
    with transaction.atomic():
        plan = erasure_plan(contact, mode=mode, keep_consents=keep_consents)
        conversations = conversations_of(contact)
        for section in sections():
            plan.sections[section.name] = section.erase(conversations, plan.mode)
        webhook_deliveries_of(contact).delete()
        ConversationLabel.objects.filter(conversation__in=conversations).delete()
        visitors = Visitor.objects.filter(contact=contact)
        if plan.mode == DELETE:
            ids = list(conversations.values_list("pk", flat=True))
            Message.objects.filter(conversation_id__in=ids).delete()
            SurveyAnswer.objects.filter(conversation_id__in=ids).delete()
            Conversation.objects.filter(pk__in=ids).delete()
            visitors.delete()
        else:
            Message.objects.filter(conversation__in=conversations).update(body=ERASED_BODY, name="")
            SurveyAnswer.objects.filter(conversation__in=conversations).update(comment="")
            conversations.update(
                last_message="", browser="", os="", device="", time_zone="", pages=[]
            )
            for visitor in visitors:  # a few per contact; each needs its own key
                visitor.contact = None
                visitor.key = new_visitor_key()
                visitor.page_url = visitor.page_title = ""
                visitor.page_id = None
                visitor.contact_confirmed_at = None
                visitor.pending_consents = {}
                visitor.save()
        pk = contact.pk
        contact.email = None
        contact.name = contact.external_id = ""
        contact.owner = None
        contact.email_confirmed_at = contact.identified_at = contact.data_consent_at = None
        contact.subscriptions = []
        contact.erased_at = now
        contact.save()
        ModelLogEntry.objects.for_instance(contact).update(label=str(contact))
        audit.log(contact, audit.ERASE, user, mode=plan.mode)
        if plan.contact_deleted:
            contact.delete()  # its consent records with it
            contact.pk = pk
    return plan
