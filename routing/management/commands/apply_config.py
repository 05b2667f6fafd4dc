from django.core.management.base import BaseCommand, CommandError
from django.db import IntegrityError

from routing.config.apply import apply_config
from routing.config.errors import ConfigError
from routing.config.load import read_file


class Command(BaseCommand):
    help = (
        "Apply a gateway config file (YAML or JSON, see docs/config.md): create or update the providers, "
        "routes, groups and users it names, in one transaction. A file with any problem changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="the config file (YAML or JSON)")
        parser.add_argument("--dry-run", action="store_true", help="print what would change, change nothing")
        parser.add_argument(
            "--prune", action="store_true", help="also disable providers and routes the file does not name"
        )

    def handle(self, *args, **options):
        try:
            lines = apply_config(read_file(options["file"]), prune=options["prune"], dry_run=options["dry_run"])
        except ConfigError as exc:
            for problem in exc.problems:
                self.stderr.write(problem)
            raise CommandError(f"{options['file']}: {len(exc.problems)} problem(s), nothing was changed") from None
        except IntegrityError:  # a row of the same name saved meanwhile, in the admin or by another apply
            raise CommandError("another change was saved at the same time; nothing was changed, apply again") from None
        if not lines:
            self.stdout.write("no changes")
            return
        self.stdout.write("would change (dry run, nothing was changed):" if options["dry_run"] else "changed:")
        for line in lines:
            self.stdout.write(f"  {line}")
