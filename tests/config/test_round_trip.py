"""export_config -> apply_config -> export_config is stable, and the export never holds a secret."""

import pytest
import yaml

from routing.models import ModelRoute
from tests.config.conftest import EXAMPLE, SECRETS, apply, database_state, export
from tests.factories import make_provider, make_route, make_user

pytestmark = pytest.mark.django_db


def test_an_exported_setup_applies_as_no_change_and_exports_the_same(config_file, secrets_env, monkeypatch):
    apply(config_file(EXAMPLE))
    first = export()
    monkeypatch.setenv("OPENAI_MAIN_API_KEY", SECRETS["OPENAI_API_KEY"])
    monkeypatch.setenv("AZURE_EAST_API_KEY", SECRETS["AZURE_EAST_KEY"])
    monkeypatch.setenv("AZURE_EAST_X_AUTH_TOKEN", SECRETS["AZURE_EAST_TOKEN"])
    before = database_state()

    assert apply(config_file(first)).strip() == "no changes"

    assert database_state() == before
    assert export() == first


def test_an_admin_made_setup_round_trips_with_its_secrets_as_placeholders(config_file, monkeypatch):
    provider = make_provider(
        name="openrouter", api_key="sk-or-live-secret-9999", extra_headers={"X-Api-Token": "hdr-secret-8888"}
    )
    route = make_route(provider, name="haiku", pattern="*haiku*", target_model="claude-3-haiku")
    route.users.add(make_user(username="carol", email="carol@example.com"))

    exported = export()

    assert "sk-or-live-secret-9999" not in exported and "hdr-secret-8888" not in exported
    data = yaml.safe_load(exported)
    assert data["providers"][0]["api_key"] == "${OPENROUTER_API_KEY}"
    assert data["providers"][0]["extra_headers"] == {"X-Api-Token": "${OPENROUTER_X_API_TOKEN}"}
    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or-live-secret-9999")
    monkeypatch.setenv("OPENROUTER_X_API_TOKEN", "hdr-secret-8888")
    before = database_state()
    assert apply(config_file(exported)).strip() == "no changes"
    assert database_state() == before
    assert export() == exported


def test_the_export_of_the_example_holds_none_of_its_secrets(config_file, secrets_env):
    apply(config_file(EXAMPLE))

    exported = export()

    for secret in SECRETS.values():
        assert secret not in exported
    assert "${OPENAI_MAIN_API_KEY}" in exported and "${AZURE_EAST_X_AUTH_TOKEN}" in exported
    assert "X-Team: red" in exported  # a header that is no credential stays as it is


def test_env_managed_rows_are_left_out_of_the_export(settings):
    from routing.env_sync import sync_env_provider

    settings.OPENAI_API_KEY = "sk-env-secret-7777"
    sync_env_provider()
    assert ModelRoute.objects.filter(managed_by_env=True).exists()

    exported = export()

    assert "env" not in (yaml.safe_load(exported) or {}).get("providers", [])
    assert "sk-env-secret-7777" not in exported and "env-sonnet" not in exported
