"""System checks: settings that would make every message slow or fragile."""

from django.conf import settings
from django.core.checks import Info, Warning, register


@register()
def check_persistent_connections(app_configs=None, **kwargs):
    """Each websocket frame is a hop to the database thread, and Channels
    closes a connection older than ``CONN_MAX_AGE`` after every hop: with the
    default 0, every message opens new database connections."""
    found = []
    for alias, database in settings.DATABASES.items():
        pooled = bool((database.get("OPTIONS") or {}).get("pool"))
        if not pooled and database.get("CONN_MAX_AGE", 0) == 0:
            found.append(
                Warning(
                    f"DATABASES[{alias!r}] reconnects on every websocket frame.",
                    hint=(
                        "Set CONN_MAX_AGE (e.g. 600, or None) with CONN_HEALTH_CHECKS = True, "
                        "or use PostgreSQL connection pooling (OPTIONS['pool'])."
                    ),
                    id="wagtail_livechat.W001",
                )
            )
    return found


PER_PROCESS_CACHES = (
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
)


@register()
def check_shared_cache(app_configs=None, **kwargs):
    """The rate limits and the compiled widget config live in the cache. A
    per-process cache is right for one process; with several, each keeps its
    own limits and compiles its own config (changes still reach every process
    within a second: the config's generation is in the database)."""
    from .conf import conf

    backend = settings.CACHES.get(conf.CACHE, {}).get("BACKEND", "")
    if backend in PER_PROCESS_CACHES:
        return [
            Info(
                f"WAGTAIL_LIVECHAT_CACHE ({conf.CACHE!r}) is per process ({backend}).",
                hint=(
                    "Fine for one server process. With several, use a shared cache (e.g. "
                    "Django's RedisCache) so that rate limits hold across them; the widget "
                    "config follows changes in every process either way."
                ),
                id="wagtail_livechat.I002",
            )
        ]
    return []
