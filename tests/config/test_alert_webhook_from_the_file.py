"""`alerts.webhook_url`: stored encrypted from the file's `${VAR}`, never exported, and where alerts go
(before ALERT_WEBHOOK_URL, which stays the fallback when nothing is stored)."""

from datetime import UTC, datetime

import pytest
import time_machine

from api.accounting.alerts import Crossing, deliver
from routing.budget_info import BudgetInfo
from routing.models import AlertSettings
from routing.periods import period_of
from tests.config.conftest import apply, database_state, export
from tests.fakes.webhook_receiver import webhook_receiver

pytestmark = pytest.mark.django_db

ALERTS = "alerts:\n  webhook_url: ${TEAM_HOOK}\n"
HOOK = "https://hooks.example.test/services/T000/B000/secret-hook-token"


def _crossing() -> Crossing:
    with time_machine.travel(datetime(2027, 3, 10, tzinfo=UTC), tick=False):
        period = period_of("month")
    budget = BudgetInfo("team", 7, "team-red", "month", 5_000_000, None, (0.5,))
    return Crossing(budget, period, 0.5, 3_000_000, 5_000_000, money=True)


def test_the_webhook_is_stored_encrypted_and_a_second_apply_changes_nothing(config_file, monkeypatch):
    monkeypatch.setenv("TEAM_HOOK", HOOK)
    path = config_file(ALERTS)

    assert apply(path).splitlines()[1:] == ["  alerts webhook_url: changed"]
    assert AlertSettings.current().webhook_url == HOOK
    assert "secret-hook-token" not in str(database_state()["alert_settings"])
    before = database_state()
    assert apply(path).strip() == "no changes"
    assert database_state() == before


def test_the_export_names_the_webhook_by_placeholder_and_never_prints_it(config_file, monkeypatch):
    monkeypatch.setenv("TEAM_HOOK", HOOK)
    apply(config_file(ALERTS))

    exported = export()

    assert "secret-hook-token" not in exported and "hooks.example.test" not in exported
    assert "alerts:\n  webhook_url: ${ALERT_WEBHOOK_URL}\n" in exported


def test_alerts_go_to_the_stored_webhook_rather_than_the_setting(config_file, monkeypatch, settings):
    with webhook_receiver() as from_file, webhook_receiver() as from_setting:
        settings.ALERT_WEBHOOK_URL = from_setting.url
        monkeypatch.setenv("TEAM_HOOK", from_file.url)
        apply(config_file(ALERTS))

        assert deliver(_crossing())

    assert [alert["owner"] for alert in from_file.received] == ["team-red"]
    assert from_setting.received == []


def test_without_a_stored_webhook_alerts_go_to_the_setting(settings):
    with webhook_receiver() as from_setting:
        settings.ALERT_WEBHOOK_URL = from_setting.url

        assert deliver(_crossing())

    assert [alert["threshold"] for alert in from_setting.received] == [0.5]


def test_a_file_without_alerts_leaves_the_stored_webhook_alone(config_file, monkeypatch):
    monkeypatch.setenv("TEAM_HOOK", HOOK)
    apply(config_file(ALERTS))

    assert apply(config_file("groups:\n  - name: team-red\n")).splitlines()[1:] == ["  group team-red: created"]
    assert AlertSettings.current().webhook_url == HOOK


def test_a_placeholder_set_to_nothing_removes_the_stored_webhook(config_file, monkeypatch):
    monkeypatch.setenv("TEAM_HOOK", HOOK)
    apply(config_file(ALERTS))
    monkeypatch.setenv("TEAM_HOOK", "")

    assert apply(config_file(ALERTS)).splitlines()[1:] == ["  alerts webhook_url: changed"]
    assert AlertSettings.current().webhook_url == ""
    assert "alerts" not in export()  # nothing stored: nothing to export
