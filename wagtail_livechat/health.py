"""The health endpoint: is this process fit to carry chats?

``GET <livechat prefix>/health/`` answers JSON, 200 when the database
answers and a message sent through the channel layer comes back (on a
private channel, within ``WAGTAIL_LIVECHAT_HEALTH_TIMEOUT`` seconds), 503
otherwise, with the open websockets of this process. For load balancers and
monitoring: it reads no chat data and says nothing about visitors.
"""

from __future__ import annotations

import asyncio
import time
import uuid

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.http import require_GET

from . import socketlog
from .conf import conf


def _ms(start: float) -> float:
    return round((time.monotonic() - start) * 1000, 1)


def database() -> dict:
    start = time.monotonic()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as error:
        return {"ok": False, "error": type(error).__name__}
    return {"ok": True, "ms": _ms(start)}


async def channel_layer() -> dict:
    """Send a message to a new channel of this process and receive it."""
    layer = get_channel_layer()
    if layer is None:
        return {"ok": False, "error": "not configured"}
    start = time.monotonic()
    backend = type(layer).__name__
    try:
        # A channel of its own, not one of this process's ("!") channels:
        # channels-redis makes those wait behind the sockets' pending receive,
        # and the check timed out whenever a socket was open.
        channel = f"livechat-health.{uuid.uuid4().hex}"
        token = f"{time.time_ns()}"
        await layer.send(channel, {"type": "livechat.health", "token": token})
        message = await asyncio.wait_for(layer.receive(channel), conf.HEALTH_TIMEOUT)
    except TimeoutError:
        return {"ok": False, "backend": backend, "error": "timeout"}
    except Exception as error:
        return {"ok": False, "backend": backend, "error": type(error).__name__}
    if message.get("token") != token:
        return {"ok": False, "backend": backend, "error": "wrong message"}
    return {"ok": True, "backend": backend, "ms": _ms(start)}


def report(db: dict, layer: dict) -> tuple[dict, int]:
    ok = db["ok"] and layer["ok"]
    sockets = socketlog.open_sockets()
    body = {
        "status": "ok" if ok else "unavailable",
        "database": db,
        "channel_layer": layer,
        "sockets": {"open": sum(sockets.values()), **sockets, "max": conf.MAX_SOCKETS},
    }
    return body, 200 if ok else 503


@require_GET
async def health(request):
    db = await sync_to_async(database)()
    body, status = report(db, await channel_layer())
    response = JsonResponse(body, status=status)
    response["Cache-Control"] = "no-store"
    return response
