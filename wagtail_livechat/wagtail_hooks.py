"""The "Live chat" admin menu: inboxes and chatflows as snippet viewsets."""

from django.utils.translation import gettext_lazy as _
from wagtail import hooks
from wagtail.admin.ui.tables import UpdatedAtColumn
from wagtail.admin.views.generic import ReorderView
from wagtail.snippets.models import register_snippet
from wagtail.snippets.views.snippets import SnippetViewSet, SnippetViewSetGroup

from . import config
from .models import Chatflow, Inbox


class ChatflowReorderView(ReorderView):
    """Reordering writes with ``QuerySet.update``, which sends no signal, so
    it invalidates the widget config itself: the order is the priority."""

    def post(self, request, *args, **kwargs):
        response = super().post(request, *args, **kwargs)
        config.invalidate()
        return response


class ChatflowViewSet(SnippetViewSet):
    model = Chatflow
    icon = "livechat"
    url_prefix = "livechat/chatflows"
    url_namespace = "wagtail_livechat_chatflows"
    menu_order = 200
    list_display = ["name", "inbox", UpdatedAtColumn()]
    list_filter = ["inbox", "live"]
    search_fields = ["name"]
    reorder_view_class = ChatflowReorderView


class InboxViewSet(SnippetViewSet):
    model = Inbox
    icon = "group"
    url_prefix = "livechat/inboxes"
    url_namespace = "wagtail_livechat_inboxes"
    menu_order = 300
    list_display = ["name", "time_zone", "launcher_position"]
    search_fields = ["name"]


class LivechatViewSetGroup(SnippetViewSetGroup):
    items = (ChatflowViewSet, InboxViewSet)
    menu_icon = "livechat"
    menu_label = _("Live chat")
    menu_name = "livechat"
    menu_order = 250


register_snippet(LivechatViewSetGroup)


@hooks.register("register_icons")
def register_icons(icons):
    return [*icons, "wagtail_livechat/icons/livechat.svg"]
