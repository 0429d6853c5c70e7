"""A rate limit shared by every process: a fixed-window counter in the cache."""

import logging

from django.core.cache import caches
from django.core.signals import setting_changed
from django.dispatch import receiver

from .conf import conf

logger = logging.getLogger("wagtail_livechat")

# One client per process. ``caches[alias]`` is local to the asyncio context,
# and every socket message runs in a task of its own: asking it there made a
# new client, with its own connection pool, for each message.
_clients: dict = {}


def _cache():
    alias = conf.CACHE
    client = _clients.get(alias)
    if client is None:
        client = _clients[alias] = caches.create_connection(alias)
    return client


@receiver(setting_changed)
def _forget_clients(*, setting, **kwargs):
    if setting in ("CACHES", "WAGTAIL_LIVECHAT_CACHE"):
        _clients.clear()


def allow(key: str, limit: int, window: int = 60) -> bool:
    """A fixed-window counter in the shared cache, so the limit holds across
    sockets and server processes.

    A cache that cannot be reached allows: refusing would lose visitors'
    messages for as long as the outage lasts, while each socket's frame
    budget still bounds a sender within its process."""
    cache = _cache()
    key = f"wagtail_livechat:rate:{key}"
    try:
        try:
            return cache.incr(key) <= limit  # the usual case: one round trip
        except ValueError:  # no window open (or it expired just now)
            if cache.add(key, 1, window):
                return True
            return cache.incr(key) <= limit
    except ValueError:
        return True
    except Exception:  # noqa: BLE001 - any backend's connection error
        logger.warning("Rate limit not applied: the cache %r is unreachable", conf.CACHE)
        return True
