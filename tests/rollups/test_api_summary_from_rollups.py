"""The management API's summary reads rollups when its filters are whole days (and answers as the
raw log would); finer filters (one status code, `stream`, a time within a day) read the log."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from routing.models import UsageLog
from routing.rest.views import summarise
from tests.factories import make_key, make_staff, make_usage, make_user

pytestmark = pytest.mark.django_db

START = dt.datetime(2026, 3, 14, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def client():
    keys = [make_key(make_user(username=name))[0] for name in ("ann", "bob")]
    for n in range(40):
        key = keys[n % 2] if n % 5 else None
        make_usage(
            request_id=f"req_{n}",
            created_at=START + dt.timedelta(hours=5 * n),
            key=key,
            user=key.user if key else None,
            requested_model=("claude-opus-4-8", "claude-haiku-4-5")[n % 3 == 0],
            status=(200, 200, 429, 503)[n % 4],
            input_tokens=n,
            output_tokens=3 * n,
            cache_read_tokens=n % 4,
        )
    api = APIClient()
    api.force_authenticate(make_staff("root", "routing.view_usagelog"))
    return api


def summary(client, query: str) -> tuple[dict, list[str]]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get("/api/v1/usage/summary/" + query)
    assert response.status_code == 200, response.content
    return response.json(), [q["sql"] for q in captured.captured_queries if "routing_usagelog" in q["sql"]]


@pytest.mark.parametrize("group_by", ["user", "model", "day"])
@pytest.mark.parametrize("filters", ["", "&since=2026-03-15T00:00:00Z&until=2026-03-20T00:00:00Z&status=error"])
def test_the_summary_from_rollups_equals_the_summary_over_the_rows(client, group_by, filters):
    body, log_queries = summary(client, f"?group_by={group_by}{filters}")

    assert log_queries == [], "whole days: read from the rollups only"
    rows = UsageLog.objects.all()
    if filters:
        rows = rows.filter(
            created_at__gte="2026-03-15T00:00:00Z", created_at__lt="2026-03-20T00:00:00Z", status__gte=400
        )
    expected = summarise(rows, group_by, raw=True)
    assert body == {
        **expected,
        "results": [{**r, "day": str(r["day"])} if "day" in r else r for r in expected["results"]],
    }
    assert body["totals"]["requests"] == rows.count() > 0


@pytest.mark.parametrize("query", ["?status=429", "?stream=false", "?since=2026-03-15T12:00:00Z"])
def test_filters_finer_than_a_day_read_the_log(client, query):
    body, log_queries = summary(client, query)
    assert log_queries, "answered from the raw rows"
    assert (
        body["totals"]["requests"]
        == {
            "?status=429": UsageLog.objects.filter(status=429).count(),
            "?stream=false": 40,
            "?since=2026-03-15T12:00:00Z": UsageLog.objects.filter(created_at__gte="2026-03-15T12:00:00Z").count(),
        }[query]
    )
