"""Consent records in the admin: a read-only listing (with filters and CSV /
XLSX export) and an inspect view, for whoever has "Can view consent record".

The records are the proof of what each visitor was asked and answered, so
nobody, superusers included, can add, change or delete one from the admin:
the permission policy allows viewing only, which hides those buttons and
refuses those views."""

import django_filters
from django.utils.translation import gettext_lazy as _
from wagtail.admin.filters import DateRangePickerWidget, WagtailFilterSet
from wagtail.admin.ui.tables import Column, DateColumn
from wagtail.permission_policies import ModelPermissionPolicy
from wagtail.snippets.views.snippets import SnippetViewSet

from .compat import register_permission_policy
from .models import Chatflow, ConsentRecord

VIEW = "view"


class ViewOnlyPermissionPolicy(ModelPermissionPolicy):
    """The model's own "view" permission, and no other action for anyone."""

    def user_has_permission(self, user, action):
        return action == VIEW and super().user_has_permission(user, action)

    def users_with_any_permission(self, actions):
        return super().users_with_any_permission([a for a in actions if a == VIEW])


consent_permission_policy = ViewOnlyPermissionPolicy(ConsentRecord)
register_permission_policy(ConsentRecord, consent_permission_policy)


class ConsentRecordFilterSet(WagtailFilterSet):
    kind = django_filters.ChoiceFilter(label=_("Consent"), choices=ConsentRecord.Kind.choices)
    given = django_filters.BooleanFilter(label=_("Given"))
    chatflow = django_filters.ModelChoiceFilter(
        label=_("Chatflow"), queryset=Chatflow.objects.order_by("name")
    )
    created_at = django_filters.DateFromToRangeFilter(label=_("Time"), widget=DateRangePickerWidget)

    class Meta:
        model = ConsentRecord
        fields = ["kind", "given", "chatflow", "created_at"]


def _choice(record):
    return _("Given") if record.given else _("Refused")


def _contact(record):
    return record.contact.email if record.contact_id else ""


class ConsentRecordViewSet(SnippetViewSet):
    model = ConsentRecord
    icon = "tick-inverse"
    url_prefix = "livechat/consents"
    url_namespace = "wagtail_livechat_consents"
    menu_label = _("Consent records")
    menu_order = 360
    permission_policy = consent_permission_policy  # Wagtail 7.4 reads it here
    inspect_view_enabled = True
    copy_view_enabled = False
    filterset_class = ConsentRecordFilterSet
    search_fields = ["text", "contact__email", "subscription_type"]
    list_display = [
        "__str__",
        DateColumn("created_at", label=_("Time")),
        Column("choice", label=_("Choice"), accessor=_choice),
        Column("text", label=_("Text shown")),
        Column("chatflow", label=_("Chatflow")),
        Column("revision", label=_("Revision"), accessor="revision_id"),
        Column("contact", label=_("Contact"), accessor=_contact),
    ]
    list_export = [
        "created_at",
        "kind",
        "given",
        "text",
        "subscription_type",
        "chatflow",
        "revision_id",
        "contact",
        "visitor_id",
    ]
    export_headings = {
        "created_at": _("Time"),
        "kind": _("Consent"),
        "given": _("Given"),
        "text": _("Text shown"),
        "subscription_type": _("Subscription type"),
        "chatflow": _("Chatflow"),
        "revision_id": _("Revision"),
        "contact": _("Contact"),
        "visitor_id": _("Visitor"),
    }
    export_filename = "consent-records"
    inspect_view_fields = [
        "kind",
        "given",
        "text",
        "subscription_type",
        "created_at",
        "chatflow",
        "revision",
        "contact",
        "visitor",
    ]

    def get_queryset(self, request):
        return ConsentRecord.objects.select_related("chatflow", "contact")

    def get_permissions_to_register(self):
        # Only "view" exists for editors: "add", "change" and "delete" would
        # be checkboxes in the groups' editor that grant nothing.
        return super().get_permissions_to_register().filter(codename="view_consentrecord")
