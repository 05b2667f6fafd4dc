"""Prices, budgets and alerts survive export -> apply -> export unchanged, from a file or from the admin;
the export holds the price in force today of each model, not the older ones nor the webhook URL."""

from datetime import date
from decimal import Decimal

import pytest
import time_machine
import yaml

from routing.models import AlertSettings, Price, TeamBudget, UserBudget
from tests.config.conftest import EXAMPLE, SECRETS, apply, database_state, export
from tests.factories import make_provider, make_user

pytestmark = pytest.mark.django_db

SPEND = EXAMPLE.replace(
    "  - name: team-red\n", "  - name: team-red\n    budget: {usd: 500}\n    alert_at: [0.5, 1.0]\n"
).replace("    staff: true\n", "    staff: true\n    budget: {tokens: 2000000, period: total}\n") + (
    "prices:\n  - {provider: openai-main, model: gpt-5, input: 1.25, output: 10}\n"
    "alerts:\n  webhook_url: ${TEAM_HOOK}\n"
)
HOOK = "https://hooks.example.test/services/secret-hook-token"


def _placeholders(monkeypatch) -> None:
    monkeypatch.setenv("OPENAI_MAIN_API_KEY", SECRETS["OPENAI_API_KEY"])
    monkeypatch.setenv("AZURE_EAST_API_KEY", SECRETS["AZURE_EAST_KEY"])
    monkeypatch.setenv("AZURE_EAST_X_AUTH_TOKEN", SECRETS["AZURE_EAST_TOKEN"])
    monkeypatch.setenv("ALERT_WEBHOOK_URL", HOOK)


@time_machine.travel("2026-03-01 10:00:00Z", tick=False)
def test_a_file_with_spend_sections_round_trips(config_file, secrets_env, monkeypatch):
    monkeypatch.setenv("TEAM_HOOK", HOOK)
    apply(config_file(SPEND))
    first = export()
    _placeholders(monkeypatch)
    before = database_state()

    assert apply(config_file(first)).strip() == "no changes"

    assert database_state() == before
    assert export() == first
    data = yaml.safe_load(first)
    assert data["prices"] == [{"provider": "openai-main", "model": "gpt-5", "input": 1.25, "output": 10}]
    assert data["groups"] == [{"name": "team-red", "budget": {"usd": 500, "period": "month"}, "alert_at": [0.5, 1.0]}]
    assert data["users"][1]["budget"] == {"tokens": 2000000, "period": "total"}
    assert data["alerts"] == {"webhook_url": "${ALERT_WEBHOOK_URL}"} and "secret-hook-token" not in first


@time_machine.travel("2026-03-09 10:00:00Z", tick=False)
def test_an_admin_made_spend_setup_exports_the_price_in_force_and_round_trips(config_file, monkeypatch):
    provider = make_provider(name="openrouter", api_key="sk-or-1")
    for day, rate in ((date(2026, 1, 1), "0.333333"), (date(2026, 3, 1), "0.123456"), (date(2026, 4, 1), "9")):
        Price.objects.create(provider=provider, model="m", input=Decimal(rate), effective_from=day)
    TeamBudget.objects.create(group=make_user(username="dan").groups.create(name="blue"), usd=Decimal("99.99"))
    UserBudget.objects.create(user=make_user(username="erin"), tokens=10, period="day", alert_at=[0.25])
    settings_row = AlertSettings.current()
    settings_row.webhook_url = HOOK
    settings_row.save()

    exported = export()

    assert yaml.safe_load(exported)["prices"] == [{"provider": "openrouter", "model": "m", "input": 0.123456}]
    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or-1")
    _placeholders(monkeypatch)
    before = database_state()
    assert apply(config_file(exported)).strip() == "no changes"
    assert database_state() == before
    assert export() == exported
