"""The classic OPENAI_* / *_MODEL environment becomes provider `env` and four routes."""

import pytest

from routing.env_sync import sync_env_provider
from routing.models import ModelRoute, Provider
from tests.factories import make_provider, make_route

pytestmark = pytest.mark.django_db


def _env_routes():
    return {r.pattern: r.targets.get().model for r in ModelRoute.objects.filter(managed_by_env=True)}


def test_nothing_is_created_without_openai_settings(settings):
    settings.OPENAI_API_KEY, settings.OPENAI_BASE_URL = "", ""
    assert sync_env_provider() is None
    assert not Provider.objects.exists()


def test_it_creates_the_env_provider_and_its_four_routes(settings):
    settings.OPENAI_API_KEY, settings.OPENAI_BASE_URL = "sk-env-key-123456", ""
    settings.BIG_MODEL, settings.MIDDLE_MODEL, settings.SMALL_MODEL = "gpt-big", "gpt-mid", "gpt-small"
    settings.REQUEST_TIMEOUT = 42.0
    provider = sync_env_provider()
    assert provider.name == "env" and provider.managed_by_env
    assert provider.base_url == "https://api.openai.com/v1"
    assert provider.api_key == "sk-env-key-123456"
    assert provider.read_timeout == 42.0
    assert provider.profile == "openai"
    assert _env_routes() == {"*haiku*": "gpt-small", "*sonnet*": "gpt-mid", "*opus*": "gpt-big", "*": "gpt-big"}


def test_a_later_start_updates_env_rows_and_leaves_admin_rows_alone(settings):
    settings.OPENAI_API_KEY, settings.OPENAI_BASE_URL = "sk-one", "http://localhost:11434/v1"
    sync_env_provider()
    admin_provider = make_provider(name="team")
    admin_route = make_route(admin_provider, pattern="*opus*", target_model="team-model", priority=5)
    env_route_ids = set(ModelRoute.objects.filter(managed_by_env=True).values_list("id", flat=True))

    settings.OPENAI_API_KEY, settings.OPENAI_BASE_URL = "sk-two", "http://vllm.local:8000/v1"
    settings.BIG_MODEL = "qwen-big"
    provider = sync_env_provider()

    assert Provider.objects.filter(name="env").count() == 1
    assert provider.api_key == "sk-two" and provider.base_url == "http://vllm.local:8000/v1"
    assert _env_routes()["*opus*"] == "qwen-big"
    assert set(ModelRoute.objects.filter(managed_by_env=True).values_list("id", flat=True)) == env_route_ids
    admin_route.refresh_from_db()
    assert (admin_route.targets.get().model, admin_route.priority, admin_route.managed_by_env) == (
        "team-model",
        5,
        False,
    )


def test_the_profile_is_guessed_from_the_url(settings):
    settings.OPENAI_API_KEY, settings.OPENAI_BASE_URL, settings.OPENAI_PROFILE = "", "http://127.0.0.1:11434/v1", ""
    assert sync_env_provider().profile == "ollama"
    settings.OPENAI_PROFILE = "vllm"
    assert sync_env_provider().profile == "vllm"
