"""Dropping the budget counters (rebuild_usage_rollups) reloads budgets only: a key's requests-per-minute
window and the holds of requests in flight stay, so a rebuild never lets a key past its rate limit."""

from __future__ import annotations

import pytest

from api.admission.counters import Check, store

NOW = 1_800_000_000.0


@pytest.fixture
def counters(_fresh_limit_counters):
    """The store the settings choose (the SQLite file, or Redis on the PostgreSQL + Redis pass)."""
    return store()


def test_it_drops_budgets_and_keeps_windows(counters):
    window = Check("rpm:key:7", limit=1, amount=1, window=60, settles=False)
    budget = Check("budget:key:7:total", limit=1000, amount=10)
    counters.seed(budget.name, 100, 3600, NOW)
    assert counters.reserve("req_a", [window, budget], NOW).admitted

    counters.drop_budgets()

    assert counters.peek(budget.name, NOW) is None
    assert counters.reserve("req_b", [budget], NOW).missing == (budget.name,)
    refused = counters.reserve("req_c", [window], NOW + 1)
    assert not refused.admitted and refused.refused == window, "the rate window still counts req_a"
    assert counters.settle("req_a", 5), "req_a's hold is still there to settle"
