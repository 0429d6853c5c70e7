"""The "Live chat" admin menu: the agents' inbox, and chatflows, inboxes,
contacts, canned responses and webhooks as snippet viewsets."""

from django.contrib.auth.models import Permission
from django.urls import include, path, reverse
from django.utils.translation import gettext_lazy as _
from wagtail import hooks
from wagtail.admin.menu import MenuItem
from wagtail.admin.ui.sidebar import LinkMenuItem
from wagtail.admin.ui.tables import LiveStatusTagColumn, UpdatedAtColumn
from wagtail.snippets.models import register_snippet
from wagtail.snippets.views.snippets import ReorderView, SnippetViewSet, SnippetViewSetGroup

from . import admin_views, attachment_data, audit, config, personal_data, reports, service
from .compat import SubmenuHookMixin
from .consent_admin import ConsentRecordViewSet
from .contact_admin import ContactViewSet
from .models import CannedResponse, Chatflow, Inbox
from .webhook_admin import WebhookDeliveryViewSet, WebhookViewSet


class ChatflowReorderView(ReorderView):
    """Reordering writes with ``QuerySet.update``, which sends no signal, so
    it invalidates the widget config itself: the order is the priority. The
    snippets' ``ReorderView`` asks for the "publish" permission: reordering
    changes what visitors see at once."""

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
    # Wagtail's status tag: "live", "draft" or "live + draft" (published,
    # with changes not published yet), as Wagtail lists its own snippets.
    list_display = ["name", "inbox", UpdatedAtColumn(), LiveStatusTagColumn()]
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


# -- Reports (conversations, response times, missed, workload, feedback) ---


@hooks.register("register_admin_urls")
def register_report_urls():
    return [url for view in reports.REPORTS for url in view.urls()]


for _report in reports.REPORTS:
    hooks.register("register_reports_menu_item", _report.menu_item)


@hooks.register("register_permissions")
def register_report_permissions():
    """Who sees the reports, given in the groups' permissions editor (see
    wagtail_livechat.reports.base)."""
    return Permission.objects.filter(
        content_type__app_label="wagtail_livechat", codename__in=reports.PERMISSIONS
    )


hooks.register("register_log_actions", audit.register_actions)
# Attachments are exported, erased and purged with their conversations.
hooks.register(personal_data.SECTION_HOOK, attachment_data.Attachments)


@hooks.register("register_icons")
def register_icons(icons):
    return [*icons, "wagtail_livechat/icons/livechat.svg"]


# -- The agents' inbox -------------------------------------------------------

LIVECHAT_MENU_HOOK = "register_livechat_menu_item"


@hooks.register("register_admin_urls")
def register_inbox_urls():
    # Only "" and "<int:pk>/": no clash with livechat/chatflows/ and co.
    return [
        path(
            "livechat/",
            include(
                (admin_views.get_urls(), "wagtail_livechat_inbox"),
                namespace="wagtail_livechat_inbox",
            ),
        )
    ]


class ConversationsMenuItem(MenuItem):
    """The inbox's menu item, with the number of open conversations that
    have unread visitor messages: "Conversations (3)"."""

    def is_shown(self, request):
        return service.agent_inboxes(request.user).exists()

    def render_component(self, request):
        count = admin_views.unread_conversations(request.user)
        label = _("Conversations (%(count)s)") % {"count": count} if count else _("Conversations")
        return LinkMenuItem(
            self.name,
            label,
            self.url,
            icon_name=self.icon_name,
            classname=self.classname,
            attrs=self.attrs,
        )


@hooks.register(LIVECHAT_MENU_HOOK)
def register_conversations_menu_item():
    return ConversationsMenuItem(
        _("Conversations"),
        reverse("wagtail_livechat_inbox:index"),
        name="livechat-conversations",
        icon_name="livechat",
        order=100,
    )


class CannedResponseViewSet(SnippetViewSet):
    model = CannedResponse
    icon = "openquote"
    url_prefix = "livechat/canned-responses"
    url_namespace = "wagtail_livechat_canned_responses"
    menu_order = 400
    list_display = ["__str__", "inbox", "text"]
    list_filter = ["inbox"]
    search_fields = ["shortcut", "text"]


class LivechatViewSetGroup(SubmenuHookMixin, SnippetViewSetGroup):
    """The "Live chat" menu; "Conversations" joins it through its hook."""

    items = (
        ChatflowViewSet,
        InboxViewSet,
        ContactViewSet,
        ConsentRecordViewSet,
        CannedResponseViewSet,
        WebhookViewSet,
    )
    submenu_hook = LIVECHAT_MENU_HOOK
    menu_icon = "livechat"
    menu_label = _("Live chat")
    menu_name = "livechat"
    menu_order = 250


register_snippet(LivechatViewSetGroup)


@hooks.register("register_admin_viewset")
def register_webhook_deliveries():
    """Reached from the webhooks' listing (no menu item of its own)."""
    return WebhookDeliveryViewSet()
