"""The built package, checked as a site would get it (``make test-wheel``).

    python .ci/wheel_smoke.py dist

1. The wheel holds the package's modules, static files, templates, compiled
   translations (each ``.mo`` the compilation of its ``.po``) and migrations,
   every file of the package that git tracks, and nothing else (no tests,
   example site, benchmarks, caches); the sdist holds no local debris.
2. The wheel alone is installed into a new virtualenv, and a throwaway project
   in a temporary directory (its own settings, urls and asgi modules, SQLite)
   uses it, with the source tree nowhere on the path: ``django.setup()``,
   ``check``, ``migrate``, ``{% livechat %}`` rendered, the config and
   visitor endpoints, a translated string; daphne and Jinja2 are not
   installed and nothing needs them.
3. The ``[daphne,jinja2]`` extras are added; every module imports, the Jinja2
   tag renders, and a visitor's message goes over the websocket (through the
   project's ``asgi.py``) into the database and to an agent's socket.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import tarfile
import tempfile
import textwrap
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "wagtail_livechat"


def fail(message: str) -> None:
    print(f"wheel smoke: FAIL: {message}", file=sys.stderr)
    sys.exit(1)


def po_entries(path: Path) -> dict[str, str]:
    """The translated, non-fuzzy entries of a ``.po`` file, keyed as
    ``gettext`` keys a ``.mo`` catalog (context + EOT + msgid; plurals:
    msgid + NUL + plural, one key per form index)."""
    entries: dict[str, str] = {}
    entry: dict[str, str] = {}
    field = None
    fuzzy = False

    def flush():
        nonlocal entry, fuzzy
        if "msgid" in entry and entry["msgid"] and not fuzzy:
            key = entry["msgid"]
            if "msgctxt" in entry:
                key = f"{entry['msgctxt']}\x04{key}"
            if "msgid_plural" in entry:
                forms = sorted(k for k in entry if k.startswith("msgstr["))
                values = [entry[k] for k in forms]
                if all(values):
                    for index, value in enumerate(values):
                        entries[f"{key}\x00{entry['msgid_plural']}#{index}"] = value
            elif entry.get("msgstr"):
                entries[key] = entry["msgstr"]
        entry, fuzzy = {}, False

    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line:
            flush()
            field = None
        elif line.startswith("#,") and "fuzzy" in line:
            if "msgstr" in entry:  # the previous entry ended without a blank line
                flush()
            fuzzy = True
        elif line.startswith("#"):
            continue
        elif line.startswith('"'):
            entry[field] += ast.literal_eval(line)
        else:
            keyword, _, value = line.partition(" ")
            if keyword in ("msgctxt", "msgid") and "msgstr" in entry:
                flush()
            field = keyword
            entry[field] = ast.literal_eval(value)
    flush()
    return entries


def mo_entries(data: bytes) -> dict[str, str]:
    import gettext
    import io

    catalog = gettext.GNUTranslations(io.BytesIO(data))._catalog
    entries = {}
    for key, value in catalog.items():
        if isinstance(key, tuple):  # a plural form: (msgid, index)
            msgid, index = key
            plural = next(k for k in _raw_plurals(data) if k.startswith(msgid + "\x00"))
            entries[f"{plural}#{index}"] = value
        elif key:  # "" is the header
            entries[key] = value
    return entries


def _raw_plurals(data: bytes) -> list[str]:
    """The ``msgid\\0msgid_plural`` keys of a ``.mo`` file (GNUTranslations
    keeps only the singular)."""
    import struct

    magic = struct.unpack("<I", data[:4])[0]
    order = "<" if magic == 0x950412DE else ">"
    _, _, count, ids_at = struct.unpack(order + "4I", data[:16])  # magic, revision, ...
    keys = []
    for n in range(count):
        length, offset = struct.unpack(order + "2I", data[ids_at + 8 * n : ids_at + 8 * n + 8])
        key = data[offset : offset + length].decode("utf-8")
        if "\x00" in key:
            keys.append(key)
    return keys


def git_files(under: str) -> set[str]:
    out = subprocess.run(  # noqa: S603  (git, on this repository)
        ["git", "-C", str(ROOT), "ls-files", "--", under],  # noqa: S607
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return {line for line in out.splitlines() if line}


def check_wheel(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        dist_info = {n.split("/")[0] for n in names if ".dist-info/" in n}
        if len(dist_info) != 1:
            fail(f"one .dist-info directory expected, found {sorted(dist_info)}")
        package_files = {n for n in names if n.startswith(PACKAGE + "/")}
        others = (
            set(names) - package_files - {n for n in names if n.startswith(next(iter(dist_info)))}
        )
        if others:
            fail(f"files outside {PACKAGE}/ and the .dist-info: {sorted(others)[:20]}")
        debris = [
            n
            for n in names
            if "__pycache__" in n
            or n.endswith((".pyc", ".pyo", ".orig", ".rej", "~", ".sqlite3"))
            or any(part in ("tests", "example_site", "benchmarks") for part in n.split("/"))
        ]
        if debris:
            fail(f"debris in the wheel: {debris[:20]}")

        tracked = git_files(PACKAGE)
        missing = tracked - package_files
        if missing:
            fail(f"tracked files missing from the wheel: {sorted(missing)}")
        # In CI (a fresh clone) a file git does not track was made by the
        # build; on a developer's tree it may be work not committed yet.
        untracked = sorted(package_files - tracked)
        if untracked and (os.environ.get("CI") or not all((ROOT / f).exists() for f in untracked)):
            fail(f"files in the wheel that git does not track: {untracked}")
        for name in untracked:
            print(f"  warning: {name} is not tracked by git yet (fails in CI)")

        def count(prefix, suffix=""):
            return sum(n.startswith(f"{PACKAGE}/{prefix}") and n.endswith(suffix) for n in names)

        for prefix, suffix, what in [
            ("static/wagtail_livechat/", ".js", "scripts"),
            ("static/wagtail_livechat/", ".css", "stylesheets"),
            ("templates/wagtail_livechat/", ".html", "templates"),
            ("migrations/", "_initial.py", "migrations"),
            ("locale/", "/LC_MESSAGES/django.mo", "compiled translations"),
        ]:
            if not count(prefix, suffix):
                fail(f"no {what} ({prefix}*{suffix}) in the wheel")

        # Every .po compiled, and compiled from the .po as it is now.
        pos = sorted(ROOT.glob(f"{PACKAGE}/locale/*/LC_MESSAGES/*.po"))
        if not pos:
            fail("no .po files in the source tree")
        for po in pos:
            mo_name = str(po.relative_to(ROOT).with_suffix(".mo"))
            if mo_name not in names:
                fail(f"{mo_name} is not in the wheel (run compilemessages)")
            want, have = po_entries(po), mo_entries(archive.read(mo_name))
            if want != have:
                stale = sorted(set(want.items()) ^ set(have.items()))[:5]
                fail(f"{mo_name} is not the compilation of its .po (compilemessages): {stale}")
        print(
            f"wheel: {len(names)} files; top-level: {sorted({n.split('/')[0] for n in names})}; "
            f"under {PACKAGE}/: {sorted({n.split('/')[1] for n in package_files if n.count('/') > 1})}; "
            f"{len(pos)} translations current"
        )
        return names


def check_sdist(sdist: Path) -> None:
    with tarfile.open(sdist) as archive:
        names = [m.name.split("/", 1)[1] for m in archive.getmembers() if "/" in m.name]
    for required in (
        "pyproject.toml",
        "README.md",
        "CHANGELOG.md",
        "LICENSE",
        f"{PACKAGE}/__init__.py",
    ):
        if required not in names:
            fail(f"{required} is not in the sdist")
    debris = [
        n
        for n in names
        if n.split("/")[0]
        in (".venv", ".tox", "dist", "build", "media", "static_collected", "tests", "example_site")
        or "__pycache__" in n
        or n.endswith((".pyc", ".sqlite3"))
    ]
    if debris:
        fail(f"debris in the sdist: {debris[:20]}")
    print(f"sdist: {len(names)} files")


SETTINGS = """
from pathlib import Path

