"""`prices`: a file's price is in force from the day it is applied; a price already in force is left as it
is, a changed one is added from today so older usage rows keep their cost, and none is ever deleted."""

from datetime import date
from decimal import Decimal

import pytest
import time_machine

from routing.models import Price, Provider
from routing.prices import load_price_table
from tests.config.conftest import EXAMPLE, apply, database_state

pytestmark = pytest.mark.django_db

PRICES = """
prices:
  - {provider: openai-main, model: gpt-5, input: 1.25, output: 10, cache_read: 0.125}
  - {provider: azure-east, model: gpt-5, input: 2.5, output: 20}
"""
MARCH_1, MARCH_9 = "2026-03-01 10:00:00Z", "2026-03-09 10:00:00Z"


def _rows() -> list[tuple]:
    return list(
        Price.objects.order_by("provider__name", "model", "effective_from").values_list(
            "provider__name", "model", "effective_from", "input", "output", "cache_read", "cache_write"
        )
    )


def test_each_price_is_created_from_the_day_it_is_applied(config_file, secrets_env):
    with time_machine.travel(MARCH_1, tick=False):
        output = apply(config_file(EXAMPLE + PRICES))

    assert "  price openai-main / gpt-5: created" in output.splitlines()
    assert _rows() == [
        ("azure-east", "gpt-5", date(2026, 3, 1), Decimal("2.5"), Decimal("20"), None, None),
        ("openai-main", "gpt-5", date(2026, 3, 1), Decimal("1.25"), Decimal("10"), Decimal("0.125"), None),
    ]


def test_a_rate_left_out_comes_from_the_catalogue(config_file, secrets_env):
    only_input = "prices:\n  - {provider: openai-main, model: gpt-5, input: 3}\n"
    with time_machine.travel(MARCH_1, tick=False):
        apply(config_file(EXAMPLE + only_input))
        rates = load_price_table().rates(Provider.objects.get(name="openai-main").pk, "gpt-5")

    assert Price.objects.get().output is None  # stored empty: the catalogue's, whatever it says later
    assert (rates.input, rates.output, rates.cache_read) == (Decimal(3), Decimal(10), Decimal("0.125"))


def test_a_second_apply_days_later_changes_nothing(config_file, secrets_env):
    path = config_file(EXAMPLE + PRICES)
    with time_machine.travel(MARCH_1, tick=False):
        apply(path)
    before = database_state()

    with time_machine.travel(MARCH_9, tick=False):
        assert apply(path).strip() == "no changes"
        assert apply(path, "--dry-run").strip() == "no changes"

    assert database_state() == before


def test_a_changed_price_is_added_from_today_and_the_old_one_kept_for_older_rows(config_file, secrets_env):
    with time_machine.travel(MARCH_1, tick=False):
        apply(config_file(EXAMPLE + PRICES))

    with time_machine.travel(MARCH_9, tick=False):
        output = apply(config_file(EXAMPLE + PRICES.replace("input: 1.25", "input: 1.5")))

    assert output.splitlines()[1:] == ["  price openai-main / gpt-5: changed (in force from today)"]
    openai = [row[2:4] for row in _rows() if row[0] == "openai-main"]
    assert openai == [(date(2026, 3, 1), Decimal("1.25")), (date(2026, 3, 9), Decimal("1.5"))]


def test_an_admin_price_in_force_with_the_same_rates_is_left_as_it_is(config_file, secrets_env):
    with time_machine.travel(MARCH_1, tick=False):
        apply(config_file(EXAMPLE))
        Price.objects.create(
            provider=Provider.objects.get(name="azure-east"),
            model="gpt-5",
            input=Decimal("2.500000"),
            output=Decimal("20"),
            effective_from=date(2025, 1, 1),
        )

    with time_machine.travel(MARCH_9, tick=False):
        apply(config_file(EXAMPLE + PRICES))

    assert [row[:3] for row in _rows() if row[0] == "azure-east"] == [("azure-east", "gpt-5", date(2025, 1, 1))]


def test_prune_never_deletes_a_price(config_file, secrets_env):
    with time_machine.travel(MARCH_1, tick=False):
        apply(config_file(EXAMPLE + PRICES))
        before = _rows()

        assert apply(config_file(EXAMPLE), "--prune").strip() == "no changes"

    assert _rows() == before
