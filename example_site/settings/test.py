import os
import tempfile

from .base import *  # noqa: F403
from .base import DATABASES, EXAMPLE_CSP

SECRET_KEY = "tests-not-secret"  # noqa: S105
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
ALLOWED_HOSTS = ["*"]
if not os.environ.get("DATABASE_URL"):
    # A file, not :memory:, so that a live ASGI server in another process
    # (ChannelsLiveServerTestCase, the browser tests) sees the same data.
    DATABASES["default"]["TEST"] = {
        "NAME": os.path.join(tempfile.gettempdir(), f"livechat-test-{os.getpid()}.sqlite3")
    }
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
MEDIA_ROOT = os.path.join(tempfile.gettempdir(), "livechat-test-media")
# Persistent connections would outlive each test in the database threads of
# the consumers and keep the test database from being dropped.
DATABASES["default"]["CONN_MAX_AGE"] = 0
# The consumer tests' sockets say they come from the test client's site.
WAGTAIL_LIVECHAT_ALLOWED_ORIGINS = ["http://testserver"]
# Query counts stay exact: a test reads the config generation once (its own
# changes are seen at once anyway).
WAGTAIL_LIVECHAT_CONFIG_CHECK_EVERY = 3600
# Likewise the webhook subscriptions (tests change them in this process).
WAGTAIL_LIVECHAT_WEBHOOK_CHECK_EVERY = 3600
# A page asked with ?csp=nonce is served under a nonce-based strict policy
# (scripts need the response's nonce; what they load is trusted in turn), so
# that the browser tests try the widget under both kinds of policy.
NONCE_CSP = (
    "default-src 'self'; script-src 'nonce-{nonce}' 'strict-dynamic'; "
    "style-src 'self' 'nonce-{nonce}'; object-src 'none'; base-uri 'none'"
)
EXAMPLE_CSP = [(r"[?&]csp=nonce(&|$)", NONCE_CSP), *EXAMPLE_CSP]
