"""Facts every message needs but which change rarely, held per process.

Whether an inbox is online (office hours and an available member) is asked
on every visitor message; reading it from the database each time was much of
a message's cost. It is kept here for ``TTL`` seconds: a change made in this
process forgets it at once (see ``signals.py``); another process sees it
within ``TTL``.
"""

from __future__ import annotations

import time

from django.utils import timezone

from . import hours

TTL = 10.0

_inboxes: dict[int, tuple[float, tuple, str, bool]] = {}


def forget(**kwargs) -> None:
    """Forget everything (a signal receiver: it takes any arguments)."""
    _inboxes.clear()


def _read_inbox(inbox_id: int):
    from .models import AgentStatus, Inbox

    inbox = Inbox.objects.filter(pk=inbox_id).prefetch_related("office_hours").first()
    if inbox is None:
        return (), "UTC", False
    members = list(inbox.members().values_list("pk", flat=True))
    return inbox.hours_table(), inbox.time_zone, bool(AgentStatus.available_user_ids(members))


def inbox_online(inbox_id: int, now=None) -> bool:
    """Within office hours and at least one member available: the one place
    that decides whether an inbox is online."""
    entry = _inboxes.get(inbox_id)
    clock = time.monotonic()
    if entry is None or entry[0] < clock:
        entry = (clock + TTL, *_read_inbox(inbox_id))
        _inboxes[inbox_id] = entry
    _expires, table, time_zone, anyone = entry
    return anyone and hours.is_open(table, time_zone, now or timezone.now())
