from datetime import date

from django.core.management.base import BaseCommand, CommandError

from api.admission.counters import store
from routing import rollups


class Command(BaseCommand):
    """Then the budget counters in the shared store are dropped: each is loaded again from the rebuilt
    rollups at its next request, so imported history counts toward budgets at once. A request in flight
    meanwhile settles onto the reloaded counter without its reservation: it may count up to that
    reservation short, until the counter's period ends."""

    help = "Recompute the daily usage rollups from the usage log (after an import), and the budget counters."

    def add_arguments(self, parser):
        parser.add_argument("--since", help="First local day (YYYY-MM-DD) to recompute; default: all of them.")

    def handle(self, *args, since, **options):
        try:
            first = date.fromisoformat(since) if since else None
        except ValueError as exc:
            raise CommandError(f"--since: expected a date YYYY-MM-DD ({exc}).") from exc
        written = rollups.rebuild(first)
        store().drop_budgets()
        self.stdout.write(f"Wrote {written} rollup rows{f' from {first}' if first else ''}; budget counters reloaded.")
