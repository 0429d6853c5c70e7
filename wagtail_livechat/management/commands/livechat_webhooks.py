"""``manage.py livechat_webhooks --retry``: attempt again the deliveries
whose retry is due (a process that died took its retry timers with it)."""

from django.core.management.base import BaseCommand
from django.db.models import Q
from django.utils import timezone

from ...models import WebhookDelivery
from ...webhooks import attempt_delivery


class Command(BaseCommand):
    help = (
        "Attempt again, now, every pending webhook delivery whose next attempt is due "
        "(or that was never attempted); safe to run from cron."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--retry", action="store_true", help="Attempt the due deliveries (else: list them)."
        )

    def handle(self, *args, retry=False, **options):
        due = WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING).filter(
            Q(next_attempt_at__lte=timezone.now()) | Q(attempts=0)
        )
        pks = list(due.order_by("pk").values_list("pk", flat=True))
        if not retry:
            self.stdout.write(f"{len(pks)} deliveries due")
            return
        results = [attempt_delivery.call(pk) for pk in pks]
        self.stdout.write(
            f"{len(pks)} attempted: {results.count('succeeded')} succeeded, "
            f"{results.count('failed')} failed, {results.count('pending')} to retry"
        )
