"""System checks: settings that would make every message slow or fragile."""

from django.conf import settings
from django.core.checks import Warning, register


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
