"""Retention: closed conversations older than ``WAGTAIL_LIVECHAT_RETENTION_DAYS``
are deleted with their messages, survey answers and whatever the data
sections keep of them (attachments: rows and files), and so are the
visitors left with no conversation and no contact, and the webhook
deliveries made before the same cutoff (their payloads copy names,
addresses and messages). ``manage.py livechat_purge`` runs it from cron.

Safe to run at any time and as often as wanted: each batch is its own short
transaction that locks the conversations it deletes (an agent reopening one
at that moment waits, then finds it gone, or the purge skips it), a second
run finds nothing, and an interrupted run leaves whole batches.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from . import personal_data
from .conf import conf
from .models import Conversation, Message, SurveyAnswer, Visitor, WebhookDelivery

BATCH_SIZE = 500


def cutoff(now: datetime, days: int) -> datetime:
    return now - timedelta(days=days)


def expired_conversations(before: datetime):
    return Conversation.objects.filter(
        status=Conversation.Status.CLOSED, closed_at__lt=before
    ).order_by("closed_at", "pk")


def stale_visitors(before: datetime):
    """Visitors nobody can reach any more: no contact, no conversation left,
    not seen since ``before``."""
    return Visitor.objects.filter(contact__isnull=True, last_seen_at__lt=before).exclude(
        Exists(Conversation.objects.filter(visitor=OuterRef("pk")))
    )


def expired_deliveries(before: datetime):
    """Webhook deliveries made before ``before``, whatever their status (by
    then even a failing one has long had its last attempt)."""
    return WebhookDelivery.objects.filter(created_at__lt=before)


def _empty(sections) -> dict:
    counts = {"conversations": 0, "messages": 0, "survey_answers": 0, "visitors": 0}
    counts.update({section.name: 0 for section in sections})
    counts["webhook_deliveries"] = 0
    return counts


def purge(
    *, now: datetime | None = None, days: int | None = None, batch_size=BATCH_SIZE, dry_run=False
) -> dict | None:
    """Delete what is past retention; returns the counts removed (dry: that
    would be removed), or None when retention is off (``days`` None and the
    setting None)."""
    days = conf.RETENTION_DAYS if days is None else days
    if days is None:
        return None
    if days < 0 or batch_size < 1:
        raise ValueError("days must be 0 or more, batch_size 1 or more")
    before = cutoff(now or timezone.now(), days)
    sections = personal_data.sections()
    counts = _empty(sections)
    if dry_run:
        expired = expired_conversations(before)
        counts["conversations"] = expired.count()
        counts["messages"] = Message.objects.filter(conversation__in=expired).count()
        counts["survey_answers"] = SurveyAnswer.objects.filter(conversation__in=expired).count()
        # Visitors whose last conversation goes now count on the next run.
        counts["visitors"] = stale_visitors(before).count()
        for section in sections:
            counts[section.name] = section.count(expired)
        counts["webhook_deliveries"] = expired_deliveries(before).count()
        return counts
    while True:
        with transaction.atomic():
            ids = list(
                expired_conversations(before)
                .select_for_update(skip_locked=True)
                .values_list("pk", flat=True)[:batch_size]
            )
            if not ids:
                break
            for section in sections:
                counts[section.name] += section.purge(ids)
            counts["messages"] += Message.objects.filter(conversation_id__in=ids).delete()[0]
            counts["survey_answers"] += SurveyAnswer.objects.filter(
                conversation_id__in=ids
            ).delete()[0]
            deleted = Conversation.objects.filter(pk__in=ids).delete()[1]
            counts["conversations"] += deleted.get(Conversation._meta.label, 0)
    while True:
        with transaction.atomic():
            ids = list(stale_visitors(before).values_list("pk", flat=True)[:batch_size])
            if not ids:
                break
            # Asked again: one may have come back and chatted meanwhile.
            deleted = stale_visitors(before).filter(pk__in=ids).delete()[1]
            counts["visitors"] += deleted.get(Visitor._meta.label, 0)
            if not deleted:
                break
    while True:
        ids = list(expired_deliveries(before).values_list("pk", flat=True)[:batch_size])
        if not ids:
            break
        counts["webhook_deliveries"] += WebhookDelivery.objects.filter(pk__in=ids).delete()[0]
    return counts
