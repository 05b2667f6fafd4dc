"""--prune disables the providers and routes the file does not name; users and groups are never pruned."""

import pytest
from django.contrib.auth import get_user_model

from routing.models import ModelRoute, Provider
from tests.config.conftest import EXAMPLE, apply, apply_fails, database_state
from tests.factories import make_provider, make_route, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_made():
    """A provider, a route and a user made in the admin, which the example file does not name."""
    provider = make_provider(name="old-account")
    route = make_route(provider, name="old-route", pattern="*old*")
    return provider, route, make_user(username="dora")


def test_without_prune_what_the_file_does_not_name_is_left_alone(config_file, secrets_env, admin_made):
    apply(config_file(EXAMPLE))

    assert Provider.objects.get(name="old-account").enabled
    assert ModelRoute.objects.get(name="old-route").enabled


def test_prune_disables_unnamed_providers_and_routes_and_keeps_their_rows(config_file, secrets_env, admin_made):
    output = apply(config_file(EXAMPLE), "--prune")

    assert "  provider old-account: disabled (not in the file)" in output.splitlines()
    assert "  route old-route: disabled (not in the file)" in output.splitlines()
    assert not Provider.objects.get(name="old-account").enabled
    old = ModelRoute.objects.get(name="old-route")
    assert not old.enabled and old.targets.get().provider.name == "old-account"
    assert get_user_model().objects.filter(username="dora").exists()
    assert Provider.objects.get(name="openai-main").enabled


def test_a_second_prune_changes_nothing(config_file, secrets_env, admin_made):
    path = config_file(EXAMPLE)
    apply(path, "--prune")
    before = database_state()

    assert apply(path, "--prune").strip() == "no changes"
    assert database_state() == before


def test_prune_refuses_a_file_whose_route_targets_a_provider_it_would_disable(config_file, secrets_env, admin_made):
    text = EXAMPLE.replace("{provider: openai-main, model: gpt-5-mini}", "{provider: old-account, model: gpt-5-mini}")
    before = database_state()

    problems = apply_fails(config_file(text), "--prune")

    assert problems == ['routes[1].targets[0].provider: "old-account" is not in the file, so --prune would disable it']
    assert database_state() == before
    apply(config_file(text))  # without --prune the same file is fine: the provider stays as it is
    assert ModelRoute.objects.get(name="everything").targets.get().provider.name == "old-account"


def test_prune_refuses_a_fallback_to_a_route_it_would_disable(config_file, secrets_env, admin_made):
    text = EXAMPLE.replace("fallbacks: [everything]", "fallbacks: [old-route]")

    assert apply_fails(config_file(text), "--prune") == [
        'routes[0].fallbacks[0]: "old-route" is not in the file, so --prune would disable it'
    ]
