"""The site's own base page model, and page types built on it."""

from django.db import models
from wagtail.admin.panels import FieldPanel
from wagtail.models import AbstractPage
from wagtail.search import index

from wagtail_livechat.models import LivechatPageMixin


class SitePage(AbstractPage):
    """Replaces ``wagtailcore.Page`` (``WAGTAIL_PAGE_MODEL``)."""

    summary = models.CharField(max_length=255, blank=True)

    content_panels = [*AbstractPage.content_panels, FieldPanel("summary")]
    search_fields = [*AbstractPage.search_fields, index.SearchField("summary")]


class ArticlePage(LivechatPageMixin, SitePage):
    template = "swapped_page/page.html"
    settings_panels = [*SitePage.settings_panels, *LivechatPageMixin.livechat_panels]
