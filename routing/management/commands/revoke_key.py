from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from routing.models import ProxyKey


class Command(BaseCommand):
    help = "Revoke the key whose displayed prefix starts with PREFIX."

    def add_arguments(self, parser):
        parser.add_argument("prefix")

    def handle(self, *args, prefix, **options):
        prefix = prefix.rstrip("….")
        active = ProxyKey.objects.filter(revoked_at__isnull=True).select_related("user")
        # The displayed prefix, a shorter start of it, or the whole key all name the key.
        matches = [k for k in active if k.prefix.startswith(prefix) or prefix.startswith(k.prefix)]
        if not matches:
            raise CommandError(f"No active key matches {prefix!r}.")
        if len(matches) > 1:
            raise CommandError(f"{len(matches)} keys match {prefix!r}; give more characters.")
        key = matches[0]
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
        self.stdout.write(f"Revoked {key.prefix}… ({key.user}).")
