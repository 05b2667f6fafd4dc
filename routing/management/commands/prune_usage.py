from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from routing.models import UsageLog


class Command(BaseCommand):
    help = "Delete usage rows older than --days N (retention). Daily rollups, budgets and usage to date stay."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, required=True)
        parser.add_argument("--batch", type=int, default=10_000, help="Rows deleted per statement.")

    def handle(self, *args, days, batch, **options):
        if days < 1:
            raise CommandError("--days must be at least 1.")
        cutoff = timezone.now() - timedelta(days=days)
        old = UsageLog.objects.filter(created_at__lt=cutoff).order_by()
        deleted = 0
        while True:
            # One DELETE per batch (no signals reach UsageLog, so Django deletes in bulk, without
            # loading rows), so a huge table is never locked for one long statement.
            count = UsageLog.objects.filter(pk__in=old.values("pk")[:batch]).delete()[0]
            if not count:
                break
            deleted += count
        self.stdout.write(f"Deleted {deleted} usage rows older than {cutoff:%Y-%m-%d %H:%M} UTC.")