HERE = Path(__file__).resolve().parent
SECRET_KEY = "smoke-test-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["testserver"]
INSTALLED_APPS = [
    "wagtail_livechat",
    "channels",
    "wagtail.contrib.forms",
    "wagtail.contrib.redirects",
    "wagtail.embeds",
    "wagtail.sites",
    "wagtail.users",
    "wagtail.snippets",
    "wagtail.documents",
    "wagtail.images",
    "wagtail.search",
    "wagtail.admin",
    "wagtail",
    "modelcluster",
    "taggit",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
ROOT_URLCONF = "smoke_urls"
ASGI_APPLICATION = "smoke_asgi.application"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    },
]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": HERE / "db.sqlite3"}}
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("nl", "Nederlands")]
USE_I18N = True
USE_TZ = True
STATIC_URL = "/static/"
WAGTAIL_SITE_NAME = "Smoke"
WAGTAILADMIN_BASE_URL = "http://testserver"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
"""

URLS = """
from django.urls import include, path
from wagtail import urls as wagtail_urls
from wagtail.admin import urls as wagtailadmin_urls

from wagtail_livechat import urls as livechat_urls

urlpatterns = [
    path("admin/", include(wagtailadmin_urls)),
    path("livechat/", include(livechat_urls)),
    path("", include(wagtail_urls)),
]
"""

ASGI = """
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smoke_settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter  # noqa: E402

