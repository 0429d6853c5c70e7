"""Load benchmark: many conversations at once, the live chat beside a bare
Channels relay and an echo measured in the same run.

N conversations: each visitor has ``--tabs`` sockets (the widget open on two
pages: 2N sockets) and sends ``--rate`` messages a second from the first;
K agent sockets each open every conversation, and the agent whose turn it is
(conversation i: agent i mod K) answers each visitor message at once. Times:

- visitor → agent: from a visitor's send until each agent gets the message;
- agent → visitor: from the answer's send until each of the visitor's tabs
  gets it;
- lost: deliveries (to every agent viewing, every tab) missing 5 s after the
  send.

Every socket also pings every 25 s, as the widget and the inbox do.

Each system runs the same load in turn, on fresh server processes:

- ``ours``: the example site (``example_site.asgi``) under uvicorn
  (``--server daphne``: daphne), on a throwaway database with the demo loaded;
- ``relay``: ``relay.py``'s bare Channels relay (``group_send``, no database)
  on the same channel layer;
- ``echo``: ``relay.py``'s plain ASGI app (no Channels), one process.

Stacks: ``embedded`` (SQLite, the in-memory layer, one process) and
``scaleout`` (PostgreSQL and Redis, two processes; sockets alternate between
them, a visitor's tabs too).

    .venv/bin/python benchmarks/load.py --stack embedded --conversations 250 --agents 5
    .venv/bin/python benchmarks/load.py --stack scaleout --conversations 500,1000 --rate 1
    .venv/bin/python benchmarks/load.py --sweep   # the series, the search, memory
    .venv/bin/python benchmarks/load.py --bench   # `make bench`: the targets

``--write`` (implied by ``--sweep`` and ``--bench``) records the results in
``load.json`` and renders them into ``README.md`` (between markers) and
``load.svg``; a rerun of the same point replaces it.
"""

import argparse
import dataclasses
import datetime
import math
import multiprocessing
import os
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))

import load_client  # noqa: E402
import load_report  # noqa: E402

from tests.servers import free_port  # noqa: E402

LOSS_AFTER = 5.0  # seconds: a delivery later than this is lost
SETTLE = 2.0  # seconds of quiet between setting up and the timed run
HUMAN_RATE = 0.1  # messages a second per conversation: one every 10 s
HUMAN_P99_MS = 50

STACKS = {
    "embedded": {"processes": 1, "agents": 5},
    "scaleout": {"processes": 2, "agents": 10},
}
SCALEOUT_DATABASE = "postgres://postgres@127.0.0.1:5432/livechat_bench"
SCALEOUT_REDIS = "redis://127.0.0.1:6379/14"
APPS = {
    "ours": "example_site.asgi:application",
    "relay": "relay:application",
    "echo": "relay:echo",
}

# --sweep: the plot's series at 1 message a second, and the ladder of the
# human-pace search (stops at the first N that misses).
SERIES = {"embedded": [25, 50, 100, 250, 500], "scaleout": [50, 100, 250, 500, 1000]}
LADDER = {
    "embedded": [250, 500, 1000, 1500, 2000, 3000],
    "scaleout": [500, 1000, 1500, 2000, 2500, 3000, 4000, 5000],
}
IDLE = 2000  # idle sockets for the memory figure
# --bench (`make bench`): the targets of the issue, in about ten minutes.
BENCH_POINTS = [
    ("embedded", 250, 1.0, 5),
    ("scaleout", 500, 1.0, 10),
    ("scaleout", 2500, HUMAN_RATE, 10),
]
BENCH_IDLE = 1000


# -- The site ------------------------------------------------------------------


