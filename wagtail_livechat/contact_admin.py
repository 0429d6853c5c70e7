"""Contacts in the admin: a snippet viewset with Wagtail's listing (filters,
search, CSV/XLSX export), the edit form (name, email, owner: a member of an
inbox), an inspect page with the contact's consent records and
conversations, its history (the contact's audit entries and its
conversations'), and the contact's rights: "Export data" (JSON) and "Erase".

Who may do what is the contact model's permissions: view to list and
inspect, change to edit and export, delete to erase. The logic is in
:mod:`personal_data`; these views only ask and answer.
"""

from __future__ import annotations

import django_filters
from django.contrib import messages
from django.contrib.admin.utils import quote
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.db.models import Count, Q
from django.http import HttpResponse
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils.functional import cached_property
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.generic import TemplateView
from wagtail.admin.filters import DateRangePickerWidget, WagtailFilterSet
from wagtail.admin.forms import WagtailAdminModelForm
from wagtail.admin.panels import FieldPanel, ObjectList
from wagtail.admin.ui.tables import Column, DateColumn
from wagtail.admin.views.generic.base import BaseObjectMixin, WagtailAdminTemplateMixin
from wagtail.admin.views.generic.permissions import PermissionCheckedMixin
from wagtail.admin.widgets import Button
from wagtail.models import ModelLogEntry
from wagtail.snippets.views import snippets

from . import personal_data, service
from .models import Contact, Conversation, Inbox
from .reports.figures import safe_cell


