"""Her usage page: totals, per key, per model and per day, over a window, filtered by her key or model."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from tests.factories import make_key, make_usage

pytestmark = pytest.mark.django_db
NOW = datetime(2031, 3, 15, 12, tzinfo=UTC)


@pytest.fixture
def rows(alice):
    laptop, _ = make_key(alice, name="laptop")
    ci, _ = make_key(alice, name="ci")
    for n, (key, model, tokens, age) in enumerate(
        [(laptop, "sonnet", 100, 1), (laptop, "haiku", 20, 2), (ci, "sonnet", 5, 3), (ci, "sonnet", 9000, 40)]
    ):
        make_usage(
            request_id=f"r{n}",
            key=key,
            user=alice,
            requested_model=model,
            input_tokens=tokens,
            created_at=NOW - timedelta(days=age),
        )
    return laptop, ci


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=False):
        yield


def totals(client, query: str = "") -> str:
    html = client.get(f"/portal/usage/{query}").content.decode()
    start = html.index('id="usage-totals">') + len('id="usage-totals">')
    return html[start : html.index("</p>", start)]


def test_the_window_defaults_to_30_days_and_can_grow(alice_client, rows):
    assert totals(alice_client) == "3 requests (0 errors), 125 tokens in the last 30 days."
    assert totals(alice_client, "?days=90") == "4 requests (0 errors), 9125 tokens in the last 90 days."


def test_it_filters_by_her_key_and_by_model(alice_client, rows):
    laptop, _ = rows

    assert totals(alice_client, f"?key={laptop.pk}") == "2 requests (0 errors), 120 tokens in the last 30 days."
    assert totals(alice_client, "?model=sonnet") == "2 requests (0 errors), 105 tokens in the last 30 days."


def test_the_chart_has_a_bar_per_day_with_the_tokens_in_its_title(alice_client, rows):
    html = alice_client.get("/portal/usage/?days=7").content.decode()

    assert html.count("<rect ") == 7
    assert "<title>2031-03-14: 100 tokens</title>" in html