from wagtail_livechat.routing import websocket_application  # noqa: E402

application = ProtocolTypeRouter({"http": django_asgi_app, "websocket": websocket_application()})
"""

# Run inside the new virtualenv, in the project directory.
SMOKE = r"""
import asyncio
import importlib
import json
import os
import pkgutil
import sys
from pathlib import Path

phase, venv, source = sys.argv[1], Path(sys.argv[2]).resolve(), Path(sys.argv[3]).resolve()
os.environ["DJANGO_SETTINGS_MODULE"] = "smoke_settings"

import django

django.setup()

import wagtail
import wagtail_livechat

where = Path(wagtail_livechat.__file__).resolve()
assert venv in where.parents, f"wagtail_livechat comes from {where}, not the new virtualenv"
assert not any(source == Path(p or ".").resolve() for p in sys.path), f"{source} is on sys.path"
print(f"  {phase}: wagtail_livechat from {where.parent}, Django {django.get_version()}, Wagtail {wagtail.__version__}")

from django.core.management import call_command
from django.test import Client
from django.test.client import RequestFactory

if phase == "bare":
    for optional in ("daphne", "jinja2"):
        try:
            importlib.import_module(optional)
        except ModuleNotFoundError:
            pass
        else:
            raise AssertionError(f"{optional} is installed without its extra")
    call_command("check", fail_level="ERROR")
    call_command("migrate", verbosity=0, interactive=False)
    from django.db.migrations.recorder import MigrationRecorder

    applied = MigrationRecorder.Migration.objects.filter(app="wagtail_livechat").count()
    shipped = len(list((where.parent / "migrations").glob("0*.py")))
    assert applied == shipped > 0, (applied, shipped)
    call_command("makemigrations", "wagtail_livechat", check=True, dry_run=True, verbosity=0)

    from django.contrib.auth import get_user_model
    from django.contrib.staticfiles import finders
    from django.template import Context, Template
    from django.utils import translation

    from wagtail_livechat.models import Chatflow, Inbox

    agent = get_user_model().objects.create_superuser("agent", "agent@example.com", "pw")
    inbox = Inbox.objects.create(name="Sales")
    inbox.users.add(agent)
    inbox.save()
    chatflow = Chatflow(name="Chat", inbox=inbox, team_name="Team", live=False)
    chatflow.save()
    chatflow.save_revision().publish()

    html = Template("{% load wagtail_livechat %}{% livechat %}").render(
        Context({"request": RequestFactory().get("/")})
    )
    assert 'src="/static/wagtail_livechat/livechat.js"' in html, html
    assert 'id="wagtail-livechat"' in html, html
    for name in ("livechat.js", "chat.js", "inbox.js", "inbox.css"):
        found = finders.find(f"wagtail_livechat/{name}")
        assert found and venv in Path(found).resolve().parents, (name, found)

    client = Client()
    config = client.get("/livechat/config/", {"url": "http://testserver/pricing/"})
    assert config.status_code == 200, config.content
    assert config.json()["chatflow"]["id"] == chatflow.pk, config.content
    visitor = client.post("/livechat/visitor/", HTTP_ORIGIN="http://testserver")
    assert visitor.status_code == 201 and "livechat_visitor" in visitor.cookies, visitor.content
    stranger = Client().post("/livechat/visitor/", HTTP_ORIGIN="https://elsewhere.example")
    assert stranger.status_code == 403, stranger.status_code

    with translation.override("nl"):
        assert translation.gettext("Send") == "Versturen", translation.gettext("Send")
    print("  bare: check, migrate, tag, static files, config and visitor endpoints, nl: ok")

