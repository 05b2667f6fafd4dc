from django.core.management.base import BaseCommand

from routing.env_sync import sync_env_provider


class Command(BaseCommand):
    help = "Create or update provider 'env' and its routes from OPENAI_* and *_MODEL variables."

    def handle(self, *args, **options):
        provider = sync_env_provider()
        if provider is None:
            self.stdout.write("No OPENAI_API_KEY or OPENAI_BASE_URL set: nothing to sync.")
        else:
            self.stdout.write(f"Provider 'env' -> {provider.base_url} (profile {provider.profile}) synced.")
