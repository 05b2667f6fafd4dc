"""Retention deletes raw rows in bulk (one statement per batch, no rows loaded) and leaves what is
computed from rollups as it was: budgets, the key's usage to date, the summaries."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core.management import call_command

from routing import usage_stats
from routing.models import UsageLog
from routing.periods import period_of
from routing.spend_stats import used_in_period
from tests.factories import make_key, make_usage
from tests.rollups.sums import rollup_table

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 3, 20, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def history():
    key, _ = make_key(budget_tokens=10_000, budget_period="total")
    with time_machine.travel(NOW, tick=False):
        for n in range(60):
            make_usage(
                request_id=f"req_{n}",
                key=key,
                user=key.user,
                created_at=NOW - dt.timedelta(days=n % 40, minutes=n),
                input_tokens=10,
                output_tokens=n,
            )
        yield key


def test_pruning_leaves_budgets_usage_to_date_and_rollups_unchanged(history):
    key = history
    before = (rollup_table(), used_in_period("key", key.id, period_of("total"), False), usage_stats.key_usage(key))
    assert before[1] == 60 * 10 + sum(range(60)) == before[2].tokens_to_date

    call_command("prune_usage", "--days", "7")

    assert not UsageLog.objects.filter(created_at__lt=NOW - dt.timedelta(days=7)).exists()
    assert UsageLog.objects.count() < 60
    after = (rollup_table(), used_in_period("key", key.id, period_of("total"), False), usage_stats.key_usage(key))
    assert after == before


def test_pruning_deletes_in_one_statement_per_batch(history, django_assert_num_queries):
    old = UsageLog.objects.filter(created_at__lt=NOW - dt.timedelta(days=7)).count()
    assert old > 20
    batches = -(-old // 20)
    with django_assert_num_queries(batches + 1):  # each full batch, then the one that finds nothing
        call_command("prune_usage", "--days", "7", "--batch", "20")