else:
    for module in pkgutil.walk_packages(wagtail_livechat.__path__, "wagtail_livechat."):
        importlib.import_module(module.name)

    from django.template import engines

    jinja = engines.all()[-1]
    assert jinja.name == "jinja2", jinja.name
    html = jinja.from_string("{% livechat %}").render({"request": RequestFactory().get("/")})
    assert 'src="/static/wagtail_livechat/livechat.js"' in html, html

    from asgiref.sync import sync_to_async
    from channels.testing import WebsocketCommunicator
    from django.conf import settings
    from django.contrib.auth import get_user_model

    from smoke_asgi import application
    from wagtail_livechat import tasks
    from wagtail_livechat.models import Chatflow, Message

    chatflow = Chatflow.objects.get()
    agent_client = Client()
    agent_client.force_login(get_user_model().objects.get(username="agent"))
    session = agent_client.cookies[settings.SESSION_COOKIE_NAME].value
    visitor = Client().post("/livechat/visitor/", HTTP_ORIGIN="http://testserver")
    cookie = visitor.cookies["livechat_visitor"].value

    def socket(path, cookie):
        return WebsocketCommunicator(
            application,
            path,
            headers=[
                (b"host", b"testserver"),
                (b"origin", b"http://testserver"),
                (b"cookie", cookie.encode()),
            ],
        )

    async def receive(ws, kind):
        while True:
            frame = await ws.receive_json_from(timeout=5)
            if frame["type"] == kind:
                return frame

    async def chat():
        agent = socket("/ws/livechat/agent/", f"{settings.SESSION_COOKIE_NAME}={session}")
        assert (await agent.connect())[0]
        await agent.send_json_to({"type": "hello"})
        assert (await agent.receive_json_from(timeout=5))["type"] == "agent_welcome"

        ws = socket("/ws/livechat/visitor/", f"livechat_visitor={cookie}")
        assert (await ws.connect())[0]
        page = {"url": "http://testserver/pricing/", "title": "Pricing", "id": None}
        await ws.send_json_to({"type": "hello", "after": 0, "chatflow": chatflow.pk, "page": page})
        assert (await ws.receive_json_from(timeout=5))["type"] == "welcome"
        await ws.send_json_to({"type": "message", "id": "smoke-0001", "body": "Hello from the wheel"})
        ack = await receive(ws, "ack")
        assert ack["id"] == "smoke-0001" and ack["message"]["seq"] == 1, ack
        update = await receive(agent, "conversation")
        assert update["conversation"]["last_message"] == "Hello from the wheel", update
        await ws.disconnect()
        await agent.disconnect()

    asyncio.run(chat())
    stored = list(Message.objects.values_list("body", "client_id"))
    assert stored == [("Hello from the wheel", "smoke-0001")], stored
    tasks.drain()
    print("  daphne,jinja2 extras: every module imports, Jinja2 tag, visitor message to the agent: ok")
"""

JINJA_SETTINGS = """
from smoke_settings import *  # noqa: F403
from smoke_settings import TEMPLATES

TEMPLATES = [
    *TEMPLATES,
    {
        "BACKEND": "django.template.backends.jinja2.Jinja2",
        "APP_DIRS": False,
        "OPTIONS": {"extensions": ["wagtail_livechat.jinja2tags.livechat"]},
    },
]
"""


def run(*args, cwd=None, env=None):
    result = subprocess.run(args, cwd=cwd, env=env)  # noqa: S603  (pip and python of our venv)
    if result.returncode:
        fail(f"{' '.join(map(str, args))} exited {result.returncode}")


def smoke(wheel: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="livechat-wheel-") as tmp:
        tmp = Path(tmp)
        venv, project = tmp / "venv", tmp / "project"
        project.mkdir()
        (project / "smoke_settings.py").write_text(textwrap.dedent(SETTINGS))
        (project / "smoke_urls.py").write_text(textwrap.dedent(URLS))
        (project / "smoke_asgi.py").write_text(textwrap.dedent(ASGI))
        (project / "smoke.py").write_text(SMOKE)
        python = venv / "bin" / "python"
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("PYTHONPATH", "DJANGO_SETTINGS_MODULE", "VIRTUAL_ENV", "PYTHONHOME")
        }
        started = time.monotonic()
        run(sys.executable, "-m", "venv", venv)
        run(python, "-m", "pip", "install", "-qq", "--disable-pip-version-check", wheel)
        print(f"  installed {wheel.name} in {time.monotonic() - started:.0f} s")
        run(python, "smoke.py", "bare", venv, ROOT, cwd=project, env=env)

        run(
            python,
            "-m",
            "pip",
            "install",
            "-qq",
            "--disable-pip-version-check",
            f"{wheel}[daphne,jinja2]",
        )
        # The Jinja2 backend joins the settings once Jinja2 is there.
        (project / "smoke_settings.py").rename(project / "smoke_base.py")
        (project / "smoke_settings.py").write_text(
            textwrap.dedent(JINJA_SETTINGS).replace("smoke_settings", "smoke_base")
        )
        run(python, "smoke.py", "extras", venv, ROOT, cwd=project, env=env)


def main() -> None:
    dist = Path(sys.argv[1] if len(sys.argv) > 1 else "dist").resolve()
    wheels, sdists = sorted(dist.glob("*.whl")), sorted(dist.glob("*.tar.gz"))
    if len(wheels) != 1 or len(sdists) != 1:
        fail(f"one wheel and one sdist expected in {dist}: {wheels + sdists}")
    check_wheel(wheels[0])
    check_sdist(sdists[0])
    smoke(wheels[0])
    print("wheel smoke: ok")


if __name__ == "__main__":
    main()
