"""Facts every message needs but which change rarely, held per process.

Whether an inbox is online (office hours, and an available member connected
now) is asked on every visitor message and every widget config; reading it
each time was much of a message's cost. It is kept here for ``TTL`` seconds:
a change made in this process forgets it at once (see ``receivers.py``, and
agents' sockets connecting and going); another process sees it within
``TTL``.

Which agents are connected is kept in the shared cache: each agent socket
marks its user present when it connects and again on every ping (every 25
s), for ``PRESENCE_TTL`` seconds; the last socket of a user in a process
that goes removes the mark (another process's socket of theirs puts it back
at its next ping), and a process that dies lets it expire.
"""

from __future__ import annotations

import time
from collections import Counter

from django.core.cache import caches
from django.utils import timezone

from . import hours
from .conf import conf

TTL = 10.0
PRESENCE_TTL = 60

_sockets: Counter = Counter()  # agent sockets of each user in this process

# inbox -> [expires, hours table, time zone, available members, any connected]
_inboxes: dict[int, list] = {}


def forget(**kwargs) -> None:
    """Forget everything (a signal receiver: it takes any arguments)."""
    _inboxes.clear()


def _read_inbox(inbox_id: int):
    from .models import AgentStatus, Inbox

    inbox = Inbox.objects.filter(pk=inbox_id).prefetch_related("office_hours").first()
    if inbox is None:
        return (), "UTC", frozenset(), False
    members = list(inbox.members().values_list("pk", flat=True))
    available = AgentStatus.available_user_ids(members)
    return inbox.hours_table(), inbox.time_zone, frozenset(available), bool(connected(available))


def _presence_key(user_id: int) -> str:
    return f"wagtail_livechat:present:{user_id}"


def connected(user_ids) -> list[int]:
    """Of these users, those with an agent socket open now (anywhere)."""
    if not user_ids:
        return []
    found = caches[conf.CACHE].get_many([_presence_key(pk) for pk in user_ids])
    return [pk for pk in user_ids if _presence_key(pk) in found]


def agent_present(user_id: int, new_socket: bool = False) -> None:
    """An agent socket of this user is open (connected now, or pinging).
    The inboxes this process holds where they are an available member are
    online from now: marked so, not forgotten (a message then reads nothing)."""
    caches[conf.CACHE].set(_presence_key(user_id), 1, PRESENCE_TTL)
    if new_socket:
        _sockets[user_id] += 1
        for entry in list(_inboxes.values()):
            if user_id in entry[3]:
                entry[4] = True


def agent_gone(user_id: int) -> None:
    """An agent socket of this user closed; their last one in this process
    takes their mark away (and the inboxes they made online are read again)."""
    _sockets[user_id] -= 1
    if _sockets[user_id] > 0:
        return
    del _sockets[user_id]
    caches[conf.CACHE].delete(_presence_key(user_id))
    for inbox_id in [pk for pk, entry in _inboxes.items() if user_id in entry[3]]:
        del _inboxes[inbox_id]


def inbox_online(inbox_id: int, now=None) -> bool:
    """Within office hours, and at least one available member connected now:
    the one place that decides whether an inbox is online (the widget's
    config, the welcome frame, the offline notification)."""
    entry = _inboxes.get(inbox_id)
    clock = time.monotonic()
    if entry is None or entry[0] < clock:
        entry = [clock + TTL, *_read_inbox(inbox_id)]
        _inboxes[inbox_id] = entry
    _expires, table, time_zone, _available, anyone = entry
    return anyone and hours.is_open(table, time_zone, now or timezone.now())


# When this process last enqueued each conversation's offline notice. The
# task's conditional update decides across processes; this keeps a busy
# offline inbox from enqueuing a task, and its write, for every message (on
# SQLite those writes queued behind the sockets' for the one write lock, and
# a load of 250 conversations stalled).
_offline_noticed: dict[int, float] = {}


def offline_notice_due(conversation_id: int) -> bool:
    from .tasks import OFFLINE_NOTIFY_EVERY

    now = time.monotonic()
    every = OFFLINE_NOTIFY_EVERY.total_seconds()
    last = _offline_noticed.get(conversation_id)
    if last is not None and now - last < every:
        return False
    if len(_offline_noticed) >= 10_000:  # bounded: forget those past their window
        for pk in [pk for pk, at in _offline_noticed.items() if now - at >= every]:
            del _offline_noticed[pk]
    _offline_noticed[conversation_id] = now
    return True
