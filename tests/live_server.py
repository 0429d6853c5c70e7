"""Real daphne processes over the pytest test database, and clients that
speak to them as any other client would: ``http.client`` and the
``websockets`` library, nothing of Django's test client or Channels'
``WebsocketCommunicator``.

A server runs the example site (``example_site.settings.dev``) on the
SQLite file of the test database (``settings/test.py`` names a file, not
``:memory:``), with the test process's ``SECRET_KEY`` so that the session
and visitor cookies signed here verify there. It has its own in-memory
channel layer and local-memory cache: what a test writes reaches its
database, never its sockets, so everything live goes through the sockets.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import quopri
import re
import socket
import subprocess
import sys
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

import websockets
from django.conf import settings
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.servers import free_port

HOST = "127.0.0.1"
START_TIMEOUT = 30  # seconds
FRAME_TIMEOUT = 5  # seconds: the longest a test waits for a frame it expects


@dataclass
class LiveServer:
    process: subprocess.Popen
    port: int
    log: Path

    @property
    def origin(self) -> str:
        return f"http://{HOST}:{self.port}"

    def ws_url(self, path: str) -> str:
        return f"ws://{HOST}:{self.port}{path}"

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def mail_to(self, address: str, timeout: float = FRAME_TIMEOUT) -> str:
        """The first mail the server sent ``address`` (the example site's
        console email backend writes mail to the server's output)."""
        deadline = time.monotonic() + timeout
        while True:
            text = self.log.read_text(errors="replace")
            start = text.find(f"\nTo: {address}\n")
            end = text.find("\n" + "-" * 79, start)
            if start >= 0 and end >= 0:
                mail = text[start:end]
                # Django 6 writes bodies quoted-printable (the header comes
                # before To:): lines broken with "=", "=3D" for "=".
                if "quoted-printable" in text[max(0, start - 600) : start]:
                    mail = quopri.decodestring(mail.encode()).decode("utf-8", "replace")
                return mail
            if time.monotonic() > deadline:
                raise AssertionError(f"no mail to {address}")
            time.sleep(0.02)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()  # a test server: nothing to finish
        self.process.wait()


# What would point a server elsewhere than the test database, or change the
# limits the tests count on.
NOT_INHERITED = (
    "DATABASE_URL",
    "REDIS_URL",
    "LIVECHAT_RATE_PER_MINUTE",
    "LIVECHAT_MAX_SOCKETS",
    "LIVECHAT_MAX_SOCKETS_PER_CLIENT",
)


def server_env(database: str, secret_key: str, **extra: str) -> dict:
    """The environment of a server of the example site on the SQLite file
    ``database``; ``extra``: more variables (the example settings read
    ``LIVECHAT_MAX_SOCKETS`` and ``LIVECHAT_MAX_SOCKETS_PER_CLIENT``)."""
    inherited = {k: v for k, v in os.environ.items() if k not in NOT_INHERITED}
    return dict(
        inherited,
        DJANGO_SETTINGS_MODULE="example_site.settings.dev",
        SQLITE_PATH=database,
        SECRET_KEY=secret_key,
        ALLOWED_HOSTS=HOST,
        DEBUG="0",
        PYTHONUNBUFFERED="1",
        # The test process's media: files the servers store are the tests' to read and delete.
        MEDIA_ROOT=str(settings.MEDIA_ROOT),
        **extra,
    )


def start_servers(envs: list[dict], logs: Path) -> list[LiveServer]:
    """Start one daphne per environment, all at once; return them once each
    listens."""
    servers = []
    for i, env in enumerate(envs):
        port = free_port()
        log = logs / f"daphne-{i}-{port}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(  # noqa: S603  (our own interpreter and module)
                [
                    sys.executable,
                    "-m",
                    "daphne",
                    "-b",
                    HOST,
                    "-p",
                    str(port),
                    "tests.live_asgi:application",
                ],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        servers.append(LiveServer(process, port, log))
    deadline = time.monotonic() + START_TIMEOUT
    waiting = list(servers)
    while waiting and time.monotonic() < deadline:
        if any(server.process.poll() is not None for server in waiting):
            break
        waiting = [server for server in waiting if not _listens(server.port)]
        if waiting:
            time.sleep(0.05)
    if waiting:
        tails = "\n".join(s.log_tail() for s in waiting)
        for server in servers:
            server.stop()
        raise RuntimeError(f"daphne did not start:\n{tails}")
    return servers


def _listens(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex((HOST, port)) == 0


# -- HTTP ------------------------------------------------------------------------------


@dataclass
class Response:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self):
        return json.loads(self.body)

    def cookies(self) -> dict[str, str]:
        """name -> value of the Set-Cookie headers."""
        found = {}
        for header in self.headers.get_all("Set-Cookie") or ():
            name, _, rest = header.partition("=")
            found[name.strip()] = rest.split(";", 1)[0]
        return found


def request(
    server: LiveServer,
    method: str,
    path: str,
    *,
    headers: dict | None = None,
    body: bytes | None = None,
    source: str | None = None,
) -> Response:
    """One HTTP request on a new connection; ``source``: the local address
    to send from (any of 127.0.0.0/8), a client of its own for the limits."""
    connection = http.client.HTTPConnection(
        HOST, server.port, timeout=FRAME_TIMEOUT, source_address=(source, 0) if source else None
    )
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return Response(response.status, response.headers, response.read())
    finally:
        connection.close()


def submit_form(
    server: LiveServer, path: str, fields: dict, cookie: str = "", action: str | None = None
) -> Response:
    """GET the page at ``path``, then POST its form (to ``action``: by
    default, the same path) as a browser would: with the CSRF cookie and
    token the page gave, and ``fields``."""
    page = request(server, "GET", path, headers={"Cookie": cookie} if cookie else {})
    assert page.status == 200, (path, page.status)
    csrf = page.cookies()["csrftoken"]
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page.body).group(1)
    body = urllib.parse.urlencode({**fields, "csrfmiddlewaretoken": token.decode()}).encode()
    cookies = "; ".join(c for c in (cookie, f"csrftoken={csrf}") if c)
    return request(
        server,
        "POST",
        action or path,
        body=body,
        headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookies},
    )