class Site:
    """The example site on a throwaway database: the demo, K agents (superusers,
    members of the demo chatflow's inbox) with sessions, and fresh visitors
    for every run (each run starts its conversations)."""

    def __init__(self, stack: str, source: Path, server: str = "daphne"):
        self.stack = stack
        self.server = server
        self.source = source
        self.env = dict(
            os.environ,
            DJANGO_SETTINGS_MODULE="example_site.settings.dev",
            DEBUG="0",  # as in production: no query log
            ALLOWED_HOSTS="127.0.0.1",
            # Loopback is one client address: lift the per-client limits.
            LIVECHAT_RATE_PER_MINUTE="1000000",
            LIVECHAT_MAX_SOCKETS_PER_CLIENT="1000000",
            PYTHONPATH=os.pathsep.join([str(BENCH), str(source)]),
        )
        if stack == "scaleout":
            # Always the benchmark's own: these are emptied first.
            self.env.update(DATABASE_URL=SCALEOUT_DATABASE, REDIS_URL=SCALEOUT_REDIS)
            fresh_scaleout(SCALEOUT_DATABASE, SCALEOUT_REDIS)
        else:
            self.env.pop("DATABASE_URL", None)
            self.env.pop("REDIS_URL", None)
            self.env["SQLITE_PATH"] = str(Path(tempfile.mkdtemp()) / "load.sqlite3")
        os.environ.clear()
        os.environ.update(self.env)
        sys.path.insert(0, str(source))

        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        call_command("load_demo", stdout=open(os.devnull, "w"))  # noqa: SIM115
        from wagtail_livechat.models import Chatflow

        chatflow = Chatflow.objects.get(name="Website chat")
        self.chatflow = chatflow.pk
        self.inbox = chatflow.inbox
        self.agent_cookies: list[str] = []
        self.layer = layer_name()

    def agents(self, k: int) -> list[str]:
        from django.conf import settings
        from django.contrib.auth import get_user_model
        from django.contrib.sessions.backends.db import SessionStore

        User = get_user_model()  # noqa: N806
        while len(self.agent_cookies) < k:
            n = len(self.agent_cookies) + 1
            user = User.objects.create(
                username=f"load-agent-{n}",
                first_name=f"Agent {n}",
                is_staff=True,
                is_superuser=True,
            )
            self.inbox.users.add(user)
            session = SessionStore()
            session.update(
                {
                    "_auth_user_id": str(user.pk),
                    "_auth_user_backend": "django.contrib.auth.backends.ModelBackend",
                    "_auth_user_hash": user.get_session_auth_hash(),
                }
            )
            session.save()
            self.agent_cookies.append(f"{settings.SESSION_COOKIE_NAME}={session.session_key}")
        return self.agent_cookies[:k]

    def visitors(self, n: int) -> list[str]:
        from wagtail_livechat import identity
        from wagtail_livechat.models import Visitor

        created = Visitor.objects.bulk_create([Visitor() for _ in range(n)])
        return [f"livechat_visitor={identity.sign(v.key)}" for v in created]


def layer_name() -> str:
    from django.conf import settings

    return settings.CHANNEL_LAYERS["default"]["BACKEND"].rsplit(".", 1)[-1]


def fresh_scaleout(database_url: str, redis_url: str):
    import psycopg
    import redis

    server, name = database_url.rsplit("/", 1)
    with psycopg.connect(f"{server}/postgres", autocommit=True) as db:
        db.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        db.execute(f'CREATE DATABASE "{name}"')
    redis.Redis.from_url(redis_url).flushdb()


# -- Servers ---------------------------------------------------------------------


class Server:
    """A server process (uvicorn or daphne) serving one of ``APPS``; its
    output goes to a log file, shown when something fails."""

    def __init__(self, app: str, site: Site):
        self.server = site.server
        self.port = free_port()
        self.log = Path(tempfile.mkstemp(prefix="load-server-", suffix=".log")[1])
        if site.server == "uvicorn":
            command = ["uvicorn", "--host", "127.0.0.1", "--port", str(self.port)]
            command += ["--no-access-log", "--ws", "websockets", "--lifespan", "off", app]
        else:
            command = ["daphne", "-b", "127.0.0.1", "-p", str(self.port), app]
        self.process = subprocess.Popen(  # noqa: S603  (our own interpreter and module)
            [sys.executable, "-m", *command],
            env=site.env,
            cwd=site.source,
            stdout=subprocess.DEVNULL,
            stderr=self.log.open("w"),
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.server} ({app}) exited:\n{self.tail()}")
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.server} ({app}) did not start:\n{self.tail()}")

    def tail(self, lines=30) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def rss_kb(self) -> int:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, side: str) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/livechat/{side}/"


