"""The CSV export streams in chunks: under ASGI as an async iterator whose header leaves before any
query, each chunk one query resuming after the last row (no cursor held, so PostgreSQL does not
materialise the whole result first), every row once even where many share one timestamp."""

from __future__ import annotations

import datetime as dt

import pytest
from asgiref.sync import sync_to_async

from routing.models import UsageLog
from routing.usage_export import csv_chunks
from tests.factories import make_user

pytestmark = pytest.mark.django_db(transaction=True)

ROWS = 1200
WHEN = dt.datetime(2026, 3, 14, 12, 0, tzinfo=dt.UTC)


def seed():
    """A superuser and the log to export: a third of it in one same microsecond."""
    UsageLog.objects.bulk_create(
        UsageLog(
            request_id=f"req_{n:05d}",
            created_at=WHEN if n % 3 == 0 else WHEN + dt.timedelta(seconds=n),
            status=(200, 429)[n % 2],
        )
        for n in range(ROWS)
    )
    return make_user(username="root", is_staff=True, is_superuser=True)


async def test_under_asgi_the_export_is_an_async_stream_with_the_header_first(async_client):
    await async_client.aforce_login(await sync_to_async(seed)())

    since = "created_at__gte=2026-03-14T00:00:00%2B00:00"
    response = await async_client.get(f"/admin/routing/usagelog/export.csv?status__exact=429&{since}")
    assert response.status_code == 200 and response.is_async and response["Content-Type"] == "text/csv"
    chunks = [chunk async for chunk in response.streaming_content]

    assert chunks[0].decode().startswith("created_at,request_id") and chunks[0].count(b"\n") == 1
    lines = b"".join(chunks).decode().splitlines()
    assert len(lines) == 1 + ROWS // 2 and all(",429," in line for line in lines[1:])


def test_each_chunk_is_one_query_and_every_row_comes_once_newest_first(django_assert_num_queries):
    seed()
    chunks = csv_chunks(UsageLog.objects.all(), 100)
    assert next(chunks).startswith("created_at,request_id")
    pages = []
    for _ in range(ROWS // 100):
        with django_assert_num_queries(1):
            pages.append(next(chunks))
    with django_assert_num_queries(1):
        assert next(chunks, None) is None

    ids = [line.split(",")[1] for page in pages for line in page.splitlines()]
    expected = UsageLog.objects.order_by("-created_at", "-id").values_list("request_id", flat=True)
    assert ids == list(expected) and len(set(ids)) == ROWS
