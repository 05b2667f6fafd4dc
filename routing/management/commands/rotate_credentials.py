"""Re-encrypt every stored provider API key (and the stored alert webhook URL) under the first
PROXY_ENCRYPTION_KEY.

Rotation: put the new Fernet key first in PROXY_ENCRYPTION_KEY and keep the old ones after it
(`NEW,OLD`), restart, run this command, then drop the old keys from the list. Nothing else about a
provider changes; all rows are rewritten in one transaction, or none when any of them cannot be
decrypted with the listed keys.
"""

from cryptography.fernet import InvalidToken
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from routing import credentials
from routing.models import AlertSettings, Provider


class Command(BaseCommand):
    help = "Re-encrypt every provider's API key under the first PROXY_ENCRYPTION_KEY (key rotation, see README)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--check", action="store_true", help="Only check that every stored key decrypts; change nothing."
        )

    def handle(self, *args, check, **options):
        with transaction.atomic():
            providers = list(Provider.objects.select_for_update().exclude(api_key_encrypted="").order_by("name"))
            rotated, unreadable = {}, []
            for provider in providers:
                try:
                    rotated[provider.pk] = credentials.rotate(provider.api_key_encrypted)
                except InvalidToken:
                    unreadable.append(provider.name)
            hook = AlertSettings.objects.select_for_update().exclude(webhook_url_encrypted="").first()
            try:
                hook_token = hook and credentials.rotate(hook.webhook_url_encrypted)
            except InvalidToken:
                unreadable.append("(the alert webhook URL)")
            if unreadable:
                raise CommandError(
                    f"{len(unreadable)} provider key(s) cannot be decrypted with any key in PROXY_ENCRYPTION_KEY: "
                    + ", ".join(unreadable)
                    + ". Add the key they were encrypted with (after the new one) and run again; nothing was changed."
                )
            if check:
                self.stdout.write(f"All {len(providers)} stored provider key(s) decrypt; nothing changed.")
                return
            # update(), not save(): the plaintext, updated_at and the cached snapshots stay as they are.
            for pk, token in rotated.items():
                Provider.objects.filter(pk=pk).update(api_key_encrypted=token)
            if hook_token:
                AlertSettings.objects.filter(pk=hook.pk).update(webhook_url_encrypted=hook_token)
        self.stdout.write(f"Re-encrypted {len(rotated)} provider key(s) under the first PROXY_ENCRYPTION_KEY.")
