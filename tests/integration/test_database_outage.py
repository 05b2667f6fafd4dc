"""A brief database outage: cached keys and routes keep serving, usage rows wait in the queue."""

import json

import httpx
from asgiref.sync import sync_to_async
from django.db import OperationalError

from api.accounting.usage import writer
from routing import snapshot
from tests.integration.conftest import UPSTREAM, completion, messages_body, usage_rows


async def _post(async_client, secret):
    return await async_client.post(
        "/v1/messages", data=json.dumps(messages_body()), content_type="application/json", headers={"x-api-key": secret}
    )


async def test_requests_keep_being_served_and_logged_through_a_database_outage(
    gateway, upstream, async_client, monkeypatch, settings
):
    upstream.post(f"{UPSTREAM}/chat/completions").mock(
        return_value=httpx.Response(200, json=completion({"content": "ok"}))
    )
    assert (await _post(async_client, gateway["secret"])).status_code == 200  # warms the key and route caches
    assert await sync_to_async(writer.flush)(10.0)

    def database_down(*args, **kwargs):
        raise OperationalError("could not connect to server")

    monkeypatch.setattr(snapshot, "_load_routes", database_down)
    monkeypatch.setattr(snapshot, "_load_key", database_down)
    monkeypatch.setattr("api.accounting.usage._insert", database_down)
    settings.USAGE_FLUSH_SECONDS = 0.05
    snapshot.invalidate_all()  # as if the cache time ran out during the outage

    for _ in range(3):
        assert (await _post(async_client, gateway["secret"])).status_code == 200
    assert not await sync_to_async(writer.flush)(0.5)  # rows are held, not dropped
    assert writer.failed_writes > 0

    monkeypatch.undo()  # the database is back
    rows = await usage_rows()
    assert [r.status for r in rows] == [200, 200, 200, 200]
