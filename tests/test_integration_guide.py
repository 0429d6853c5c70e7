"""docs/integration.md, followed literally on a new project.

``wagtail start`` makes a throwaway project; the guide's annotated code
blocks are applied to it in the order they come (``file=PATH`` creates a
file, ``... append`` appends, ``... before=TEXT`` inserts before TEXT), its
``sh run`` commands are run, and its ``sh serve`` command starts daphne on a
free port. Then a visitor writes over the websockets, as docs/protocol.md
says, and the agent (the superuser the guide creates, logged in through
/admin/login/) sees the message arrive and answers it. The production
settings are applied to the same project and pass the live chat's checks.

``mysite`` in the guide is the project's name: here, ``testproject``. The
only departures from the text: ``createsuperuser`` runs with ``--noinput``
(its answers from the environment), and the ``pip install`` lines are not run
(the package is installed in this virtualenv already).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.live_server import (
    HOST,
    START_TIMEOUT,
    LiveServer,
    open_socket,
    request,
    submit_form,
)
from tests.servers import free_port

ROOT = Path(__file__).resolve().parent.parent
GUIDE = ROOT / "docs" / "integration.md"
CHECKS = ROOT / "wagtail_livechat" / "checks.py"
PROJECT = "testproject"
BIN = Path(sys.executable).parent
AGENT = ("boss", "boss@example.com", "a-long-Pass-phrase-9")
COMMAND_TIMEOUT = 300  # seconds: migrate on a loaded machine


@dataclass
class Block:
    lang: str
    options: dict[str, str]
    code: str
    before: str  # the prose just before the block
    section: str  # the heading it is under


def blocks(text: str) -> list[Block]:
    """The fenced code blocks of the guide with their info strings read as
    ``lang key=value flag ...``."""
    found = []
    section = ""
    prose: list[str] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("#"):
            section, prose = line.lstrip("# "), []
        elif line.startswith("```"):
            info = shlex.split(line[3:])
            end = lines.index("```", i + 1)
            options = {}
            for word in info[1:]:
                key, _, value = word.partition("=")
                options[key] = value
            code = "\n".join(lines[i + 1 : end]) + "\n"
            found.append(Block(info[0] if info else "", options, code, " ".join(prose), section))
            prose, i = [], end
        elif line.strip():
            prose.append(line)
        i += 1
    return found


def named(text: str) -> str:
    return text.replace("mysite", PROJECT)


def environment() -> dict:
    """A shell's environment: nothing of this test run's Django settings."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "PYTEST_"))
        and k not in {"DATABASE_URL", "REDIS_URL", "SQLITE_PATH", "SECRET_KEY", "DEBUG"}
        and k not in {"ALLOWED_HOSTS", "PYTHONPATH", "PORT"}
    }
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONUNBUFFERED"] = "1"
    return env


