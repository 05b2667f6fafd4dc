"""/metrics: off without a token, bearer-protected, and holding the series operators alert on."""

import json

import httpx

from tests.integration.conftest import UPSTREAM, chunk, completion, messages_body, read_stream, sse, usage_rows


async def test_metrics_are_off_without_a_token_and_need_the_bearer(gateway, async_client, settings):
    settings.METRICS_TOKEN = ""
    assert (await async_client.get("/metrics")).status_code == 404
    settings.METRICS_TOKEN = "scrape-me"
    assert (await async_client.get("/metrics")).status_code == 401
    assert (await async_client.get("/metrics", headers={"authorization": "Bearer wrong"})).status_code == 401


async def test_a_scrape_holds_requests_latency_tokens_errors_retries_and_queue_series(
    gateway, upstream, async_client, settings
):
    settings.METRICS_TOKEN = "scrape-me"
    gateway["provider"].max_retries = 1
    await gateway["provider"].asave()
    upstream.post(f"{UPSTREAM}/chat/completions").mock(
        side_effect=[
            httpx.Response(503, text="busy"),
            httpx.Response(200, json=completion({"content": "ok"}, usage={"prompt_tokens": 7, "completion_tokens": 5})),
            httpx.Response(200, content=sse(chunk({"content": "hi"}), chunk(finish="stop"), "data: [DONE]\n\n")),
            httpx.Response(400, json={"error": {"message": "bad"}}),
        ]
    )
    headers = {"x-api-key": gateway["secret"]}
    for body in (messages_body(), messages_body(stream=True), messages_body()):
        response = await async_client.post(
            "/v1/messages", data=json.dumps(body), content_type="application/json", headers=headers
        )
        if body.get("stream"):
            await read_stream(response)
    await usage_rows()
    text = (await async_client.get("/metrics", headers={"authorization": "Bearer scrape-me"})).content.decode()
    for series in (
        'gateway_requests_total{endpoint="messages",provider="openai-main"',
        "gateway_request_duration_seconds_bucket",
        "gateway_time_to_first_token_seconds_bucket",
        'gateway_tokens_total{direction="output",provider="openai-main"}',
        'gateway_upstream_errors_total{error_type="invalid_request_error",provider="openai-main"}',
        'gateway_upstream_retries_total{provider="openai-main"}',
        "gateway_inflight_streams 0.0",
        "gateway_usage_queue_depth",
    ):
        assert series in text, series
    assert "sk-upstream-secret" not in text and gateway["secret"] not in text
