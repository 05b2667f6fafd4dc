"""`routes[].when` becomes the route's conditions, round-trips, and is checked as the admin checks it."""

import pytest

from routing.models import ModelRoute
from tests.config.conftest import EXAMPLE, SECRETS, apply, apply_fails, database_state, export

pytestmark = pytest.mark.django_db

WHEN = "    when: {min_input_tokens: 60000, thinking: true, header: {anthropic-beta: '*context-1m*'}}\n"


def with_when(when: str) -> str:
    return EXAMPLE.replace("    strategy: ordered\n", "    strategy: ordered\n" + when)


def test_when_is_stored_as_the_routes_conditions_and_exported_back(config_file, secrets_env, monkeypatch):
    apply(config_file(with_when(WHEN)))
    monkeypatch.setenv("OPENAI_MAIN_API_KEY", SECRETS["OPENAI_API_KEY"])
    monkeypatch.setenv("AZURE_EAST_API_KEY", SECRETS["AZURE_EAST_KEY"])
    monkeypatch.setenv("AZURE_EAST_X_AUTH_TOKEN", SECRETS["AZURE_EAST_TOKEN"])

    route = ModelRoute.objects.get(conditions__has_key="min_input_tokens")
    assert route.conditions == {
        "min_input_tokens": 60000,
        "thinking": True,
        "header": {"anthropic-beta": "*context-1m*"},
    }
    exported = export()
    assert "min_input_tokens: 60000" in exported
    assert apply(config_file(exported)).strip() == "no changes"


def test_a_condition_the_admin_would_refuse_is_refused_by_path(config_file, secrets_env):
    before = database_state()

    problems = apply_fails(config_file(with_when("    when: {header: {'bad header': '*'}}\n")))

    assert len(problems) == 1 and problems[0].startswith("routes[1].when: header")
    assert database_state() == before
