"""Applying a file creates the providers, routes, groups and users it names, as it names them."""

import pytest
from django.contrib.auth import get_user_model

from routing.models import ModelRoute, Provider
from tests.config.conftest import EXAMPLE, apply

pytestmark = pytest.mark.django_db


def test_it_creates_providers_with_their_keys_limits_and_headers(config_file, secrets_env):
    output = apply(config_file(EXAMPLE))

    assert "provider openai-main: created" in output and "provider azure-east: created" in output
    main = Provider.objects.get(name="openai-main")
    assert (main.kind, main.base_url, main.api_key, main.profile) == (
        "openai",
        "https://api.openai.com/v1",
        "sk-openai-main-secret-0001",
        "openai",  # guessed from the base URL, as the env sync does
    )
    assert (main.rpm_limit, main.tpm_limit, main.max_output_tokens) == (500, 2000000, 32000)
    assert (main.connect_timeout, main.read_timeout, main.first_byte_timeout, main.max_retries) == (5, 60, 30, 2)
    east = Provider.objects.get(name="azure-east")
    assert east.extra_headers == {"X-Team": "red", "X-Auth-Token": "tok-east-secret-0003"}
    assert (east.profile, east.api_version, east.allow_direct, east.rpm_limit) == ("azure", "2024-10-21", True, None)
    assert "sk-openai-main-secret-0001" not in output


def test_it_creates_routes_with_targets_in_file_order_scope_and_fallbacks(config_file, secrets_env):
    apply(config_file(EXAMPLE))

    sonnet = ModelRoute.objects.get(name="sonnet")
    assert (sonnet.pattern, sonnet.priority, sonnet.strategy, sonnet.max_tokens_cap) == (
        "*sonnet*",
        10,
        "least_busy",
        16000,
    )
    assert [(t.provider.name, t.model, t.weight, t.position) for t in sonnet.targets.all()] == [
        ("openai-main", "gpt-5", 3, 0),
        ("azure-east", "gpt-5", 1, 1),
    ]
    assert [link.fallback.name for link in sonnet.fallback_links.all()] == ["everything"]
    assert [u.username for u in sonnet.users.all()] == ["alice"]
    assert [g.name for g in sonnet.groups.all()] == ["team-red"]
    everything = ModelRoute.objects.get(name="everything")
    assert (everything.priority, everything.strategy, everything.enabled) == (100, "ordered", True)


def test_it_creates_users_without_a_password_in_their_groups(config_file, secrets_env):
    apply(config_file(EXAMPLE))

    alice = get_user_model().objects.get(username="alice")
    assert (alice.email, alice.is_staff, alice.is_superuser) == ("alice@example.com", False, False)
    assert [g.name for g in alice.groups.all()] == ["team-red"]
    assert not alice.has_usable_password()
    assert get_user_model().objects.get(username="bob").is_staff


def test_a_json_file_is_applied_like_yaml(config_file, secrets_env):
    path = config_file(
        '{"providers": [{"name": "p1", "base_url": "http://llm.test/v1", "kind": "anthropic"}],'
        ' "routes": [{"name": "r1", "pattern": "*", "targets": [{"provider": "p1", "model": "m"}]}]}',
        suffix=".json",
    )

    apply(path)

    assert Provider.objects.get(name="p1").kind == "anthropic"
    assert ModelRoute.objects.get(name="r1").targets.get().model == "m"
