from django.core.management.base import BaseCommand

from routing.config.export import export_config


class Command(BaseCommand):
    help = "Print the current setup as a config file (YAML) for apply_config; secrets as ${NAME} placeholders."

    def handle(self, *args, **options):
        self.stdout.write(export_config(), ending="")