def run(argv: list[str], cwd: Path, env: dict) -> str:
    done = subprocess.run(  # noqa: S603  (this virtualenv's programs)
        argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=COMMAND_TIMEOUT
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"{shlex.join(argv)} exited {done.returncode}:\n{output}"
    return output


def apply_file(block: Block, project: Path) -> None:
    path = named(block.options["file"])
    # A reader is told which file and where: the prose says it too.
    assert block.options["file"] in block.before, (path, block.before)
    target = project / path
    code = named(block.code)
    if "append" in block.options:
        target.write_text(target.read_text() + "\n" + code)
    elif "before" in block.options:
        anchor = block.options["before"]
        assert anchor in block.before, (anchor, block.before)
        text = target.read_text()
        assert anchor in text, f"{anchor!r} is not in {path}"
        target.write_text(text.replace(anchor, code + anchor, 1))
    else:
        assert not target.exists(), f"the guide creates {path}, which wagtail start made"
        target.write_text(code)


def run_commands(block: Block, project: Path, env: dict) -> dict[str, str]:
    outputs = {}
    for line in block.code.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        argv = shlex.split(named(line))
        assert argv[:2] == ["python", "manage.py"], f"a command this test cannot run: {line}"
        argv[0] = sys.executable
        if argv[2] == "createsuperuser":
            argv.append("--noinput")
            username, email, password = AGENT
            env = dict(
                env,
                DJANGO_SUPERUSER_USERNAME=username,
                DJANGO_SUPERUSER_EMAIL=email,
                DJANGO_SUPERUSER_PASSWORD=password,
            )
        outputs[argv[2]] = run(argv, project, env)
    return outputs


def serve_command(block: Block) -> list[str]:
    """The guide's daphne command, on a free port of this machine."""
    argv = shlex.split(named(block.code.strip()))
    assert argv[0] == "daphne" and "-p" in argv and argv[-1] == f"{PROJECT}.asgi:application"
    argv[0] = str(BIN / "daphne")
    del argv[argv.index("-p") : argv.index("-p") + 2]  # start_servers gives the port
    return argv


def start_daphne(argv: list[str], project: Path, env: dict, logs: Path) -> LiveServer:
    """``argv`` on a free port, run in ``project``; returned once it listens."""
    port = free_port()
    log = logs / "daphne.log"
    with log.open("wb") as out:
        process = subprocess.Popen(  # noqa: S603  (this virtualenv's daphne)
            [*argv[:-1], "-p", str(port), argv[-1]],
            cwd=project,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    server = LiveServer(process, port, log)
    deadline = time.monotonic() + START_TIMEOUT
    while process.poll() is None and time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex((HOST, port)) == 0:
                return server
        time.sleep(0.05)
    server.stop()
    raise RuntimeError(f"daphne did not start:\n{server.log_tail()}")


@pytest.fixture(scope="module")
def guide():
    return blocks(GUIDE.read_text())


def test_the_guide_followed_literally_gets_a_visitors_message_to_an_agent(guide, tmp_path):
    project = tmp_path / PROJECT
    project.mkdir()
    env = environment()
    run([str(BIN / "wagtail"), "start", PROJECT, str(project)], tmp_path, env)

    # Development: every annotated block up to "Production", in order.
    development = guide[: next(i for i, b in enumerate(guide) if b.section == "Production")]
    outputs, serve = {}, None
    for block in development:
        if "file" in block.options:
            apply_file(block, project)
        elif block.lang == "sh" and "run" in block.options:
            outputs.update(run_commands(block, project, env))
        elif block.lang == "sh" and "serve" in block.options:
            serve = serve_command(block)
        elif block.lang == "sh":
            assert block.code.startswith("pip install"), block.code
    assert {"migrate", "createsuperuser", "livechat_setup", "check"} <= set(outputs)
    assert 'Created and published chatflow "Website chat"' in outputs["livechat_setup"]
    # What the guide says check shows: the per-process cache, nothing else of ours.
    assert re.findall(r"wagtail_livechat\.\w+", outputs["check"]) == ["wagtail_livechat.I002"]
    assert "WARNINGS" not in outputs["check"] and "ERRORS" not in outputs["check"]

    server = start_daphne(serve, project, env, tmp_path)
    try:
        asyncio.run(chat(server))
    finally:
        server.stop()
    log = server.log.read_text(errors="replace")
    assert "Traceback" not in log, log


async def chat(server: LiveServer) -> None:
    # The home page carries the tag, and the config endpoint offers the
    # chatflow livechat_setup published.
    home = await asyncio.to_thread(request, server, "GET", "/")
    assert home.status == 200
    boot = json.loads(
        re.search(rb'<script id="wagtail-livechat"[^>]*>(.*?)</script>', home.body, re.S)
        .group(1)
        .decode()
    )
    url = f"{server.origin}/"
    config = await asyncio.to_thread(
        request, server, "GET", f"{boot['config']}?url={url}&page={boot['page']}"
    )
    chatflow = config.json()["chatflow"]
    assert chatflow is not None, config.body

    # The agent logs in to the admin and opens the inbox's socket.
    username, _email, password = AGENT
    login = await asyncio.to_thread(
        submit_form, server, "/admin/login/", {"username": username, "password": password}
    )
    assert login.status == 302, login.body[:500]
    agent = await open_socket(
        server, f"{boot['ws']}agent/", cookie=f"sessionid={login.cookies()['sessionid']}"
    )
    await agent.send({"type": "hello"})
    welcome = await agent.until("agent_welcome")
    assert [i["name"] for i in welcome["inboxes"]] == ["Website"]

    # The visitor gets an identity (the widget does this on the first message)
    # and writes.
    identity = await asyncio.to_thread(
        request, server, "POST", boot["visitor"], headers={"Origin": server.origin}
    )
    assert identity.status == 201, identity.body
    visitor = await open_socket(
        server,
        f"{boot['ws']}visitor/",
        cookie=f"livechat_visitor={identity.cookies()['livechat_visitor']}",
    )
    await visitor.send(
        {
            "type": "hello",
            "after": 0,
            "chatflow": chatflow["id"],
            "page": {"url": url, "title": "Home", "id": boot["page"]},
        }
    )
    assert (await visitor.until("welcome"))["visitor"] is True
    await visitor.send({"type": "message", "id": str(uuid.uuid4()), "body": "Hello, anyone?"})
    ack = await visitor.until("ack")
    conversation = ack["message"]["conversation"]

    # It arrives in the agent's inbox, and the agent's answer in the widget.
    summary = await agent.until("conversation")
    assert summary["conversation"]["id"] == conversation
    await agent.send({"type": "open", "conversation": conversation})
    history = await agent.until("history")
    assert [m["body"] for m in history["messages"]] == ["Hello, anyone?"]
    assert history["context"]["page"]["id"] == boot["page"]
    await agent.send(
        {"type": "message", "conversation": conversation, "id": str(uuid.uuid4()), "body": "Yes!"}
    )
    answer = await visitor.until("message")
    assert answer["message"]["author"] == "agent" and answer["message"]["body"] == "Yes!"
    await agent.close()
    await visitor.close()


def test_the_production_settings_pass_the_checks(guide, tmp_path):
    """The production blocks on a new project: Redis, PostgreSQL, the proxy
    settings; the live chat's checks find nothing (no server is contacted).
    It needs what the guide installs for production: the [redis] and
    [postgres] extras."""
    pytest.importorskip("channels_redis")
    pytest.importorskip("psycopg")
    project = tmp_path / PROJECT
    project.mkdir()
    env = environment()
    run([str(BIN / "wagtail"), "start", PROJECT, str(project)], tmp_path, env)
    applied = 0
    for block in guide:
        if "file" in block.options:
            apply_file(block, project)
            applied += "production" in block.options["file"]
    assert applied == 1
    # The site's own secret, as wagtail start's production.py expects.
    (project / PROJECT / "settings" / "local.py").write_text('SECRET_KEY = "not-a-secret"\n')
    output = run(
        [sys.executable, "manage.py", "check"],
        project,
        dict(env, DJANGO_SETTINGS_MODULE=f"{PROJECT}.settings.production"),
    )
    assert "wagtail_livechat" not in output, output


def test_every_check_is_explained(guide):
    text = GUIDE.read_text()
    ids = set(re.findall(r'id="(wagtail_livechat\.[EWI]\d{3})"', CHECKS.read_text()))
    assert len(ids) >= 10
    for check in sorted(ids):
        assert f"| `{check}` |" in text, f"{check} is not in docs/integration.md's table"


def test_the_nginx_example_passes_websockets(guide):
    (nginx,) = [b for b in guide if b.lang == "nginx"]
    ws = nginx.code[nginx.code.index("location /ws/") :]
    ws = ws[: ws.index("}")]
    for directive in (
        "proxy_http_version 1.1;",
        "proxy_set_header Upgrade $http_upgrade;",
        "proxy_set_header Connection $connection_upgrade;",
        "proxy_set_header Host $host;",
        "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
        "proxy_set_header X-Forwarded-Proto $scheme;",
        "proxy_read_timeout",
    ):
        assert directive in ws, directive
    # Longer than the clients' ping interval (25 s), or idle sockets are cut.
    assert int(re.search(r"proxy_read_timeout (\d+)s;", ws).group(1)) > 25
