import pytest
from django.conf import settings
from django.core.cache import cache

# The site with its own page model runs in a process of its own, with its own
# settings (``make test``): pytest tests/swapped_page --ds=tests.swapped_page.settings
if getattr(settings, "WAGTAIL_PAGE_MODEL", "wagtailcore.Page") == "wagtailcore.Page":
    collect_ignore = ["swapped_page"]


@pytest.fixture(autouse=True)
def _clear_cache():
    """Each test starts with no compiled config cached, and reads the config
    generation afresh (the database it was read from is gone)."""
    from wagtail_livechat import config, memo, webhooks

    cache.clear()
    config._seen = (0.0, None)
    memo.forget()
    memo._offline_noticed.clear()
    webhooks.forget()
    yield
    cache.clear()
    config._seen = (0.0, None)
    memo.forget()
    webhooks.forget()


@pytest.fixture(autouse=True)
def _fresh_channel_layer():
    """Each test gets channel layers of its own: each async test runs its own
    event loop, and channels-redis binds its receive lock to the loop that
    first used it (a socket a test left receiving broke the next test with
    "Lock is bound to a different event loop")."""
    from channels.layers import channel_layers

    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


@pytest.fixture
def admin_user(django_user_model):
    return django_user_model.objects.create_superuser(
        "admin", "admin@example.com", "admin", first_name="Alex"
    )


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture
def demo(db):
    """The example site's demo content: pages, inboxes, a published chatflow."""
    from django.core.management import call_command

    call_command("load_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    from example_site.home.models import HomePage

    return HomePage.objects.get()


@pytest.fixture(autouse=True, scope="session")
def _database_threads_let_go(django_db_setup, django_db_blocker):
    """The sockets' database threads keep their connections between hops;
    closed before the test databases are dropped (PostgreSQL refuses to drop
    a database that sessions still use)."""
    yield
    from wagtail_livechat import database

    with django_db_blocker.unblock():
        database.close_connections()