# -- Websockets ------------------------------------------------------------------------


class Socket:
    """A websocket carrying JSON text frames."""

    def __init__(self, ws):
        self.ws = ws

    async def send(self, frame) -> None:
        await self.ws.send(frame if isinstance(frame, str | bytes) else json.dumps(frame))

    async def recv(self, timeout: float = FRAME_TIMEOUT) -> dict:
        return json.loads(await asyncio.wait_for(self.ws.recv(), timeout))

    async def until(self, kind: str, timeout: float = FRAME_TIMEOUT, **match) -> dict:
        """Frames until one of ``kind`` (with these top-level values); the
        others are skipped."""
        deadline = time.monotonic() + timeout
        while True:
            frame = await self.recv(max(deadline - time.monotonic(), 0.01))
            if frame["type"] == kind and all(frame.get(k) == v for k, v in match.items()):
                return frame

    async def barrier(self) -> list[dict]:
        """Ping and read up to the pong: the frames that arrived before it.
        The server handles a socket's frames in order, and what another
        socket's frame fanned out is queued before this ping arrives, so an
        empty list proves that nothing was sent."""
        await self.send({"type": "ping"})
        before = []
        while (frame := await self.recv())["type"] != "pong":
            before.append(frame)
        return before

    async def close_code(self, timeout: float = FRAME_TIMEOUT) -> tuple[int, list[dict]]:
        """Read until the server closes: its close code, and the frames before."""
        frames = []
        try:
            while True:
                frames.append(json.loads(await asyncio.wait_for(self.ws.recv(), timeout)))
        except ConnectionClosed as closed:
            return (closed.rcvd.code if closed.rcvd else None), frames

    async def close(self) -> None:
        await self.ws.close()


async def open_socket(
    server: LiveServer,
    path: str,
    *,
    cookie: str | None = None,
    origin: str | None = "own",
    source: str | None = None,
) -> Socket:
    """Open a websocket as a browser on the site's own page would (its
    ``Origin``), or from ``origin``; ``source``: the local address."""
    headers = {"Cookie": cookie} if cookie else {}
    kwargs = {"local_addr": (source, 0)} if source else {}
    ws = await websockets.connect(
        server.ws_url(path),
        origin=server.origin if origin == "own" else origin,
        additional_headers=headers,
        open_timeout=FRAME_TIMEOUT,
        max_size=None,
        compression=None,
        **kwargs,
    )
    return Socket(ws)


async def refused_status(server: LiveServer, path: str, **kwargs) -> int | None:
    """The HTTP status that refused the handshake (None: it was accepted)."""
    try:
        sock = await open_socket(server, path, **kwargs)
    except InvalidStatus as refused:
        return refused.response.status_code
    await sock.close()
    return None
