"""Settings of the example site.

Embedded by default (SQLite, in-memory channel layer, local-memory cache);
set DATABASE_URL and REDIS_URL to scale out over PostgreSQL and Redis.
"""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
PROJECT_DIR = BASE_DIR.parent

SECRET_KEY = os.environ.get("SECRET_KEY", "example-site-not-secret")
DEBUG = os.environ.get("DEBUG", "1") == "1"
ALLOWED_HOSTS = os.environ.get("ALLOWED_HOSTS", "127.0.0.1,localhost").split(",")
CSRF_TRUSTED_ORIGINS = [f"http://{h}:{os.environ.get('PORT', '8000')}" for h in ALLOWED_HOSTS]

INSTALLED_APPS = [
    "daphne",
    "example_site.home",
    "wagtail_livechat",
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
    "channels",
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
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "example_site.csp.ContentSecurityPolicyMiddleware",
    "wagtail.contrib.redirects.middleware.RedirectMiddleware",
]

ROOT_URLCONF = "example_site.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.debug",
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    },
    {
        "BACKEND": "django.template.backends.jinja2.Jinja2",
        "DIRS": [BASE_DIR / "jinja2"],
        "APP_DIRS": False,
        "OPTIONS": {
            "extensions": [
                "wagtail.jinja2tags.core",
                "wagtail_livechat.jinja2tags.livechat",
            ]
        },
    },
]

ASGI_APPLICATION = "example_site.asgi.application"
WSGI_APPLICATION = None

if os.environ.get("DATABASE_URL"):
    import dj_database_url

    DATABASES = {
        "default": dj_database_url.parse(
            os.environ["DATABASE_URL"], conn_max_age=600, conn_health_checks=True
        )
    }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("SQLITE_PATH", PROJECT_DIR / "db.sqlite3"),
            # Several server threads write at once: wait rather than fail, take
            # the write lock up front, and let readers proceed during writes.
            "OPTIONS": {
                "timeout": 20,
                "transaction_mode": "IMMEDIATE",
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
            # Keep connections: every websocket frame is a hop to the
            # database thread, which would otherwise reconnect each time.
            "CONN_MAX_AGE": 600,
            "CONN_HEALTH_CHECKS": True,
        }
    }

REDIS_URL = os.environ.get("REDIS_URL")
if REDIS_URL:
    from wagtail_livechat.layers import redis_channel_layer

    # Capacity for bursts, and the connection options channels-redis needs.
    CHANNEL_LAYERS = {"default": redis_channel_layer(REDIS_URL)}
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
        }
    }
else:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "wagtail_livechat.layers.LocalChannelLayer",
            "CONFIG": {"capacity": 1000},
        }
    }
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_PASSWORD_VALIDATORS = []

LANGUAGE_CODE = "en"
LANGUAGES = [
    ("en", "English"),
    ("nl", "Nederlands"),
    ("fr", "Français"),
    ("de", "Deutsch"),
    ("es", "Español"),
]
WAGTAIL_CONTENT_LANGUAGES = [("en", "English")]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = PROJECT_DIR / "static_collected"
MEDIA_URL = "/media/"
MEDIA_ROOT = os.environ.get("MEDIA_ROOT", PROJECT_DIR / "media")

WAGTAIL_SITE_NAME = "Example site"
# Under the strict policy below, the admin's pictures and requests stay on
# the site: no Gravatar avatars, no check for new Wagtail releases.
WAGTAIL_GRAVATAR_PROVIDER_URL = None
WAGTAIL_ENABLE_UPDATE_CHECK = False

# A strict Content-Security-Policy (example_site/csp.py: the first regex that
# matches the path and query string wins). The public pages, the widget, the
# agents' inbox and the chatflow preview need no inline script or style.
# The rest of Wagtail's admin goes without: its editing views still run
# inline scripts (choosers and inline panels, wagtail/wagtail#12940) and its
# rich-text editor adds <style> elements.
STRICT_CSP = "default-src 'self'; style-src 'self'; script-src 'self'"
EXAMPLE_CSP = [
    (r"^/admin/livechat/(\d+/)?(\?|$)", STRICT_CSP),  # the inbox
    (r"^/admin/livechat/chatflows/preview/", STRICT_CSP),
    (r"^/admin/", None),
    (r"", STRICT_CSP),
]
WAGTAILADMIN_BASE_URL = os.environ.get("WAGTAILADMIN_BASE_URL", "http://127.0.0.1:8000")
WAGTAILSEARCH_BACKENDS = {"default": {"BACKEND": "wagtail.search.backends.database"}}
WAGTAILDOCS_EXTENSIONS = ["pdf", "txt"]

EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = "chat@example.com"

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# The benchmarks raise it to measure delivery without being throttled.
WAGTAIL_LIVECHAT_VISITOR_RATE_PER_MINUTE = int(os.environ.get("LIVECHAT_RATE_PER_MINUTE", "30"))
# Sockets one server process carries before answering "busy" (tests lower it).
WAGTAIL_LIVECHAT_MAX_SOCKETS = int(os.environ.get("LIVECHAT_MAX_SOCKETS", "10000"))
# Sockets one client address may hold (the load benchmark, all on loopback, raises it).
WAGTAIL_LIVECHAT_MAX_SOCKETS_PER_CLIENT = int(
    os.environ.get("LIVECHAT_MAX_SOCKETS_PER_CLIENT", "50")
)
