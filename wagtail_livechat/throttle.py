"""A rate limit shared by every process: a fixed-window counter in the cache."""

from django.core.cache import caches

from .conf import conf


def allow(key: str, limit: int, window: int = 60) -> bool:
    """A fixed-window counter in the shared cache, so the limit holds across
    sockets and server processes."""
    cache = caches[conf.CACHE]
    key = f"wagtail_livechat:rate:{key}"
    cache.add(key, 0, window)
    try:
        return cache.incr(key) <= limit
    except ValueError:  # expired between add and incr
        cache.set(key, 1, window)
        return True
