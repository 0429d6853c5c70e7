"""Webhooks in the admin: a snippet viewset to configure them (in the "Live
chat" menu) and a read-only listing of their deliveries, filtered per
webhook, with each delivery's payload and the receiver's answer."""

from django import forms
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from wagtail.admin.forms import WagtailAdminModelForm
from wagtail.admin.panels import FieldPanel, ObjectList
from wagtail.admin.ui.tables import Column
from wagtail.admin.viewsets.model import ModelViewSet
from wagtail.permission_policies import ModelPermissionPolicy
from wagtail.snippets.views.snippets import SnippetViewSet

from .compat import register_permission_policy
from .models import Webhook, WebhookDelivery
from .models.webhook import EVENT_CHOICES

DELIVERIES_NAMESPACE = "wagtail_livechat_webhook_deliveries"


class WebhookForm(WagtailAdminModelForm):
    events = forms.MultipleChoiceField(
        label=_("Events"),
        choices=EVENT_CHOICES,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("What to send (see docs/signals.md for each event's data)."),
    )


class DeliveriesColumn(Column):
    """A link to the webhook's deliveries."""

    def get_value(self, instance):
        url = reverse(f"{DELIVERIES_NAMESPACE}:index") + f"?webhook={instance.pk}"
        return format_html('<a href="{}">{}</a>', url, _("Deliveries"))


class WebhookViewSet(SnippetViewSet):
    model = Webhook
    icon = "link"
    url_prefix = "livechat/webhooks"
    url_namespace = "wagtail_livechat_webhooks"
    menu_label = _("Webhooks")
    menu_order = 500
    list_display = ["name", "url", "active", DeliveriesColumn("deliveries", label=_("Deliveries"))]
    list_filter = ["active"]
    search_fields = ["name", "url"]
    copy_view_enabled = False
    edit_handler = ObjectList(
        [
            FieldPanel("name"),
            FieldPanel("url"),
            FieldPanel("events"),
            FieldPanel("secret"),
            FieldPanel("active"),
        ],
        base_form_class=WebhookForm,
    )


class ReadOnlyPolicy(ModelPermissionPolicy):
    """Deliveries are a record: viewed, never added, edited or deleted here
    (they go with their webhook)."""

    def user_has_permission(self, user, action):
        return action == "view" and super().user_has_permission(user, action)

    def user_has_any_permission(self, user, actions):
        return "view" in actions and super().user_has_permission(user, "view")


class WebhookDeliveryViewSet(ModelViewSet):
    model = WebhookDelivery
    icon = "link"
    url_prefix = "livechat/webhook-deliveries"
    url_namespace = DELIVERIES_NAMESPACE
    add_to_admin_menu = False
    copy_view_enabled = False
    inspect_view_enabled = True
    form_fields = []  # no form: nobody may add or edit (ReadOnlyPolicy)
    list_display = [
        "event",
        "webhook",
        "status",
        "attempts",
        "response_code",
        "created_at",
        "last_attempt_at",
        "next_attempt_at",
    ]
    list_filter = ["webhook", "status", "event"]
    list_export = [*list_display, "error", "response_excerpt"]
    inspect_view_fields = [
        "webhook",
        "event",
        "uuid",
        "status",
        "attempts",
        "response_code",
        "response_excerpt",
        "error",
        "payload",
        "created_at",
        "last_attempt_at",
        "next_attempt_at",
    ]


if not register_permission_policy(WebhookDelivery, ReadOnlyPolicy(WebhookDelivery)):
    WebhookDeliveryViewSet.permission_policy = ReadOnlyPolicy(WebhookDelivery)  # Wagtail 7.4
