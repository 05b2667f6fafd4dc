"""The usage list reaches back 7 days unless the admin asks for more: never every row of every year by
default. A search, or dates of her own, reaches any age."""

from __future__ import annotations

import pytest
import time_machine

from tests.retention.conftest import NOW

LIST = "/admin/routing/usagelog/"


def listed(admin_client, query: str = "") -> list[str]:
    with time_machine.travel(NOW, tick=False):
        response = admin_client.get(LIST + query)
    assert response.status_code == 200
    return sorted(row.request_id for row in response.context["cl"].result_list)


def test_by_default_it_lists_the_last_7_days_only(admin_client):
    assert listed(admin_client) == ["req_d3", "req_h2"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        pytest.param("?period=1d", ["req_h2"], id="24 hours"),
        pytest.param("?period=31d", ["req_d10", "req_d3", "req_h2"], id="31 days"),
        pytest.param("?period=any", ["req_d10", "req_d120", "req_d3", "req_d40", "req_h2"], id="any time"),
        pytest.param("?period=forever", ["req_d3", "req_h2"], id="an unknown period is the default"),
        pytest.param(
            "?created_at__gte=2026-02-01T00:00:00%2B00:00",
            ["req_d10", "req_d120", "req_d3", "req_d40", "req_h2"],
            id="own dates",
        ),
        pytest.param("?q=req_d120", ["req_d120"], id="a request id at any age"),
    ],
)
def test_other_periods_are_one_click_or_one_search_away(admin_client, query, expected):
    assert listed(admin_client, query) == expected


def test_the_default_period_shows_as_chosen_and_any_time_is_offered(admin_client):
    with time_machine.travel(NOW, tick=False):
        html = admin_client.get(LIST).content.decode()
    assert '<li class="selected">\n    <a href="?period=7d"' in html
    assert 'href="?period=any"' in html
