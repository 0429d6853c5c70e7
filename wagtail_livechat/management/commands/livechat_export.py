"""``manage.py livechat_export --email x``: a contact's data as JSON (right of access)."""

from django.core.management.base import BaseCommand, CommandError

from ... import personal_data


class Command(BaseCommand):
    help = (
        "Print as JSON everything stored about the contact with this email address: "
        "the contact, its visitors, conversations with their messages, consent "
        "records and survey answers. The export is recorded in the audit log."
    )

    def add_arguments(self, parser):
        parser.add_argument("--email", required=True, help="The contact's email address.")

    def handle(self, *args, email, **options):
        contact = personal_data.contacts_by_email(email).first()
        if contact is None:
            raise CommandError(f"No contact with the address {email!r}.")
        data = personal_data.export(contact)
        personal_data.record_export(contact)
        self.stdout.write(personal_data.to_json(data))
