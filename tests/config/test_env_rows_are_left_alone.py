"""Rows the environment manages (provider `env` and its routes) are never changed by a file."""

import pytest

from routing.env_sync import sync_env_provider
from routing.models import ModelRoute, Provider
from tests.config.conftest import EXAMPLE, apply, apply_fails, database_state

pytestmark = pytest.mark.django_db


@pytest.fixture
def env_rows(settings):
    settings.OPENAI_API_KEY = "sk-env-secret-7777"
    settings.OPENAI_BASE_URL = "http://env-upstream.test/v1"
    sync_env_provider()
    return lambda: (
        list(Provider.objects.filter(managed_by_env=True).values()),
        list(ModelRoute.objects.filter(managed_by_env=True).values()),
    )


def test_prune_leaves_the_env_provider_and_routes_enabled_and_unchanged(config_file, secrets_env, env_rows):
    before = env_rows()

    output = apply(config_file(EXAMPLE), "--prune")

    assert env_rows() == before
    assert "env" not in output
    assert Provider.objects.get(name="env").enabled


def test_a_file_that_defines_the_env_provider_is_refused(config_file, env_rows):
    before = database_state()

    problems = apply_fails(config_file("providers:\n  - name: env\n    base_url: http://evil.test/v1\n"))

    assert problems == [
        'providers[0].name: "env" is managed by the environment (OPENAI_* variables); leave it out of the file'
    ]
    assert database_state() == before


def test_a_file_that_defines_an_env_route_is_refused(config_file, env_rows):
    text = "routes:\n  - {name: env-sonnet, pattern: '*', targets: [{provider: env, model: gpt-x}]}\n"

    assert apply_fails(config_file(text)) == [
        'routes[0].name: "env-sonnet" is managed by the environment (OPENAI_* variables); leave it out of the file'
    ]


def test_a_file_route_may_target_the_env_provider_and_fall_back_to_an_env_route(config_file, env_rows):
    before = env_rows()
    text = "routes:\n  - {name: mine, pattern: '*mine*', targets: [{provider: env, model: m}], fallbacks: [env-opus]}\n"

    apply(config_file(text), "--prune")

    mine = ModelRoute.objects.get(name="mine")
    assert mine.targets.get().provider.name == "env"
    assert [link.fallback.name for link in mine.fallback_links.all()] == ["env-opus"]
    assert env_rows() == before
