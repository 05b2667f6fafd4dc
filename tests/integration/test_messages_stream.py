"""Streaming POST /v1/messages: exact event sequences, errors before and after the first byte, disconnects."""

import asyncio
import json

import httpx

from tests.integration.conftest import (
    UPSTREAM,
    SlowStream,
    chunk,
    messages_body,
    read_stream,
    sse,
    usage_rows,
)

USAGE = {"prompt_tokens": 12, "completion_tokens": 4, "total_tokens": 16}


async def _post(async_client, secret, body):
    return await async_client.post(
        "/v1/messages",
        data=json.dumps({**body, "stream": True}),
        content_type="application/json",
        headers={"x-api-key": secret},
    )


def _shape(events):
    return [(e["type"], e.get("index")) for e in events]


async def test_a_text_stream_has_the_exact_anthropic_event_sequence(gateway, upstream, async_client):
    route = upstream.post(f"{UPSTREAM}/chat/completions").mock(
        return_value=httpx.Response(
            200,
            content=sse(
                chunk({"role": "assistant", "content": ""}),
                chunk({"content": "Hel"}),
                chunk({"content": "lo"}),
                chunk(finish="stop"),
                chunk(choices=False, usage=USAGE),
                "data: [DONE]\n\n",
            ),
            headers={"content-type": "text/event-stream"},
        )
    )
    response = await _post(async_client, gateway["secret"], messages_body())
    assert response.status_code == 200 and response["content-type"] == "text/event-stream"
    events = await read_stream(response)
    assert _shape(events) == [
        ("message_start", None),
        ("content_block_start", 0),
        ("content_block_delta", 0),
        ("content_block_delta", 0),
        ("content_block_stop", 0),
        ("message_delta", None),
        ("message_stop", None),
    ]
    assert events[0]["message"]["model"] == "claude-opus-4-8"
    assert "".join(e["delta"]["text"] for e in events if e["type"] == "content_block_delta") == "Hello"
    assert events[5]["delta"]["stop_reason"] == "end_turn"
    assert events[5]["usage"]["input_tokens"] == 12 and events[5]["usage"]["output_tokens"] == 4
    sent = json.loads(route.calls.last.request.content)
    assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True}
    [row] = await usage_rows()
    assert (row.status, row.stream, row.input_tokens, row.output_tokens) == (200, True, 12, 4)
    assert row.ttft_ms is not None


async def test_text_then_parallel_tool_calls_stream_as_separate_blocks(gateway, upstream, async_client):
    upstream.post(f"{UPSTREAM}/chat/completions").mock(
        return_value=httpx.Response(
            200,
            content=sse(
                chunk({"content": "Let me look."}),
                chunk(
                    {
                        "tool_calls": [
                            {
                                "index": 0,
                                "id": "call_a",
                                "type": "function",
                                "function": {"name": "Bash", "arguments": '{"comm'},
                            }
                        ]
                    }
                ),
                chunk({"tool_calls": [{"index": 0, "function": {"arguments": 'and":"ls"}'}}]}),
                chunk(
                    {
                        "tool_calls": [
                            {
                                "index": 1,
                                "id": "call_b",
                                "type": "function",
                                "function": {"name": "Read", "arguments": '{"path":"x"}'},
                            }
                        ]
                    }
                ),
                chunk(finish="tool_calls"),
                chunk(choices=False, usage=USAGE),
                "data: [DONE]\n\n",
            ),
        )
    )
    events = await read_stream(await _post(async_client, gateway["secret"], messages_body()))
    starts = [e for e in events if e["type"] == "content_block_start"]
    assert [(s["index"], s["content_block"]["type"]) for s in starts] == [(0, "text"), (1, "tool_use"), (2, "tool_use")]
    assert starts[1]["content_block"]["name"] == "Bash" and starts[1]["content_block"]["id"] == "call_a"
    for index, expected in ((1, {"command": "ls"}), (2, {"path": "x"})):
        fragments = [
            e["delta"]["partial_json"] for e in events if e["type"] == "content_block_delta" and e["index"] == index
        ]
        assert json.loads("".join(fragments)) == expected
    # One block open at a time: each block stops before the next starts.
    order = [(e["type"], e.get("index")) for e in events if e["type"] in ("content_block_start", "content_block_stop")]
    assert order == [
        ("content_block_start", 0),
        ("content_block_stop", 0),
        ("content_block_start", 1),
        ("content_block_stop", 1),
        ("content_block_start", 2),
        ("content_block_stop", 2),
    ]
    assert next(e for e in events if e["type"] == "message_delta")["delta"]["stop_reason"] == "tool_use"


async def test_reasoning_becomes_a_thinking_block_when_thinking_was_asked(gateway, upstream, async_client):
    gateway["provider"].profile = "deepseek"
    await gateway["provider"].asave()
    upstream.post(f"{UPSTREAM}/chat/completions").mock(
        return_value=httpx.Response(
            200,
            content=sse(
                chunk({"reasoning_content": "Think"}),
                chunk({"reasoning_content": "ing."}),
                chunk({"content": "Answer"}),
                chunk(finish="stop"),
                chunk(choices=False, usage=USAGE),
                "data: [DONE]\n\n",
            ),
        )
    )
    body = messages_body(thinking={"type": "enabled", "budget_tokens": 2048})
    events = await read_stream(await _post(async_client, gateway["secret"], body))
    blocks = [e["content_block"]["type"] for e in events if e["type"] == "content_block_start"]
    assert blocks == ["thinking", "text"]
    deltas = [e["delta"] for e in events if e["type"] == "content_block_delta" and e["index"] == 0]
    assert [d["type"] for d in deltas] == ["thinking_delta", "thinking_delta", "signature_delta"]
    assert deltas[-1]["signature"]


