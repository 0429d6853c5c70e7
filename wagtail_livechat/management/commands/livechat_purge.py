"""``manage.py livechat_purge [--dry-run]``: apply the retention period (for cron)."""

from django.core.management.base import BaseCommand, CommandError

from ... import retention


class Command(BaseCommand):
    help = (
        "Delete closed conversations (with their messages, survey answers and attachment "
        "files) closed more than WAGTAIL_LIVECHAT_RETENTION_DAYS days ago, visitors left "
        "with no conversation and no contact, and webhook deliveries older than that. "
        "Safe to run from cron: batched, idempotent; prints what it removed. Does nothing "
        "while the setting is None."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run", action="store_true", help="Count what would go; delete nothing."
        )
        parser.add_argument(
            "--days",
            type=int,
            help="Override WAGTAIL_LIVECHAT_RETENTION_DAYS for this run.",
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=retention.BATCH_SIZE,
            help="Conversations deleted per transaction (default: %(default)s).",
        )

    def handle(self, *args, dry_run, days, batch_size, **options):
        try:
            counts = retention.purge(days=days, batch_size=batch_size, dry_run=dry_run)
        except ValueError as error:
            raise CommandError(str(error)) from None
        if counts is None:
            self.stdout.write(
                "Retention is off (WAGTAIL_LIVECHAT_RETENTION_DAYS is None): nothing purged."
            )
            return
        verb = "Would remove" if dry_run else "Removed"
        self.stdout.write(
            f"{verb}: " + ", ".join(f"{count} {name}" for name, count in counts.items())
        )
