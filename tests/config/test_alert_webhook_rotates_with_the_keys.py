"""`rotate_credentials` re-encrypts the stored alert webhook URL with the provider keys, so dropping the
old PROXY_ENCRYPTION_KEY afterwards loses neither."""

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command

from routing.models import AlertSettings

pytestmark = pytest.mark.django_db

OLD, NEW = (Fernet.generate_key().decode() for _ in range(2))
HOOK = "https://hooks.example.test/services/secret-hook-token"


def test_the_webhook_url_reads_under_the_new_key_alone_after_rotation(settings):
    settings.PROXY_ENCRYPTION_KEY = OLD
    row = AlertSettings.current()
    row.webhook_url = HOOK
    row.save()

    settings.PROXY_ENCRYPTION_KEY = f"{NEW},{OLD}"
    call_command("rotate_credentials")
    settings.PROXY_ENCRYPTION_KEY = NEW

    assert AlertSettings.current().webhook_url == HOOK
