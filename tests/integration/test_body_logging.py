"""LOG_BODIES stores bodies with secrets redacted; off by default; 413 for oversized bodies."""

import json

import httpx
import pytest

from tests.integration.conftest import UPSTREAM, completion, messages_body, usage_rows


@pytest.fixture
def ok_upstream(upstream):
    return upstream.post(f"{UPSTREAM}/chat/completions").mock(
        return_value=httpx.Response(200, json=completion({"content": "the answer"}))
    )


async def _post(async_client, secret, body):
    return await async_client.post(
        "/v1/messages", data=json.dumps(body), content_type="application/json", headers={"x-api-key": secret}
    )


async def test_bodies_are_not_logged_by_default(gateway, ok_upstream, async_client):
    await _post(async_client, gateway["secret"], messages_body())
    [row] = await usage_rows()
    assert (row.request_body, row.response_body) == ("", "")


async def test_all_logs_bodies_with_keys_and_base64_removed(gateway, ok_upstream, async_client, settings):
    settings.LOG_BODIES = "all"
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "A" * 2000}}
    body = messages_body(
        messages=[
            {
                "role": "user",
                "content": [{"type": "text", "text": "my key is sk-live-abcdefghijklmnopqrstuvwxyz"}, image],
            }
        ]
    )
    await _post(async_client, gateway["secret"], body)
    [row] = await usage_rows()
    assert "sk-live-abcdefghijklmnop" not in row.request_body and "sk-live-a[redacted]" in row.request_body
    assert "A" * 300 not in row.request_body and "[base64 omitted]" in row.request_body
    assert "the answer" in row.response_body


async def test_errors_mode_logs_only_failed_requests(gateway, ok_upstream, async_client, settings):
    settings.LOG_BODIES = "errors"
    await _post(async_client, gateway["secret"], messages_body())
    await _post(async_client, gateway["secret"], messages_body(max_tokens="many"))
    ok, bad = await usage_rows()
    assert ok.request_body == "" and bad.status == 400
    assert '"max_tokens": "many"' in bad.request_body and "invalid_request_error" in bad.response_body


async def test_a_body_over_the_size_limit_is_413(gateway, ok_upstream, async_client, settings):
    settings.MAX_BODY_BYTES = 1000
    response = await _post(async_client, gateway["secret"], messages_body(system="x" * 2000))
    assert response.status_code == 413 and response.json()["error"]["type"] == "request_too_large"
    assert not ok_upstream.called
