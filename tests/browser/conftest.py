"""Fixtures of the browser tests: a live ASGI server and Debian's Chromium.

The server is started the way Channels' ``ChannelsLiveServerTestCase`` does
it: a forked ``DaphneProcess`` serves ``settings.ASGI_APPLICATION`` (HTTP and
websockets) wrapped in ``ASGIStaticFilesHandler``. It is forked once for the
package, after the test database exists, so it inherits the configured
settings and uses the same SQLite file (``settings/test.py`` names one, not
``:memory:``). Each test runs with ``transactional_db`` semantics, as with
pytest-django's ``live_server``: what the test writes is committed, so the
server sees it, and the database is flushed afterwards.

Two things the server process cannot share by itself with the test process,
and how they are shared:

* the widget config cache: the test settings use a local-memory cache, one
  per process, so a chatflow changed in a test would stay invisible to the
  server for the cache's timeout. While the server runs, both processes use
  one file-based cache, as production sites share Redis.
* the Wagtail root page, default site and locale that migrations create:
  the flush after a transactional test deletes them. The tests use
  serialized rollback (Django restores the migrated data before each test),
  and the migrated data is restored once more when the package ends, so that
  the tests that run after these find the database as it was.

Chromium is Debian's (``apt-get install chromium``): Playwright cannot
download its own browser here. Without it the tests are skipped, except in CI
(``CI=true``), where they fail.
"""

import json
import multiprocessing
import os
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.test.utils import modify_settings, override_settings

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]
HOST = "127.0.0.1"
SERVER_START_TIMEOUT = 30  # seconds
TIMEOUT_MS = 10_000
VIEWPORT = {"width": 1280, "height": 800}
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


def _unavailable(reason: str):
    """Skip, or fail in CI: there the browser tests must run."""
    if _in_ci():
        pytest.fail(f"{reason} (CI=true: the browser tests must run)", pytrace=False)
    pytest.skip(reason)


# -- The live ASGI server --------------------------------------------------


def _forked_daphne_process(**kwargs):
    """A ``DaphneProcess`` that is always forked, also where the default start
    method is not ``fork`` (Python 3.14 on Linux): the child must inherit the
    configured Django, the test database's name and the shared cache."""
    from daphne.testing import DaphneProcess

    fork = multiprocessing.get_context("fork")

    class ForkedDaphneProcess(DaphneProcess):
        @staticmethod
        def _Popen(process_obj):
            return fork.Process._Popen(process_obj)

        def run(self):
            # asgiref's one thread for thread-sensitive work (Channels' auth
            # middleware runs there) is inherited without the thread once an
            # async test has used it: every websocket would hang in connect.
            from asgiref.sync import SyncToAsync

            SyncToAsync.single_thread_executor = ThreadPoolExecutor(max_workers=1)
            super().run()

    return ForkedDaphneProcess(**kwargs)


def _ready_for_restore(connection):
    """Empty the database and put back its content types, before Django
    restores the migrated data (serialized rollback) into it.

    Two things break that restore otherwise. A transactional test without
    serialized rollback (webhooks, faults, ...) ends with a flush that
    recreates the content types and permissions (post_migrate) with new ids,
    on whose unique names the restored rows collide. And the restore builds
    Wagtail's tasks before their content types are back: ``Task.__init__``
    then creates its content type under a new id (and caches it), so the
    restored row collides or the cache points at another model. With the
    content types in place first, under their migrated ids, the restore only
    rewrites them."""
    from django.contrib.contenttypes.models import ContentType
    from django.core.management import call_command

    contents = getattr(connection, "_test_serialized_contents", None)
    if contents is None:
        return None
    if ContentType.objects.using(connection.alias).exists():
        call_command(
            "flush",
            verbosity=0,
            interactive=False,
            database=connection.alias,
            inhibit_post_migrate=True,
        )
    ContentType.objects.clear_cache()
    ContentType.objects.using(connection.alias).bulk_create(
        ContentType(id=row["pk"], **row["fields"])
        for row in json.loads(contents)
        if row["model"] == "contenttypes.contenttype"
    )
    return contents


@pytest.fixture(scope="package")
def _browser_db(django_db_setup, django_db_blocker):
    """Put the migrated data back when the browser tests are done."""
    yield
    from django.db import connections

    with django_db_blocker.unblock():
        for connection in connections.all():
            contents = _ready_for_restore(connection)
            if contents is not None:
                connection.creation.deserialize_db_from_string(contents)
            connection.close()


@pytest.fixture(scope="package")
def _shared_cache(tmp_path_factory):
    """One cache for the test process and the server process."""
    location = tmp_path_factory.mktemp("livechat-cache")
    with override_settings(
        CACHES={
            "default": {
                "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
                "LOCATION": str(location),
            }
        }
    ):
        yield


