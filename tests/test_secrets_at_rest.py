"""Secrets at rest: proxy keys are stored hashed, provider keys encrypted, and neither is shown back."""

import pytest
from django.core.management import call_command
from django.db import connection

from routing.models import Provider, ProxyKey
from tests.factories import make_key, make_provider, make_user

pytestmark = pytest.mark.django_db


def _dump_database() -> str:
    """Every row of every table as text: a secret must appear nowhere in it."""
    rows = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f'SELECT * FROM "{table}"')
            rows.extend(repr(r) for r in cursor.fetchall())
    return "\n".join(rows)


def test_an_issued_keys_secret_is_not_in_the_database():
    key, secret = make_key()
    dump = _dump_database()
    assert secret not in dump
    assert secret[len(key.prefix) :] not in dump
    assert ProxyKey.objects.get(pk=key.pk).secret_hash in dump


def test_a_provider_key_is_stored_encrypted_and_decrypts_back():
    provider = make_provider(api_key="sk-live-abcdefghijklmnop-9876")
    stored = Provider.objects.get(pk=provider.pk)
    assert "sk-live-abcdefghijklmnop-9876" not in _dump_database()
    assert stored.api_key_encrypted.startswith("gAAAA")  # a Fernet token
    assert stored.api_key == "sk-live-abcdefghijklmnop-9876"
    assert stored.masked_key == "sk-...9876"


def test_issue_key_prints_the_key_alone_on_its_last_line(capsys):
    call_command("issue_key", "bob", "--name", "laptop", "--models", "*haiku*,*sonnet*", "--rpm", "10")
    out = capsys.readouterr().out.strip().splitlines()
    secret = out[-1]
    assert secret.startswith("sk-proxy-") and len(secret) >= len("sk-proxy-") + 32
    key = ProxyKey.objects.get(user__username="bob")
    assert key.name == "laptop" and key.rpm_limit == 10 and key.model_patterns() == ["*haiku*", "*sonnet*"]
    assert secret not in _dump_database()


def test_revoke_key_by_prefix_marks_the_key_revoked(capsys):
    key, _ = make_key(make_user(username="carol"))
    call_command("revoke_key", key.prefix)
    key.refresh_from_db()
    assert key.revoked_at is not None
    call_command("list_keys")
    assert f"{key.prefix}…\tcarol\t-\trevoked" in capsys.readouterr().out
