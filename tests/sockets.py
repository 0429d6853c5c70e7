"""Sockets for consumer tests: through the whole ASGI stack (origin check,
auth, routing) with Channels' WebsocketCommunicator."""

from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore

from wagtail_livechat import identity
from wagtail_livechat.routing import websocket_application

ORIGIN = (b"origin", b"http://testserver")


def session_cookie(user):
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.save()
    return f"{settings.SESSION_COOKIE_NAME}={session.session_key}"


async def connect(path, cookie=None, origin=ORIGIN, app=None, headers=(), client=None):
    headers = [*headers, origin] if origin else list(headers)
    if cookie:
        headers.append((b"cookie", cookie.encode()))
    communicator = WebsocketCommunicator(app or websocket_application(), path, headers=headers)
    if client:
        communicator.scope["client"] = client
    connected, code = await communicator.connect()
    return communicator, connected, code


async def visitor_socket(visitor=None, chatflow=None, after=0):
    cookie = f"livechat_visitor={identity.sign(visitor.key)}" if visitor else None
    ws, connected, _ = await connect("/ws/livechat/visitor/", cookie)
    assert connected
    await ws.send_json_to(
        {
            "type": "hello",
            "after": after,
            "chatflow": chatflow.pk if chatflow else None,
            "page": {"url": "http://testserver/pricing/", "title": "Pricing", "id": None},
        }
    )
    welcome = await ws.receive_json_from()
    assert welcome["type"] == "welcome"
    return ws, welcome


async def agent_socket(user):
    ws, connected, _ = await connect(
        "/ws/livechat/agent/", await sync_to_async(session_cookie)(user)
    )
    assert connected
    await ws.send_json_to({"type": "hello"})
    welcome = await ws.receive_json_from()
    assert welcome["type"] == "agent_welcome"
    return ws, welcome


async def receive_until(ws, kind, timeout=2):
    """Frames until one of ``kind``; returns (that frame, the others)."""
    others = []
    while True:
        frame = await ws.receive_json_from(timeout=timeout)
        if frame["type"] == kind:
            return frame, others
        others.append(frame)


def db(fn, *args, **kwargs):
    return sync_to_async(fn)(*args, **kwargs)