class Clients:
    """The worker processes of ``load_client``: each command goes to all of
    them at once, each with its own arguments."""

    def __init__(self, count: int):
        context = multiprocessing.get_context("spawn")
        self.pipes, self.processes = [], []
        for _ in range(count):
            ours, theirs = context.Pipe()
            process = context.Process(target=load_client.main, args=(theirs,), daemon=True)
            process.start()
            self.pipes.append(ours)
            self.processes.append(process)

    def each(self, command: str, arguments: list[dict]) -> list:
        for pipe, kwargs in zip(self.pipes, arguments, strict=True):
            pipe.send((command, kwargs))
        return [pipe.recv() for pipe in self.pipes]

    def close(self):
        for pipe in self.pipes:
            try:
                pipe.send(("close", {}))
                pipe.recv()
            except (EOFError, OSError):
                pass
        for process in self.processes:
            process.join(10)
            if process.is_alive():
                process.kill()


# -- One run ---------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Load:
    conversations: int
    rate: float  # messages a second per conversation
    agents: int
    tabs: int
    duration: float  # seconds


def measure(site: Site, system: str, load: Load, args) -> dict:
    """One system under ``load``, on fresh server processes; its figures."""
    waited = wait_for_quiet(args.quiet_wait)
    processes = 1 if system == "echo" else STACKS[site.stack]["processes"]
    servers = [Server(APPS[system], site) for _ in range(processes)]
    clients = Clients(args.client_processes)
    began = time.monotonic()
    try:
        return drive(site, system, servers, clients, load) | {
            "processes": processes,
            "wall_s": round(time.monotonic() - began, 1),
            "waited_for_quiet_s": waited,
        }
    except Exception:
        for server in servers:
            print(
                f"--- {server.server} ({system}, port {server.port}) ---\n{server.tail()}",
                file=sys.stderr,
            )
        raise
    finally:
        clients.close()
        for server in servers:
            server.stop()


def drive(site: Site, system: str, servers: list[Server], clients: Clients, load: Load) -> dict:
    n, k, tab_count = load.conversations, load.agents, load.tabs
    workers = len(clients.pipes)
    if system == "ours":
        cookies = site.visitors(n + 1)
        agent_cookies = site.agents(k)
    else:
        cookies = [f"livechat_visitor={i}" for i in range(1, n + 2)]
        agent_cookies = [f"sessionid=agent{i}" for i in range(1, k + 1)]
    newcomer_cookie = cookies.pop()

    # Visitor i talks on worker i mod W; tab t of it on server (i + t) mod S.
    shares: list[list[dict]] = [[] for _ in range(workers)]
    for i, cookie in enumerate(cookies):
        tabs = []
        for t in range(tab_count):
            server = servers[(i + t) % len(servers)]
            tabs.append((server.url("visitor"), server.origin, i * tab_count + t))
        shares[i % workers].append({"visitor": i, "cookie": cookie, "tabs": tabs})
    setup = time.monotonic()
    replies = clients.each(
        "add_visitors",
        [{"visitors": share, "chatflow": site.chatflow, "warm": True} for share in shares],
    )
    conversations = {}
    errors: dict[str, int] = {}
    for reply in replies:
        conversations.update(reply["conversations"])
        add_errors(errors, reply["errors"])
    # Conversation of visitor i: answered by agent i mod K.
    answerer = {c: v % k for v, c in conversations.items()}
    agent_shares: list[list[dict]] = [[] for _ in range(workers)]
    for a, cookie in enumerate(agent_cookies):
        server = servers[a % len(servers)]
        agent_shares[a % workers].append(
            {
                "agent": a,
                "cookie": cookie,
                "url": server.url("agent"),
                "origin": server.origin,
                "ident": n * tab_count + a,
            }
        )
    replies = clients.each(
        "add_agents", [{"agents": share, "conversations": answerer} for share in agent_shares]
    )
    for reply in replies:
        add_errors(errors, reply["errors"])
    setup = time.monotonic() - setup
    time.sleep(SETTLE)

    probe_server = servers[-1]
    probe = {
        "url": probe_server.url("visitor"),
        "origin": probe_server.origin,
        "cookie": newcomer_cookie,
        "chatflow": site.chatflow,
    }
    drain = LOSS_AFTER + 0.5
    cpu = [s.cpu_seconds() for s in servers]
    machine = machine_cpu_seconds()
    measured_from = time.monotonic()
    run = f"{time.time_ns() // 1_000_000:x}"  # new client ids for every run
    start = time.monotonic() + 1.0
    replies = clients.each(
        "run",
        [
            {
                "run": run,
                "start": start,
                "duration": load.duration,
                "rate": load.rate,
                "drain": drain,
                "probe": probe if w == 0 else None,
            }
            for w in range(workers)
        ],
    )
    window = time.monotonic() - measured_from
    server_cpu = sum(s.cpu_seconds() for s in servers) - sum(cpu)
    client_cpu = sum(r["cpu"] for r in replies)
    others_cpu = machine_cpu_seconds() - machine - server_cpu - client_cpu
    figures = tally(replies, tabs=tab_count, agents=k)
    run_errors: dict[str, int] = {}
    for reply in replies:
        add_errors(run_errors, reply["errors"])
    return figures | {
        "conversations_ready": len(conversations),
        "setup_s": round(setup, 1),
        "setup_errors": errors,
        "run_errors": run_errors,
        "client_cpu": round(100 * client_cpu / window),
        "server_cpu": round(100 * server_cpu / window),
        # Whatever else ran meanwhile (this machine is shared): the noise.
        "others_cpu": round(100 * max(0.0, others_cpu) / window),
        "client_lag_ms": round(1000 * max(r["lag"] for r in replies), 1),
        "answers_unacknowledged": figures["answers"] - sum(r["acked"] for r in replies),
        "newcomer": replies[0]["probe"],
    }


