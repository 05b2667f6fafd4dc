"""Retries and fallbacks before the first byte: which failures are retried, how often, and where they go."""

import json

import httpx
import pytest
from asgiref.sync import sync_to_async

from routing.models import RouteFallback
from tests.factories import make_provider, make_route
from tests.integration.conftest import UPSTREAM, chunk, completion, messages_body, read_stream, sse, usage_rows

BACKUP = "http://backup.test/v1"
OK = httpx.Response(200, json=completion({"content": "ok"}))


@pytest.fixture(autouse=True)
def _fast_backoff(settings, monkeypatch):
    monkeypatch.setattr("api.forward.attempts.random.uniform", lambda a, b: 0.01)
    settings.RETRY_MAX_WAIT = 20.0


async def _with_retries(gateway, n):
    gateway["provider"].max_retries = n
    await gateway["provider"].asave()


async def _backup_route(gateway, **fields):
    provider = await sync_to_async(make_provider)(name="backup", base_url=BACKUP)
    route = await sync_to_async(make_route)(provider, pattern="no-direct-match", target_model="backup-model", **fields)
    await RouteFallback.objects.acreate(route=gateway["route"], fallback=route, position=0)
    return route


async def _post(async_client, gateway, **body):
    return await async_client.post(
        "/v1/messages",
        data=json.dumps(messages_body(**body)),
        content_type="application/json",
        headers={"x-api-key": gateway["secret"]},
    )


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
async def test_a_retryable_status_is_retried_then_succeeds(gateway, upstream, async_client, status):
    await _with_retries(gateway, 2)
    route = upstream.post(f"{UPSTREAM}/chat/completions").mock(
        side_effect=[httpx.Response(status, json={"error": {"message": "busy"}}), OK]
    )
    response = await _post(async_client, gateway)
    assert response.status_code == 200 and route.call_count == 2
    [row] = await usage_rows()
    assert (row.status, row.attempts) == (200, 2)


async def test_a_connect_error_is_retried(gateway, upstream, async_client):
    await _with_retries(gateway, 1)
    route = upstream.post(f"{UPSTREAM}/chat/completions").mock(side_effect=[httpx.ConnectError("refused"), OK])
    assert (await _post(async_client, gateway)).status_code == 200 and route.call_count == 2


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
async def test_a_client_error_is_never_retried(gateway, upstream, async_client, status):
    await _with_retries(gateway, 2)
    route = upstream.post(f"{UPSTREAM}/chat/completions").mock(
        return_value=httpx.Response(status, json={"error": {"message": "no"}})
    )
    response = await _post(async_client, gateway)
    assert response.status_code == (400 if status == 422 else status) and route.call_count == 1


async def test_retries_stop_at_the_providers_count(gateway, upstream, async_client):
    await _with_retries(gateway, 2)
    route = upstream.post(f"{UPSTREAM}/chat/completions").mock(return_value=httpx.Response(502, text="bad"))
    response = await _post(async_client, gateway)
    assert response.status_code == 500 and route.call_count == 3
    [row] = await usage_rows()
    assert (row.attempts, row.status) == (3, 500)


async def test_a_retry_after_longer_than_the_wait_limit_goes_back_to_the_client(
    gateway, upstream, async_client, settings
):
    await _with_retries(gateway, 2)
    settings.RETRY_MAX_WAIT = 5
    route = upstream.post(f"{UPSTREAM}/chat/completions").mock(
        return_value=httpx.Response(429, json={"error": {"message": "slow down"}}, headers={"retry-after": "30"})
    )
    response = await _post(async_client, gateway)
    assert response.status_code == 429 and response["retry-after"] == "30" and route.call_count == 1


async def test_an_exhausted_quota_is_not_retried(gateway, upstream, async_client):
    await _with_retries(gateway, 2)
    route = upstream.post(f"{UPSTREAM}/chat/completions").mock(
        return_value=httpx.Response(
            429, json={"error": {"message": "quota", "type": "insufficient_quota", "code": "insufficient_quota"}}
        )
    )
    response = await _post(async_client, gateway)
    assert response.status_code == 402 and route.call_count == 1


async def test_a_failing_route_falls_back_in_order_and_the_row_names_the_serving_route(gateway, upstream, async_client):
    backup = await _backup_route(gateway)
    upstream.post(f"{UPSTREAM}/chat/completions").mock(return_value=httpx.Response(503, text="down"))
    spare = upstream.post(f"{BACKUP}/chat/completions").mock(return_value=OK)
    response = await _post(async_client, gateway)
    assert response.status_code == 200
    assert json.loads(spare.calls.last.request.content)["model"] == "backup-model"
    [row] = await usage_rows()
    assert (row.route_id, row.provider_name, row.upstream_model, row.attempts) == (
        backup.id,
        "backup",
        "backup-model",
        2,
    )


async def test_a_bad_request_does_not_fall_back(gateway, upstream, async_client):
    await _backup_route(gateway)
    upstream.post(f"{UPSTREAM}/chat/completions").mock(
        return_value=httpx.Response(400, json={"error": {"message": "bad tool schema"}})
    )
    spare = upstream.post(f"{BACKUP}/chat/completions").mock(return_value=OK)
    assert (await _post(async_client, gateway)).status_code == 400 and not spare.called


async def test_a_context_length_error_falls_back_to_a_long_context_route(gateway, upstream, async_client):
    long_provider = await sync_to_async(make_provider)(name="long", base_url=BACKUP)
    await sync_to_async(make_route)(long_provider, pattern="never", target_model="long-model", long_context=True)
    upstream.post(f"{UPSTREAM}/chat/completions").mock(
        return_value=httpx.Response(
            400, json={"error": {"message": "maximum context length is 8192 tokens", "code": "context_length_exceeded"}}
        )
    )
    spare = upstream.post(f"{BACKUP}/chat/completions").mock(return_value=OK)
    assert (await _post(async_client, gateway)).status_code == 200
    assert json.loads(spare.calls.last.request.content)["model"] == "long-model"


async def test_a_stream_is_retried_before_the_first_byte(gateway, upstream, async_client):
    await _with_retries(gateway, 1)
    upstream.post(f"{UPSTREAM}/chat/completions").mock(
        side_effect=[
            httpx.Response(503, text="down"),
            httpx.Response(200, content=sse(chunk({"content": "hi"}), chunk(finish="stop"), "data: [DONE]\n\n")),
        ]
    )
    response = await _post(async_client, gateway, stream=True)
    events = await read_stream(response)
    assert events[-1]["type"] == "message_stop"
    [row] = await usage_rows()
    assert row.attempts == 2
