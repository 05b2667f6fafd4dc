"""The usage list on a large log: no filter reads the log for its choices (no DISTINCT over it, no
date drill-down), and search is one exact lookup on an indexed column, never LIKE over every row."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from routing.models import UsageLog
from tests.factories import make_key, make_provider, make_usage, make_user

pytestmark = pytest.mark.django_db

ROWS = 2000


@pytest.fixture
def staff_client(client):
    client.force_login(make_user(username="root", is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def log():
    provider = make_provider()
    keys = [make_key(make_user(username=name))[0] for name in ("ann", "bob")]
    start = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    UsageLog.objects.bulk_create(
        UsageLog(
            request_id=f"req_bulk{n}",
            created_at=start + dt.timedelta(minutes=n),
            key=keys[n % 2],
            user=keys[n % 2].user,
            provider=provider,
            requested_model=("claude-opus-4-8", "claude-haiku-4-5")[n % 2],
            status=(200, 429)[n % 3 == 0],
        )
        for n in range(ROWS)
    )
    make_usage(request_id="req_recent", key=keys[1], user=keys[1].user, requested_model="claude-sonnet-4-5")
    return keys


def usage_queries(staff_client, query: str = "") -> tuple[str, list[str]]:
    with CaptureQueriesContext(connection) as captured:
        page = staff_client.get("/admin/routing/usagelog/" + query)
    assert page.status_code == 200
    reads = [q["sql"] for q in captured.captured_queries if 'FROM "routing_usagelog"' in q["sql"]]
    return page.content.decode(), reads


def test_the_list_and_its_filters_read_no_distinct_values_from_the_log(
    staff_client, log, django_assert_max_num_queries
):
    for n in range(20):  # more keys and users must not mean more queries
        make_key(make_user(username=f"user{n}"))
    with django_assert_max_num_queries(15):
        html, queries = usage_queries(staff_client)
    assert not [q for q in queries if "DISTINCT" in q.upper()]
    # The page's rows and the paginator's count (on PostgreSQL, after the planner's estimate), nothing else.
    assert len(queries) == (3 if connection.vendor == "postgresql" else 2), queries
    assert "claude-sonnet-4-5" in html, "model choices come from the rollups"
    assert "openai-main" in html, "provider choices come from the providers table"


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        pytest.param("req_bulk7", 1, id="request id"),
        pytest.param("bob", ROWS // 2 + 1, id="username"),
    ],
)
def test_search_is_one_exact_lookup(staff_client, log, term, expected):
    html, queries = usage_queries(staff_client, f"?q={term}")
    assert not [q for q in queries if " LIKE " in q.upper()]
    assert f"{expected} results" in html or f"{expected} result" in html


def test_a_key_prefix_finds_that_keys_rows(staff_client, log):
    html, queries = usage_queries(staff_client, f"?q={log[0].prefix}…")
    assert not [q for q in queries if " LIKE " in q.upper()]
    assert f"{ROWS // 2} results" in html


def test_the_status_class_filter_selects_failures(staff_client, log):
    html, _ = usage_queries(staff_client, "?status_class=4&period=any")
    assert f"{len(range(0, ROWS, 3))} results" in html


def test_on_postgresql_large_lists_show_the_estimated_count_and_small_ones_the_exact_one(
    staff_client, log, monkeypatch
):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite keeps no row estimate: its lists are counted exactly")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE routing_usagelog")
    _, small = usage_queries(staff_client, "?status_class=4&period=any")
    assert [q for q in small if "COUNT(" in q.upper()], "a list estimated small is counted exactly"

    monkeypatch.setattr("routing.admin_usage_filters.ESTIMATE_ABOVE", 1)
    _, queries = usage_queries(staff_client, "?period=any")
    assert not [q for q in queries if "COUNT(" in q.upper()], "no COUNT(*) over the whole log"
    html, filtered = usage_queries(staff_client, "?status_class=4&period=any")
    assert not [q for q in filtered if "COUNT(" in q.upper()], "nor over a large filtered part of it"
    assert [q for q in filtered if q.startswith("EXPLAIN")], "the planner's estimate instead"
    assert " results" in html
