"""A spend section with a bad value changes nothing, and each problem is named by its path; the webhook
URL is checked once filled from the environment, without printing it."""

import pytest

from tests.config.conftest import EXAMPLE, apply_fails, database_state

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("addition", "problem"),
    [
        pytest.param(
            "prices:\n  - {provider: openai-main, model: gpt-5, input: -1}\n",
            "prices[0].input: must be a number >= 0",
            id="negative-rate",
        ),
        pytest.param(
            "prices:\n  - {provider: openai-main, model: gpt-5, output: 0.0000001}\n",
            "prices[0].output: at most 6 decimal places",
            id="too-precise-rate",
        ),
        pytest.param(
            "prices:\n  - {provider: openai-main, model: gpt-5, input: 1000000}\n",
            "prices[0].input: must be below 1,000,000",
            id="too-large-rate",
        ),
        pytest.param(
            "prices:\n  - {provider: azure-est, model: gpt-5}\n",
            'prices[0].provider: no provider named "azure-est"',
            id="unknown-provider",
        ),
        pytest.param(
            "prices:\n  - {provider: openai-main, model: gpt-5}\n  - {provider: openai-main, model: gpt-5}\n",
            'prices[1]: "openai-main / gpt-5" is already defined at prices[0]',
            id="twice",
        ),
        pytest.param("alerts:\n  webhook_url: ${NO_SUCH_HOOK}\n", None, id="missing-variable"),
        pytest.param("alerts:\n  webhook_url: ${BAD_HOOK}\n", None, id="not-a-url"),
    ],
)
def test_a_bad_price_or_webhook_is_named_and_changes_nothing(config_file, secrets_env, monkeypatch, addition, problem):
    monkeypatch.setenv("BAD_HOOK", "file:///etc/secret-path")
    expected = {
        "${NO_SUCH_HOOK}": "alerts.webhook_url: environment variable NO_SUCH_HOOK is not set",
        "${BAD_HOOK}": "alerts.webhook_url: must be an http:// or https:// URL",
    }
    problem = problem or next(message for name, message in expected.items() if name in addition)
    before = database_state()

    problems = apply_fails(config_file(EXAMPLE + addition))

    assert problems == [problem]
    assert "secret-path" not in "\n".join(problems)
    assert database_state() == before


def test_bad_budgets_are_named_by_path(config_file, secrets_env):
    text = EXAMPLE.replace("  - name: team-red\n", "  - name: team-red\n    alert_at: [0.5]\n").replace(
        "    staff: true\n", "    staff: true\n    budget: {usd: 1.005, period: year}\n"
    )
    before = database_state()

    assert apply_fails(config_file(text)) == [
        "users[1].budget.period: must be one of 'day', 'week', 'month' or 'total'",
    ]

    assert apply_fails(config_file(text.replace("period: year", "period: week"))) == [
        "groups[0].alert_at: alerts need a budget",
        "users[1].budget.usd: at most 2 decimal places",
    ]
    assert database_state() == before


def test_a_budget_without_a_limit_and_an_alert_level_above_one_are_refused(config_file, secrets_env):
    text = EXAMPLE.replace(
        "  - name: team-red\n", "  - name: team-red\n    budget: {period: day}\n    alert_at: [0.5, 1.5]\n"
    )

    problems = apply_fails(config_file(text))

    assert problems[0].startswith("groups[0].budget: a budget needs usd, tokens or both")
    assert problems[1].startswith("groups[0].alert_at[1]: ")
