"""``manage.py livechat_erase --email x [--dry-run]``: erase a contact (right of erasure)."""

from django.core.management.base import BaseCommand, CommandError

from ... import personal_data


class Command(BaseCommand):
    help = (
        "Erase the contact with this email address as the admin's Erase does: "
        "messages anonymised or deleted (WAGTAIL_LIVECHAT_ERASURE), visitors "
        "unlinked, the contact's personal fields cleared, consent records kept as "
        "proof (WAGTAIL_LIVECHAT_ERASURE_KEEP_CONSENTS). Recorded in the audit log."
    )

    def add_arguments(self, parser):
        parser.add_argument("--email", required=True, help="The contact's email address.")
        parser.add_argument(
            "--dry-run", action="store_true", help="Say what would be erased; change nothing."
        )
        parser.add_argument(
            "--mode",
            choices=personal_data.MODES,
            help="Override WAGTAIL_LIVECHAT_ERASURE for this run.",
        )

    def handle(self, *args, email, dry_run, mode, **options):
        contact = personal_data.contacts_by_email(email).first()
        if contact is None:
            raise CommandError(f"No contact with the address {email!r}.")
        if dry_run:
            result = personal_data.erasure_plan(contact, mode=mode)
            self.stdout.write(f"Would erase contact {contact.pk} (dry run, nothing changed):")
        else:
            result = personal_data.erase(contact, mode=mode)
            self.stdout.write(f"Erased contact {contact.pk}:")
        for key, value in result.as_dict().items():
            self.stdout.write(f"  {key}: {value}")
