from django.core.management.base import BaseCommand, CommandError

from routing import retention


class Command(BaseCommand):
    help = "Delete usage rows older than --days N (retention). Daily rollups, budgets and usage to date stay."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, required=True)
        parser.add_argument("--batch", type=int, default=retention.BATCH, help="Rows deleted per statement.")

    def handle(self, *args, days, batch, **options):
        if days < 1:
            raise CommandError("--days must be at least 1.")
        if batch < 1:
            raise CommandError("--batch must be at least 1.")
        deleted, cutoff = retention.prune(days, batch)
        self.stdout.write(f"Deleted {deleted} usage rows older than {cutoff:%Y-%m-%d %H:%M} UTC.")
