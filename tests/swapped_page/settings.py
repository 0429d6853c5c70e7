"""The test settings, with the site's own page model (WAGTAIL_PAGE_MODEL)
in place of ``wagtailcore.Page`` and no app whose pages extend that."""

from example_site.settings.test import *  # noqa: F403
from example_site.settings.test import INSTALLED_APPS

INSTALLED_APPS = [
    "tests.swapped_page" if app == "example_site.home" else app for app in INSTALLED_APPS
]
WAGTAIL_PAGE_MODEL = "swapped_page.SitePage"
