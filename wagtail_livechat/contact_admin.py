"""Contacts in the admin: a snippet viewset where editors set a contact's
owner (a member of an inbox), and see the consents the contact gave."""

from django.utils.translation import gettext_lazy as _
from wagtail.admin.forms import WagtailAdminModelForm
from wagtail.admin.panels import FieldPanel, ObjectList
from wagtail.snippets.views.snippets import SnippetViewSet

from . import service
from .models import Contact


class ContactForm(WagtailAdminModelForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "owner" in self.fields:
            # Members only: routing and the chat's heading need an agent.
            self.fields["owner"].queryset = service.owner_choices()


class ContactViewSet(SnippetViewSet):
    model = Contact
    icon = "user"
    url_prefix = "livechat/contacts"
    url_namespace = "wagtail_livechat_contacts"
    menu_label = _("Contacts")
    menu_order = 350
    list_display = ["__str__", "email", "owner", "created_at"]
    list_filter = ["owner"]
    search_fields = ["email", "name"]
    inspect_view_enabled = True
    edit_handler = ObjectList(
        [FieldPanel("email"), FieldPanel("name"), FieldPanel("owner")],
        base_form_class=ContactForm,
    )