async def test_an_upstream_429_before_the_first_byte_is_a_json_error_with_retry_after(gateway, upstream, async_client):
    upstream.post(f"{UPSTREAM}/chat/completions").mock(
        return_value=httpx.Response(
            429,
            json={"error": {"message": "Rate limit reached", "type": "rate_limit_error"}},
            headers={"retry-after": "7"},
        )
    )
    response = await _post(async_client, gateway["secret"], messages_body())
    assert response.status_code == 429
    assert response["content-type"] == "application/json" and response["retry-after"] == "7"
    body = response.json()
    assert body["error"]["type"] == "rate_limit_error" and body["request_id"] == response["request-id"]
    [row] = await usage_rows()
    assert (row.status, row.error_type, row.stream) == (429, "rate_limit_error", True)


async def test_an_in_band_error_mid_stream_is_an_error_event_without_message_stop(gateway, upstream, async_client):
    upstream.post(f"{UPSTREAM}/chat/completions").mock(
        return_value=httpx.Response(
            200,
            content=sse(
                chunk({"content": "partial"}),
                {"error": {"message": "model crashed", "type": "server_error"}},
            ),
        )
    )
    events = await read_stream(await _post(async_client, gateway["secret"], messages_body()))
    assert events[-1]["type"] == "error"
    assert "message_stop" not in [e["type"] for e in events]
    [row] = await usage_rows()
    assert row.status >= 500 and row.error_type == events[-1]["error"]["type"]


async def test_a_truncated_stream_ends_with_an_error_event_not_a_fake_finish(gateway, upstream, async_client):
    upstream.post(f"{UPSTREAM}/chat/completions").mock(
        return_value=httpx.Response(200, content=sse(chunk({"content": "The answer is"})))
    )
    events = await read_stream(await _post(async_client, gateway["secret"], messages_body()))
    assert events[-1]["type"] == "error" and events[-1]["error"]["type"] == "api_error"
    assert not {"message_delta", "message_stop"} & {e["type"] for e in events}


async def test_pings_are_sent_while_the_upstream_is_silent(gateway, upstream, async_client, settings):
    settings.PING_INTERVAL = 0.05
    body = SlowStream([(0.3, sse(chunk({"content": "late"}), chunk(finish="stop"))), (0, b"data: [DONE]\n\n")])
    upstream.post(f"{UPSTREAM}/chat/completions").mock(return_value=httpx.Response(200, stream=body))
    events = await read_stream(await _post(async_client, gateway["secret"], messages_body()))
    kinds = [e["type"] for e in events]
    assert "ping" in kinds[: kinds.index("content_block_start")]
    assert kinds[-1] == "message_stop"


async def test_a_client_disconnect_closes_the_upstream_and_logs_499(gateway, upstream, async_client):
    body = SlowStream([(0, sse(chunk({"content": "first"}))), (30, sse(chunk({"content": "never"})))])
    upstream.post(f"{UPSTREAM}/chat/completions").mock(return_value=httpx.Response(200, stream=body))
    response = await _post(async_client, gateway["secret"], messages_body())
    parts = aiter(response.streaming_content)
    assert b"message_start" in await anext(parts)
    assert b"first" in await anext(parts)
    reader = asyncio.ensure_future(anext(parts))
    await asyncio.sleep(0.1)
    reader.cancel()  # what Django's ASGI handler does when the client goes away
    await asyncio.gather(reader, return_exceptions=True)
    assert body.closed
    [row] = await usage_rows()
    assert (row.status, row.error_type) == (499, "client_closed")


async def test_a_stream_still_running_when_the_shutdown_grace_ends_gets_an_error_event(
    gateway, upstream, async_client, settings
):
    from api.http import lifecycle

    settings.PING_INTERVAL = 5
    body = SlowStream([(0, sse(chunk({"content": "working"}))), (30, sse(chunk({"content": "never"})))])
    upstream.post(f"{UPSTREAM}/chat/completions").mock(return_value=httpx.Response(200, stream=body))
    response = await _post(async_client, gateway["secret"], messages_body())
    lifecycle.begin_drain(0.2)
    try:
        events = await read_stream(response)
    finally:
        lifecycle.reset()
    assert events[-1] == {
        "type": "error",
        "error": {"type": "overloaded_error", "message": "The gateway is restarting; please retry the request."},
    }
    assert body.closed
    [row] = await usage_rows()
    assert (row.status, row.error_type) == (529, "overloaded_error")


async def test_a_stream_with_no_first_token_in_time_ends_with_a_timeout_event(
    gateway, upstream, async_client, settings
):
    settings.PING_INTERVAL = 0.05
    gateway["provider"].first_byte_timeout = 0.2
    await gateway["provider"].asave()
    body = SlowStream([(30, sse(chunk({"content": "too late"})))])
    upstream.post(f"{UPSTREAM}/chat/completions").mock(return_value=httpx.Response(200, stream=body))
    events = await read_stream(await _post(async_client, gateway["secret"], messages_body()))
    assert events[-1]["type"] == "error" and events[-1]["error"]["type"] == "timeout_error"
    assert "ping" in [e["type"] for e in events] and body.closed