def wait_for_quiet(longest: float, busy=0.25) -> float:
    """This machine is shared: before a run, wait (up to ``longest`` seconds)
    until the others use less than a quarter of it, for three seconds in a
    row; returns the seconds waited."""
    began = time.monotonic()
    quiet_since = None
    while time.monotonic() - began < longest:
        before = machine_cpu_seconds()
        time.sleep(1)
        if (machine_cpu_seconds() - before) / os.cpu_count() < busy:
            quiet_since = quiet_since or time.monotonic() - 1
            if time.monotonic() - quiet_since >= 3:
                break
        else:
            quiet_since = None
    return round(time.monotonic() - began)


def machine_cpu_seconds() -> float:
    """CPU time all cores spent busy since boot (``/proc/stat``)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def add_errors(total: dict, more: dict):
    for what, count in more.items():
        total[what] = total.get(what, 0) + count


ROUTES = {  # (body's first letter, receiver) -> route
    ("v", "agent"): "visitor→agent",
    ("v", "tab"): "visitor→other tab",
    ("a", "tab"): "agent→visitor",
    ("a", "agent"): "agent→other agents",
}


def tally(replies: list[dict], *, tabs: int, agents: int) -> dict:
    """Latencies and losses from the workers' logs. A visitor's message is
    due at every agent (all view every conversation) and the visitor's other
    tabs; an answer at every tab and the other agents."""
    sent: dict[str, float] = {}
    for reply in replies:
        sent.update(reply["sent"])
    seen, duplicates = set(), 0
    delays: dict[str, list[float]] = {route: [] for route in ROUTES.values()}
    for reply in replies:
        for body, kind, ident, when in reply["received"]:
            if body not in sent:
                continue  # the warm-up, the newcomer's
            if kind == "sender" or (body, ident) in seen:
                duplicates += 1
                continue
            seen.add((body, ident))
            delays[ROUTES[body[0], kind]].append((when - sent[body]) * 1000)
    from_visitors = sum(1 for body in sent if body[0] == "v")
    answers = len(sent) - from_visitors
    due = {
        "visitor→agent": from_visitors * agents,
        "visitor→other tab": from_visitors * (tabs - 1),
        "agent→visitor": answers * tabs,
        "agent→other agents": answers * (agents - 1),
    }
    lost = {route: due[route] - sum(d <= LOSS_AFTER * 1000 for d in delays[route]) for route in due}
    return {
        "visitor_to_agent": percentiles(delays["visitor→agent"]),
        "agent_to_visitor": percentiles(delays["agent→visitor"]),
        "messages": from_visitors,
        "answers": answers,
        "expected": sum(due.values()),
        "lost": sum(lost.values()),
        "lost_by_route": {route: n for route, n in lost.items() if n},
        "duplicates": duplicates,
    }


def percentiles(values: list[float]) -> dict:
    if not values:
        return {"n": 0}
    values.sort()

    def at(q):
        return round(values[max(0, math.ceil(q * len(values)) - 1)], 1)

    return {"n": len(values), "p50": at(0.5), "p99": at(0.99), "max": round(values[-1], 1)}


def run_point(site: Site, load: Load, args) -> dict:
    """Every system under the same load, one after the other."""
    point = {
        "stack": site.stack,
        **dataclasses.asdict(load),
        "layer": site.layer,
        "date": datetime.date.today().isoformat(),
        "code": args.label,
        "named": args.named,
        "load_before": round(os.getloadavg()[0], 2),
        "systems": {},
    }
    for system in args.systems:
        print(f"  {site.stack} {load}: {system} ...", flush=True)
        point["systems"][system] = figures = measure(site, system, load, args)
        print("    " + load_report.one_line(figures), flush=True)
    return point


# -- Idle memory -----------------------------------------------------------------


def idle_memory(site: Site, system: str, count: int, label: str) -> dict:
    """RSS of one server process with ``count`` idle visitor sockets (each
    said hello), against the same process with a few: kilobytes a socket."""
    server = Server(APPS[system], site)
    clients = Clients(1)
    try:
        warm = 20
        if system == "ours":
            cookies = site.visitors(warm + count)
        else:
            cookies = [f"livechat_visitor={i}" for i in range(1, warm + count + 1)]

        def specs(first, last):
            return [
                {
                    "visitor": i,
                    "cookie": cookies[i],
                    "tabs": [(server.url("visitor"), server.origin, i)],
                }
                for i in range(first, last)
            ]

        def add(first, last):
            reply = clients.each(
                "add_visitors",
                [{"visitors": specs(first, last), "chatflow": site.chatflow, "warm": False}],
            )[0]
            return reply["errors"]

        errors = add(0, warm)  # the code that a socket runs is loaded now
        time.sleep(1)
        before = server.rss_kb()
        add_errors(errors, add(warm, warm + count))
        time.sleep(2)
        after = server.rss_kb()
        return {
            "stack": site.stack,
            "system": system,
            "sockets": count,
            "rss_before_kb": before,
            "rss_after_kb": after,
            "kb_per_socket": round((after - before) / count, 1),
            "errors": errors,
            "date": datetime.date.today().isoformat(),
            "code": label,
        }
    finally:
        clients.close()
        server.stop()


# -- Human pace --------------------------------------------------------------------


def passes_human_pace(figures: dict) -> bool:
    worst = max(
        figures["visitor_to_agent"].get("p99", math.inf),
        figures["agent_to_visitor"].get("p99", math.inf),
    )
    return figures["lost"] == 0 and figures["messages"] > 0 and worst < HUMAN_P99_MS


def search(site: Site, ladder: list[int], k: int, args) -> tuple[dict, list[dict]]:
    """The largest N of ``ladder`` at one message per 10 s per conversation
    with p99 under 50 ms and nothing lost (climbing until the first miss)."""
    points, largest = [], None
    for n in ladder:
        point = run_point(site, load_of(args, n, HUMAN_RATE, k), args)
        points.append(point)
        if not passes_human_pace(point["systems"]["ours"]):
            break
        largest = n
    return {
        "stack": site.stack,
        "largest": largest,
        "tried": [p["conversations"] for p in points],
        "agents": k,
        "date": datetime.date.today().isoformat(),
        "code": args.label,
    }, points


# -- Command line ----------------------------------------------------------------


def code_label(source: Path) -> str:
    """The commit served, and whether its files differ from it."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607
            cwd=source,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "wagtail_livechat", "example_site"],  # noqa: S607
            cwd=source,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        return commit + ("+changes" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return source.name


def parse(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack", choices=sorted(STACKS))
    parser.add_argument(
        "--conversations", default="250", help="N, or several: 10,25,50 (default 250)"
    )
    parser.add_argument("--agents", type=int, help="K (default: 5 embedded, 10 scale-out)")
    parser.add_argument("--rate", type=float, default=1.0, help="messages/s per conversation")
    parser.add_argument(
        "--duration", type=float, help="seconds of load (default 20, or 3 messages)"
    )
    parser.add_argument("--tabs", type=int, default=2, help="sockets per visitor (default 2)")
    parser.add_argument("--systems", default="ours,relay,echo")
    parser.add_argument("--client-processes", type=int, default=1)
    parser.add_argument(
        "--server",
        choices=("daphne", "uvicorn"),
        default="uvicorn",
        help="ASGI server of every system (default uvicorn, the one docs/integration.md "
        "recommends for production)",
    )
    parser.add_argument(
        "--quiet-wait",
        type=float,
        help="seconds to wait, at most, for this shared machine to be quiet before each run "
        "(default 120, with --bench 30)",
    )
    parser.add_argument(
        "--idle", type=int, default=0, help="also measure memory with this many idle sockets"
    )
    parser.add_argument("--sweep", action="store_true", help="the series, the search and memory")
    parser.add_argument("--bench", action="store_true", help="the targets, as `make bench` runs")
    parser.add_argument(
        "--write", action="store_true", help="record in load.json, README, load.svg"
    )
    parser.add_argument("--site", type=Path, default=ROOT, help="source tree of the site to serve")
    parser.add_argument(
        "--label", help="name the served code (its rows are kept beside the current code's)"
    )
    args = parser.parse_args(argv)
    args.systems = args.systems.split(",")
    args.site = args.site.resolve()
    if args.quiet_wait is None:
        args.quiet_wait = 30 if args.bench else 120
    args.named = args.label is not None
    args.label = args.label or code_label(args.site)
    if args.server != "daphne":
        args.label += f" on {args.server}"  # its rows beside daphne's (the earlier default)
    return args


def load_of(args, n: int, rate: float, k: int) -> Load:
    """Twenty seconds of load, or long enough for three messages each."""
    return Load(n, rate, k, args.tabs, args.duration or max(20.0, 3 / rate))


def main(argv=None):
    args = parse(argv)
    # Thousands of sockets: as many descriptors as allowed (daphne inherits it).
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if (args.sweep or args.bench) and not args.stack:
        # One stack per process: Django is set up once, on one database.
        for stack in STACKS:
            command = [sys.executable, __file__, *(argv or sys.argv[1:]), "--stack", stack]
            subprocess.run(command, check=True)  # noqa: S603
        return
    if not args.stack:
        raise SystemExit("--stack embedded|scaleout (or --sweep / --bench for both)")
    stack = args.stack
    k = args.agents or STACKS[stack]["agents"]
    site = Site(stack, args.site, args.server)
    results = load_report.Results.load(BENCH / "load.json")
    begun = time.monotonic()
    idle = args.idle
    if args.bench:
        for point_stack, n, rate, agents in BENCH_POINTS:
            if point_stack == stack:
                results.add_point(run_point(site, load_of(args, n, rate, agents), args))
        idle = BENCH_IDLE
    elif args.sweep:
        for n in SERIES[stack]:
            results.add_point(run_point(site, load_of(args, n, 1.0, k), args))
        found, points = search(site, LADDER[stack], k, args)
        for point in points:
            results.add_point(point)
        results.add_search(found)
        idle = IDLE
    else:
        for n in (int(x) for x in args.conversations.split(",")):
            results.add_point(run_point(site, load_of(args, n, args.rate, k), args))
    if idle:
        for system in args.systems:
            print(f"  {stack}: {idle} idle sockets, {system} ...", flush=True)
            results.add_idle(idle_memory(site, system, idle, args.label))
    print(results.table(only_new=True))
    if idle:
        print(results.idle_table())
    print(f"({stack}: {time.monotonic() - begun:.0f} s)")
    if args.write or args.sweep or args.bench:
        results.save(BENCH / "load.json")
        load_report.render(results, BENCH / "README.md", BENCH / "load.svg")


if __name__ == "__main__":
    main()
