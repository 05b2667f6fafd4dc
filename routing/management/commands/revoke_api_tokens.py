from django.core.management.base import BaseCommand, CommandError
from knox.models import AuthToken


class Command(BaseCommand):
    help = "Revoke (delete) the management API tokens of USERNAME: all of them, or the one named by --key."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--key", default="", help="The token's first characters, as create_api_token shows.")

    def handle(self, *args, username, key, **options):
        tokens = AuthToken.objects.filter(user__username=username)
        if key:
            tokens = tokens.filter(token_key=key.rstrip("…."))
        deleted, _ = tokens.delete()
        if not deleted:
            raise CommandError(f"No token of {username!r} matched.")
        self.stdout.write(f"Revoked {deleted} token(s) of {username}.")
