"""Contact (a known person) and Visitor (a browser that has chatted)."""

import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Contact(models.Model):
    # Null once the contact is erased (see personal_data.py): the row stays,
    # without anything that names the person, where consent records must be
    # kept as proof.
    email = models.EmailField(_("email"), unique=True, null=True)
    name = models.CharField(_("name"), max_length=150, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="livechat_contacts",
        verbose_name=_("owner"),
        help_text=_("The agent who looks after this contact: a member of an inbox."),
    )
    # Set when someone followed the link mailed to this address: until then
    # the address is only what a visitor typed.
    email_confirmed_at = models.DateTimeField(_("address confirmed"), null=True, blank=True)
    # Set when the site vouched for this person (a signed token, or a
    # logged-in user): see docs/identification.md.
    identified_at = models.DateTimeField(_("identified by the site"), null=True, blank=True)
    external_id = models.CharField(
        _("external id"),
        max_length=255,
        blank=True,
        db_index=True,
        help_text=_("The site's own id for this person, as its identification token gave it."),
    )
    data_consent_at = models.DateTimeField(_("consented to data processing"), null=True, blank=True)
    subscriptions = models.JSONField(
        _("consents to communicate"),
        default=list,
        blank=True,
        help_text=_("Subscription types the contact agreed to, with the time."),
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    erased_at = models.DateTimeField(_("erased"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")
        ordering = ["-created_at"]

    def __str__(self):
        if self.erased_at is not None:
            return _("Erased contact %(id)s") % {"id": self.pk}
        return self.name or self.email or _("Contact %(id)s") % {"id": self.pk}


def new_visitor_key():
    """192 random bits, URL-safe; the cookie carries it signed."""
    return secrets.token_urlsafe(24)


class Visitor(models.Model):
    key = models.CharField(max_length=64, unique=True, default=new_visitor_key, editable=False)
    contact = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="visitors"
    )
    created_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    # Where the visitor is now, as their widget last reported it.
    page_url = models.URLField(max_length=2048, blank=True)
    page_title = models.CharField(max_length=255, blank=True)
    page_id = models.PositiveIntegerField(null=True, blank=True)
    # When this visitor proved the contact's address is theirs (the mailed
    # link); mail goes to the address only then.
    contact_confirmed_at = models.DateTimeField(null=True, blank=True)
    # Consents given with an address not yet confirmed: recorded here, as
    # unconfirmed, and moved to the contact when the address is confirmed.
    pending_consents = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = _("visitor")
        verbose_name_plural = _("visitors")

    def __str__(self):
        return str(self.contact) if self.contact_id else _("Visitor %(id)s") % {"id": self.pk}
