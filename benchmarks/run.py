"""Measure what the product promises: `make bench`.

- queries the `{% livechat %}` tag adds to a page render, and its cost;
- the config endpoint's queries cold and warm, and its warm latency;
- the widget's size, raw and gzipped (before interaction, and in all);
- visitor → agent and agent → visitor delivery time on the demo, served by
  a real daphne process.

Everything runs on this machine against a throwaway SQLite database.
"""

import asyncio
import gzip
import json
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DB = Path(tempfile.mkdtemp()) / "bench.sqlite3"
os.environ.update(DJANGO_SETTINGS_MODULE="example_site.settings.dev", SQLITE_PATH=str(DB))

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.cache import cache  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.core.signals import request_started  # noqa: E402
from django.db import connection, reset_queries  # noqa: E402
from django.template import Context, Template  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from tests.servers import start_daphne  # noqa: E402

STATIC = ROOT / "wagtail_livechat" / "static" / "wagtail_livechat"


def ms(values):
    values = sorted(values)
    p95 = values[int(len(values) * 0.95) - 1]
    return f"p50 {statistics.median(values):.2f} ms, p95 {p95:.2f} ms (n={len(values)})"


def bench_tag(home):
    template = Template("{% load wagtail_livechat %}{% livechat %}")
    context = Context({"page": home})
    reset_queries()
    with CaptureQueriesContext(connection) as queries:
        template.render(context)
    tag_queries = len(queries)
    n = 2000
    start = time.perf_counter()
    for _ in range(n):
        template.render(context)
    per = (time.perf_counter() - start) / n * 1e6
    return {"tag_queries": tag_queries, "tag_render_us": round(per, 1)}


def bench_config(home):
    # Django empties the query log when a request starts, which would hide
    # the queries from CaptureQueriesContext.
    request_started.disconnect(reset_queries)
    client = Client(HTTP_HOST="127.0.0.1")
    url = f"/livechat/config/?url=http://127.0.0.1:8000/pricing/&page={home.pk}&device=desktop"
    cache.clear()
    reset_queries()  # a full log (9000 entries, after migrate) would hide new ones
    with CaptureQueriesContext(connection) as cold:
        assert client.get(url).status_code == 200
    cold_queries = len(cold)  # captured_queries is lazy: read it now
    with CaptureQueriesContext(connection) as warm:
        client.get(url)
    warm_queries = len(warm)
    times = []
    for _ in range(1000):
        start = time.perf_counter()
        client.get(url)
        times.append((time.perf_counter() - start) * 1000)
    return {
        "config_queries_cold": cold_queries,
        "config_queries_warm": warm_queries,
        "config_latency": ms(times),
    }


def bench_size():
    def sizes(name):
        raw = (STATIC / name).read_bytes()
        return len(raw), len(gzip.compress(raw, 9))

    loader = sizes("livechat.js")
    rest = [sizes("chat.js")]
    return {
        "loader_bytes": loader[0],
        "loader_gzip": loader[1],
        "total_gzip": loader[1] + sum(g for _, g in rest),
        "total_bytes": loader[0] + sum(r for r, _ in rest),
    }


async def bench_delivery(port, chatflow_id, visitor_cookie, agent_cookie, rounds=200):
    import websockets

    origin = f"http://127.0.0.1:{port}"

    async def connect(path, cookie):
        return await websockets.connect(
            f"ws://127.0.0.1:{port}{path}", origin=origin, additional_headers={"Cookie": cookie}
        )

    async def until(ws, predicate):
        while True:
            frame = json.loads(await asyncio.wait_for(ws.recv(), 10))
            if predicate(frame):
                return frame

    visitor = await connect("/ws/livechat/visitor/", visitor_cookie)
    await visitor.send(json.dumps({"type": "hello", "chatflow": chatflow_id}))
    await until(visitor, lambda f: f["type"] == "welcome")
    await visitor.send(json.dumps({"type": "message", "id": "bench-start", "body": "start"}))
    conversation = (await until(visitor, lambda f: f["type"] == "ack"))["message"]["conversation"]
    agent = await connect("/ws/livechat/agent/", agent_cookie)
    await agent.send(json.dumps({"type": "open", "conversation": conversation}))
    await until(agent, lambda f: f["type"] == "history")

    to_agent, to_visitor = [], []
    for i in range(rounds):
        body = f"visitor {i}"
        start = time.perf_counter()
        await visitor.send(json.dumps({"type": "message", "id": f"bench-v-{i:05}", "body": body}))
        await until(agent, lambda f, b=body: f["type"] == "message" and f["message"]["body"] == b)
        to_agent.append((time.perf_counter() - start) * 1000)
        body = f"agent {i}"
        start = time.perf_counter()
        await agent.send(
            json.dumps(
                {
                    "type": "message",
                    "conversation": conversation,
                    "id": f"bench-a-{i:05}",
                    "body": body,
                }
            )
        )
        await until(visitor, lambda f, b=body: f["type"] == "message" and f["message"]["body"] == b)
        to_visitor.append((time.perf_counter() - start) * 1000)
    await visitor.close()
    await agent.close()
    return {"visitor_to_agent": ms(to_agent), "agent_to_visitor": ms(to_visitor)}


def main():
    call_command("migrate", verbosity=0)
    call_command("load_demo", stdout=open(os.devnull, "w"))  # noqa: SIM115
    from django.contrib.auth import get_user_model
    from django.contrib.sessions.backends.db import SessionStore

    from example_site.home.models import HomePage
    from wagtail_livechat import identity
    from wagtail_livechat.models import Chatflow, Visitor

    home = HomePage.objects.get()
    results = {}
    results.update(bench_tag(home))
    results.update(bench_config(home))
    results.update(bench_size())

    admin = get_user_model().objects.get(username="admin")
    session = SessionStore()
    session.update(
        {
            "_auth_user_id": str(admin.pk),
            "_auth_user_backend": "django.contrib.auth.backends.ModelBackend",
            "_auth_user_hash": admin.get_session_auth_hash(),
        }
    )
    session.save()
    visitor = Visitor.objects.create()
    server, port = start_daphne(
        dict(os.environ, ALLOWED_HOSTS="127.0.0.1", LIVECHAT_RATE_PER_MINUTE="100000")
    )
    try:
        results.update(
            asyncio.run(
                bench_delivery(
                    port,
                    Chatflow.objects.get(name="Website chat").pk,
                    f"livechat_visitor={identity.sign(visitor.key)}",
                    f"{settings.SESSION_COOKIE_NAME}={session.session_key}",
                )
            )
        )
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait()
    width = max(map(len, results))
    for key, value in results.items():
        print(f"{key:<{width}}  {value}")


if __name__ == "__main__":
    main()
