from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from routing.models import UsageLog


class Command(BaseCommand):
    help = "Delete usage rows older than --days N (retention)."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, required=True)
        parser.add_argument("--batch", type=int, default=10_000, help="Rows deleted per statement.")

    def handle(self, *args, days, batch, **options):
        if days < 1:
            raise CommandError("--days must be at least 1.")
        cutoff = timezone.now() - timedelta(days=days)
        deleted = 0
        while True:  # in batches, so a huge table is never locked for one long statement
            ids = list(UsageLog.objects.filter(created_at__lt=cutoff).values_list("id", flat=True)[:batch])
            if not ids:
                break
            deleted += UsageLog.objects.filter(id__in=ids).delete()[0]
        self.stdout.write(f"Deleted {deleted} usage rows older than {cutoff:%Y-%m-%d %H:%M} UTC.")