class ContactForm(WagtailAdminModelForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "owner" in self.fields:
            # Members only: routing and the chat's heading need an agent.
            self.fields["owner"].queryset = service.owner_choices()


def _owners(request):
    """Whoever owns a contact now (a former member too)."""
    return (
        get_user_model()
        .objects.filter(livechat_contacts__isnull=False)
        .distinct()
        .order_by("first_name", "last_name", get_user_model().USERNAME_FIELD)
    )


class ContactFilterSet(WagtailFilterSet):
    owner = django_filters.ModelChoiceFilter(label=_("Owner"), queryset=_owners)
    inbox = django_filters.ModelChoiceFilter(
        label=_("Inbox"),
        queryset=Inbox.objects.order_by("name"),
        method="filter_inbox",
        help_text=_("Contacts with a conversation in this inbox."),
    )
    has_email = django_filters.BooleanFilter(
        label=_("Has email"), field_name="email", lookup_expr="isnull", exclude=True
    )
    created_at = django_filters.DateFromToRangeFilter(
        label=_("Created"), widget=DateRangePickerWidget
    )

    class Meta:
        model = Contact
        fields = ["owner", "inbox", "has_email", "created_at"]

    def filter_inbox(self, queryset, name, value):
        # A subquery, not a join: the conversation count stays per contact.
        return queryset.filter(
            pk__in=Conversation.objects.filter(inbox=value).values("visitor__contact")
        )


class ContactIndexView(snippets.IndexView):
    def setup(self, request, *args, **kwargs):
        super().setup(request, *args, **kwargs)
        # Typed by visitors: text, never a formula, in a spreadsheet program.
        self.custom_field_preprocess = {
            **self.custom_field_preprocess,
            "name": {self.FORMAT_CSV: safe_cell},
            "email": {self.FORMAT_CSV: safe_cell},
        }


class ContactInspectView(snippets.InspectView):
    template_name = "wagtail_livechat/contacts/inspect.html"
    export_url_name = None
    erase_url_name = None

    @cached_property
    def header_more_buttons(self):
        buttons = list(super().header_more_buttons)
        if self.export_url:
            buttons.append(
                Button(_("Export data"), url=self.export_url, icon_name="download", priority=30)
            )
        if self.erase_url:
            buttons.append(Button(_("Erase"), url=self.erase_url, icon_name="bin", priority=40))
        return buttons

    @cached_property
    def export_url(self):
        if self.user_has_permission("change") and self.object.erased_at is None:
            return reverse(self.export_url_name, args=[quote(self.object.pk)])
        return None

    @cached_property
    def erase_url(self):
        if self.user_has_permission("delete") and self.object.erased_at is None:
            return reverse(self.erase_url_name, args=[quote(self.object.pk)])
        return None

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["consent_records"] = self.object.consent_records.select_related("chatflow")
        context["conversations"] = (
            personal_data.conversations_of(self.object)
            .select_related("inbox", "assignee", "chatflow")
            .order_by("-created_at")
        )
        context["export_url"] = self.export_url
        context["erase_url"] = self.erase_url
        return context


class ContactHistoryView(snippets.HistoryView):
    """The contact's own entries (edits, exports, erasure) and those of its
    conversations (assigned, closed, reopened): its whole story in one list."""

    def get_base_queryset(self):
        conversations = [
            str(pk)
            for pk in personal_data.conversations_of(self.object).values_list("pk", flat=True)
        ]
        queryset = ModelLogEntry.objects.filter(
            Q(
                content_type=ContentType.objects.get_for_model(Contact),
                object_id=str(self.object.pk),
            )
            | Q(
                content_type=ContentType.objects.get_for_model(Conversation),
                object_id__in=conversations,
            )
        )
        # One row per user action, as Wagtail's own history shows them (where
        # the Wagtail release has it).
        dedupe = getattr(queryset, "latest_by_uuid_and_action", None)
        queryset = dedupe() if dedupe else queryset
        return queryset.select_related("content_type", "user", "user__wagtail_userprofile")


class ContactObjectView(PermissionCheckedMixin, BaseObjectMixin, WagtailAdminTemplateMixin):
    model = Contact
    index_url_name = None
    inspect_url_name = None

    def get_base_object_queryset(self):
        return Contact.objects.filter(erased_at__isnull=True)


class ExportDataView(ContactObjectView, TemplateView):
    """Right of access: everything stored about the contact, as a JSON
    download, and an audit entry saying who took it."""

    permission_required = "change"

    def get(self, request, *args, **kwargs):
        body = personal_data.to_json(personal_data.export(self.object))
        personal_data.record_export(self.object, request.user)
        response = HttpResponse(body, content_type="application/json; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="contact-{self.object.pk}.json"'
        response["X-Content-Type-Options"] = "nosniff"
        return response


class EraseView(ContactObjectView, TemplateView):
    """Right of erasure: what will go, a confirmation, then the erasure."""

    permission_required = "delete"
    template_name = "wagtail_livechat/contacts/erase.html"
    page_title = _("Erase")
    header_icon = "user"

    def get_page_subtitle(self):
        return str(self.object)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["object"] = self.object
        context["plan"] = personal_data.erasure_plan(self.object)
        context["cancel_url"] = reverse(self.inspect_url_name, args=[quote(self.object.pk)])
        return context

    def post(self, request, *args, **kwargs):
        name = str(self.object)
        personal_data.erase(self.object, user=request.user)
        messages.success(request, gettext("%(contact)s has been erased.") % {"contact": name})
        return redirect(self.index_url_name)


class ContactViewSet(snippets.SnippetViewSet):
    model = Contact
    icon = "user"
    url_prefix = "livechat/contacts"
    url_namespace = "wagtail_livechat_contacts"
    menu_label = _("Contacts")
    menu_order = 350
    index_view_class = ContactIndexView
    inspect_view_class = ContactInspectView
    history_view_class = ContactHistoryView
    list_display = [
        "__str__",
        "email",
        "owner",
        Column("conversation_count", label=_("Conversations")),
        DateColumn("created_at", label=_("Created")),
    ]
    filterset_class = ContactFilterSet
    search_fields = ["email", "name"]
    list_export = [
        "email",
        "name",
        "owner",
        "created_at",
        "email_confirmed_at",
        "data_consent_at",
        "conversation_count",
    ]
    export_headings = {"conversation_count": _("Conversations")}
    export_filename = "contacts"
    inspect_view_enabled = True
    inspect_view_fields = [
        "email",
        "name",
        "owner",
        "email_confirmed_at",
        "identified_at",
        "external_id",
        "data_consent_at",
        "subscriptions",
        "created_at",
        "erased_at",
    ]
    edit_handler = ObjectList(
        [FieldPanel("email"), FieldPanel("name"), FieldPanel("owner")],
        base_form_class=ContactForm,
    )

    def get_queryset(self, request):
        return Contact.objects.select_related("owner").annotate(
            conversation_count=Count("visitors__conversations", distinct=True)
        )

    def get_inspect_view_kwargs(self, **kwargs):
        return super().get_inspect_view_kwargs(
            export_url_name=self.get_url_name("export_data"),
            erase_url_name=self.get_url_name("erase"),
            **kwargs,
        )

    def _contact_view(self, view_class):
        return self.construct_view(
            view_class,
            permission_policy=self.permission_policy,
            inspect_url_name=self.get_url_name("inspect"),
        )

    @property
    def export_data_view(self):
        return self._contact_view(ExportDataView)

    @property
    def erase_view(self):
        return self._contact_view(EraseView)

    def get_urlpatterns(self):
        return [
            *super().get_urlpatterns(),
            path("export-data/<str:pk>/", self.export_data_view, name="export_data"),
            path("erase/<str:pk>/", self.erase_view, name="erase"),
        ]
