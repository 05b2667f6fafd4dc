"""Under ASGI the CSV export is an async stream of small chunks: the header leaves before any query,
and rows are read a chunk at a time (Django would collect a sync iterator into one list first)."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async

from routing.models import UsageLog
from tests.factories import make_user

pytestmark = pytest.mark.django_db(transaction=True)

ROWS = 1200


def seed():
    """A superuser and the log to export."""
    UsageLog.objects.bulk_create(UsageLog(request_id=f"req_{n:05d}", status=(200, 429)[n % 2]) for n in range(ROWS))
    return make_user(username="root", is_staff=True, is_superuser=True)


async def test_the_export_is_an_async_stream_of_chunks_with_the_header_first(async_client):
    await async_client.aforce_login(await sync_to_async(seed)())

    response = await async_client.get("/admin/routing/usagelog/export.csv?status__exact=429")
    assert response.status_code == 200 and response.is_async and response["Content-Type"] == "text/csv"
    chunks = [chunk async for chunk in response.streaming_content]

    assert chunks[0].decode().startswith("created_at,request_id") and chunks[0].count(b"\n") == 1
    lines = b"".join(chunks).decode().splitlines()
    assert len(lines) == 1 + ROWS // 2 and all(",429," in line for line in lines[1:])
    assert len(chunks) == 1 + 2, "600 rows in chunks of 500 lines"
