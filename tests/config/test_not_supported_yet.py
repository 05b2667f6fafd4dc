"""Fields a later issue gives meaning to are checked, then refused by path: never silently dropped."""

import pytest

from tests.config.conftest import EXAMPLE, apply_fails, database_state

pytestmark = pytest.mark.django_db

SPEND = "not supported yet (spend in money, issue 14)"


@pytest.mark.parametrize(
    ("addition", "problems"),
    [
        pytest.param(
            "prices:\n  - {provider: openai-main, model: gpt-5, input: 1.25, output: 10}\n",
            [f"prices[0]: {SPEND}"],
            id="prices",
        ),
        pytest.param("alerts:\n  webhook_url: https://hooks.example/x\n", [f"alerts: {SPEND}"], id="alerts"),
    ],
)
def test_a_spend_section_is_refused_until_its_issue_lands(config_file, secrets_env, addition, problems):
    before = database_state()

    assert apply_fails(config_file(EXAMPLE + addition)) == problems
    assert database_state() == before


def test_budgets_and_alert_levels_are_refused_by_path(config_file, secrets_env):
    text = EXAMPLE.replace(
        "  - name: team-red\n", "  - name: team-red\n    budget: {usd: 500}\n    alert_at: [0.5, 1.0]\n"
    ).replace("    staff: true\n", "    staff: true\n    budget: {tokens: 1000000, period: week}\n")

    assert apply_fails(config_file(text)) == [
        f"groups[0].budget: {SPEND}",
        f"groups[0].alert_at: {SPEND}",
        f"users[1].budget: {SPEND}",
    ]


def test_an_alerts_webhook_placeholder_is_still_checked(config_file, secrets_env):
    text = EXAMPLE + "alerts:\n  webhook_url: ${ALERT_WEBHOOK_URL}\n"

    assert apply_fails(config_file(text)) == [
        f"alerts: {SPEND}",
        "alerts.webhook_url: environment variable ALERT_WEBHOOK_URL is not set",
    ]
