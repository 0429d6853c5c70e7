import os

from .base import *  # noqa: F403
from .base import DATABASES

SECRET_KEY = "tests-not-secret"  # noqa: S105
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
if not os.environ.get("DATABASE_URL"):
    DATABASES["default"]["NAME"] = ":memory:"
    DATABASES["default"]["TEST"] = (
        {"NAME": os.environ.get("SQLITE_TEST_PATH")} if os.environ.get("SQLITE_TEST_PATH") else {}
    )
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
ALLOWED_HOSTS = ["*"]
