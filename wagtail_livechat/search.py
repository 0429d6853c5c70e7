"""Search over conversations, for the agents' inbox.

Searched at query time, so that the message path writes nothing more: a
conversation matches when one of its messages (notes included: only agents
search) matches the words, or its contact's name or email address contains
them. On PostgreSQL a message matches by full-text search (the ``simple``
configuration: chats come in any language, so no stemming), which the GIN
expression index of migration 0013 serves; elsewhere every word must appear
in the message, case-insensitively.

The caller passes conversations the agent may already see: searching never
widens what a queryset holds.
"""

from __future__ import annotations

from django.db import connection
from django.db.models import Exists, OuterRef, Q, QuerySet

from .models import Message

MAX_QUERY = 100  # characters
MAX_WORDS = 10
MAX_RESULTS = 500  # conversations; the list pages through them
CONFIG = "simple"  # the text search configuration (and the index's)


def search_vector():
    """The expression the index is built on; a query must use the same one
    for PostgreSQL to use the index."""
    from django.contrib.postgres.search import SearchVector

    return SearchVector("body", config=CONFIG)


def words(query: str) -> list[str]:
    """The words of a query, bounded; quotes and operators are just text."""
    return query[:MAX_QUERY].split()[:MAX_WORDS]


def _messages_matching(terms: list[str]) -> QuerySet:
    messages = Message.objects.filter(conversation=OuterRef("pk"))
    if connection.vendor == "postgresql":
        from django.contrib.postgres.search import SearchQuery

        return messages.annotate(found=search_vector()).filter(
            found=SearchQuery(" ".join(terms), config=CONFIG, search_type="plain")
        )
    for term in terms:
        messages = messages.filter(body__icontains=term)
    return messages


def matching(conversations: QuerySet, query: str) -> QuerySet:
    """The conversations of ``conversations`` that match ``query`` (an
    empty query: all of them). The inbox shows the first ``MAX_RESULTS``."""
    terms = words(query)
    if not terms:
        return conversations
    phrase = " ".join(terms)
    contact = Q(visitor__contact__name__icontains=phrase) | Q(
        visitor__contact__email__icontains=phrase
    )
    return conversations.filter(contact | Exists(_messages_matching(terms)))
