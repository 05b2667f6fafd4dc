from django.core.management.base import BaseCommand
from django.utils import timezone

from routing.models import ProxyKey


class Command(BaseCommand):
    help = "List proxy keys (prefixes only; secrets are never stored)."

    def handle(self, *args, **options):
        now = timezone.now()
        for key in ProxyKey.objects.select_related("user").order_by("user__username", "created_at"):
            if key.revoked_at:
                state = "revoked"
            elif key.expires_at and key.expires_at <= now:
                state = "expired"
            else:
                state = "active"
            used = key.last_used_at.isoformat(timespec="seconds") if key.last_used_at else "never"
            self.stdout.write(f"{key.prefix}…\t{key.user.get_username()}\t{key.name or '-'}\t{state}\tlast used {used}")
