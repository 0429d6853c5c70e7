"""Page types of the example site; each offers the "Live chat" panel."""

from wagtail.admin.panels import FieldPanel
from wagtail.fields import RichTextField
from wagtail.models import Page
from wagtail.search import index

from wagtail_livechat.models import LivechatPageMixin


class BasePage(LivechatPageMixin, Page):
    body = RichTextField(blank=True)

    content_panels = [*Page.content_panels, FieldPanel("body")]
    settings_panels = [*Page.settings_panels, *LivechatPageMixin.livechat_panels]
    search_fields = [*Page.search_fields, index.SearchField("body")]

    class Meta:
        abstract = True


class HomePage(BasePage):
    template = "home/page.html"


class StandardPage(BasePage):
    template = "home/page.html"


class KnowledgeBasePage(BasePage):
    """The root of the help articles."""

    template = "home/page.html"
    subpage_types = ["home.ArticlePage"]


class ArticlePage(BasePage):
    template = "home/page.html"
    parent_page_types = ["home.KnowledgeBasePage"]


class JinjaPage(BasePage):
    """Rendered with Jinja2, to show that the tag works there too."""

    template = "home/jinja_page.html"