def _close_every_connection():
    """Close every database connection of this process, whichever thread or
    async context opened it: async tests leave some in their contexts, and a
    SQLite file open across a fork let the server read an old snapshot (it
    served the flushed database's welcome page: no widget, every browser
    test failed in some orders of the suite)."""
    import gc

    from django.db.backends.base.base import BaseDatabaseWrapper

    for wrapper in gc.get_objects():
        # type(), not isinstance(): that would evaluate lazy objects (a
        # request's user, say) lying around.
        if issubclass(type(wrapper), BaseDatabaseWrapper) and wrapper.connection is not None:
            wrapper.connection.close()
            wrapper.connection = None


def _live_application():
    """The site as the other live-server tests serve it (tests/live_asgi.py:
    the content type cache emptied as each connection starts, since ids
    change with each flush and restore), with its static files."""
    from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

    from tests.live_asgi import application

    return ASGIStaticFilesHandler(application)


@pytest.fixture(scope="package")
def asgi_live_server(_browser_db, _shared_cache, django_db_blocker):
    """The URL of a Daphne server running the site in a forked process."""
    from django.db import connections

    from wagtail_livechat import database

    for connection in connections.all():
        if connection.vendor == "sqlite" and connection.is_in_memory_db():
            pytest.fail(
                f"The live server needs a file database, not {connection.settings_dict['NAME']!r} ({connection.alias})",
                pytrace=False,
            )
        # Never hand an open connection (a socket, for PostgreSQL) to the child.
        connection.close()
    # Nor any other: the sockets' database threads' (which earlier async
    # tests used) and those async tests left in their contexts.
    database.close_connections()
    _close_every_connection()

    with modify_settings(ALLOWED_HOSTS={"append": HOST}), django_db_blocker.unblock():
        # The child inherits the unblocked database access of this moment.
        process = _forked_daphne_process(
            host=HOST,
            get_application=_live_application,
        )
        process.start()
        try:
            if not process.ready.wait(SERVER_START_TIMEOUT):
                detail = "no error caught"
                if not process.errors.empty():
                    detail = process.errors.get(False)[1]
                pytest.fail(f"The live ASGI server did not start:\n{detail}", pytrace=False)
            yield f"http://{HOST}:{process.port.value}"
        finally:
            process.terminate()
            process.join(10)
            if process.is_alive():
                process.kill()
                process.join()


@pytest.fixture
def _restorable_db(django_db_blocker):
    from django.db import connections

    with django_db_blocker.unblock():
        for connection in connections.all():
            _ready_for_restore(connection)


@pytest.fixture
def live_server_url(
    asgi_live_server, _restorable_db, transactional_db, django_db_serialized_rollback
):
    """The live server's URL, for a test whose writes the server sees."""
    return asgi_live_server


# -- The browser -----------------------------------------------------------


@pytest.fixture(scope="package")
def chromium_executable():
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        _unavailable(
            f"{CHROMIUM} is missing: install Debian's Chromium "
            "(apt-get install -y chromium, or `make browser`)"
        )
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _unavailable("Playwright is not installed: pip install -e '.[dev]'")
    return CHROMIUM


@pytest.fixture(scope="package")
def playwright(chromium_executable, asgi_live_server):
    """Playwright's sync API, started after the server has been forked (the
    child must not inherit Playwright's pipes and event loop) and stopped
    with the package, before the tests that use asyncio run."""
    from django.db import connections
    from playwright.sync_api import sync_playwright

    # The sync API runs its event loop in a greenlet of this thread, so from
    # now on a loop counts as running here, even in the tests' own code. Two
    # consequences for Django:
    # * it refuses ORM calls ("async context"). They are made from this one
    #   thread all the same, so this process (not the server, forked before)
    #   is told to allow them;
    # * its connections (an asgiref Local) switch from thread-local to
    #   per-context storage: the tests would get new connection objects,
    #   without the serialized data pytest-django's rollback emulation needs.
    #   They are handed the very same objects instead.
    same = {alias: connections[alias] for alias in connections}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as pw:
            for alias, connection in same.items():
                connections[alias] = connection
            yield pw


@pytest.fixture(scope="package")
def browser(playwright, chromium_executable):
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    browser = playwright.chromium.launch(executable_path=chromium_executable, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture
def context(browser, live_server_url):
    context = browser.new_context(base_url=live_server_url, viewport=VIEWPORT, locale="en-US")
    context.set_default_timeout(TIMEOUT_MS)
    # Nothing leaves the machine (the admin would check for Wagtail updates).
    context.route(re.compile(rf"^(?!{re.escape(live_server_url)}/)[a-z]+://"), lambda r: r.abort())
    yield context
    context.close()


@pytest.fixture
def page(context):
    """A fresh page; an uncaught script error on it fails the test."""
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    if errors:
        pytest.fail("Uncaught errors in the page:\n" + "\n".join(errors), pytrace=False)


@pytest.fixture
def screenshots():
    """The folder of the documentation's screenshots."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
