"""`manage.py rotate_credentials`: rotating PROXY_ENCRYPTION_KEY without losing a provider's API key."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.core.management import CommandError, call_command

from routing.models import Provider
from tests.factories import make_provider

pytestmark = pytest.mark.django_db

OLD, NEW, OTHER = (Fernet.generate_key().decode() for _ in range(3))


def stored(name: str) -> Provider:
    return Provider.objects.get(name=name)


@pytest.fixture
def providers(settings):
    """Two providers with keys encrypted under OLD, and one without a key."""
    settings.PROXY_ENCRYPTION_KEY = OLD
    make_provider(name="openai-main", api_key="sk-main-0000000000001111")
    make_provider(name="deepseek", api_key="sk-deep-0000000000002222")
    make_provider(name="ollama", api_key="")
    return {p.name: p for p in Provider.objects.all()}


def test_rotation_re_encrypts_every_key_under_the_new_key_and_keeps_the_plaintext(settings, providers, capsys):
    settings.PROXY_ENCRYPTION_KEY = f"{NEW},{OLD}"  # the new key first, the old one still readable

    call_command("rotate_credentials")

    assert "Re-encrypted 2 provider key(s)" in capsys.readouterr().out
    for name, plain in (("openai-main", "sk-main-0000000000001111"), ("deepseek", "sk-deep-0000000000002222")):
        token = stored(name).api_key_encrypted
        assert token != providers[name].api_key_encrypted
        assert Fernet(NEW).decrypt(token.encode()).decode() == plain
        with pytest.raises(InvalidToken):
            Fernet(OLD).decrypt(token.encode())
        assert stored(name).updated_at == providers[name].updated_at  # nothing else about it changed
    assert stored("ollama").api_key_encrypted == ""

    settings.PROXY_ENCRYPTION_KEY = NEW  # the old key can now be dropped
    assert stored("openai-main").api_key == "sk-main-0000000000001111"
    assert stored("deepseek").masked_key == "sk-...2222"


def test_running_it_again_is_harmless(settings, providers):
    settings.PROXY_ENCRYPTION_KEY = f"{NEW},{OLD}"
    call_command("rotate_credentials")
    call_command("rotate_credentials")
    settings.PROXY_ENCRYPTION_KEY = NEW
    assert stored("openai-main").api_key == "sk-main-0000000000001111"


def test_a_key_no_listed_key_decrypts_stops_it_and_changes_nothing(settings, providers):
    settings.PROXY_ENCRYPTION_KEY = OTHER
    make_provider(name="stranger", api_key="sk-other-0000000000003333")
    settings.PROXY_ENCRYPTION_KEY = f"{NEW},{OLD}"  # OTHER is missing from the list
    before = {p.name: p.api_key_encrypted for p in Provider.objects.all()}

    with pytest.raises(CommandError, match=r"1 provider key\(s\) cannot be decrypted .*: stranger\."):
        call_command("rotate_credentials")

    assert {p.name: p.api_key_encrypted for p in Provider.objects.all()} == before


def test_check_only_reports(settings, providers, capsys):
    settings.PROXY_ENCRYPTION_KEY = f"{NEW},{OLD}"
    before = {p.name: p.api_key_encrypted for p in Provider.objects.all()}

    call_command("rotate_credentials", "--check")

    assert "All 2 stored provider key(s) decrypt; nothing changed." in capsys.readouterr().out
    assert {p.name: p.api_key_encrypted for p in Provider.objects.all()} == before
