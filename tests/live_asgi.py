"""The example site's ASGI application as the live-server tests serve it.

Those servers live across tests, and between two tests the database is
flushed: Django then creates the content types again, with new ids. A
server's ContentType cache would keep the old ones (the audit log of a close
or an assignment failed on one), so it is emptied as each connection starts,
which in these tests is after the flush.
"""

from example_site.asgi import application as site  # sets Django up first


async def application(scope, receive, send):
    from django.contrib.contenttypes.models import ContentType

    if scope["type"] in ("http", "websocket"):
        ContentType.objects.clear_cache()
    await site(scope, receive, send)
