from datetime import date

from django.core.management.base import BaseCommand, CommandError

from routing import rollups


class Command(BaseCommand):
    """Budget counters already in the shared store keep their value until their period ends (a total
    budget's: a day); counters seeded later read the rebuilt rollups."""

    help = "Recompute the daily usage rollups from the usage log (after an import)."

    def add_arguments(self, parser):
        parser.add_argument("--since", help="First local day (YYYY-MM-DD) to recompute; default: all of them.")

    def handle(self, *args, since, **options):
        try:
            first = date.fromisoformat(since) if since else None
        except ValueError as exc:
            raise CommandError(f"--since: expected a date YYYY-MM-DD ({exc}).") from exc
        written = rollups.rebuild(first)
        self.stdout.write(f"Wrote {written} rollup rows{f' from {first}' if first else ''}.")
