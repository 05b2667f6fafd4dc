from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from knox.models import AuthToken

MAX_DAYS = 3650


class Command(BaseCommand):
    help = (
        "Make a management API token for USERNAME that expires after --expires-days days. The token is "
        "printed alone on stdout, once: only its SHA-512 digest is stored."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--expires-days", type=int, default=30, help=f"1 to {MAX_DAYS} (default 30).")

    def handle(self, *args, username, expires_days, **options):
        if not 1 <= expires_days <= MAX_DAYS:
            raise CommandError(f"--expires-days must be from 1 to {MAX_DAYS}.")
        user = get_user_model().objects.filter(username=username, is_active=True).first()
        if user is None:
            raise CommandError(f"No active user named {username!r}.")
        row, token = AuthToken.objects.create(user, expiry=timedelta(days=expires_days))
        self.stderr.write(
            f"Token {row.token_key}… for {username}, valid until {row.expiry:%Y-%m-%d %H:%M} UTC. "
            "It is shown once; store it now. Revoke it with: manage.py revoke_api_tokens "
            f"{username} --key {row.token_key}"
        )
        self.stdout.write(token)
