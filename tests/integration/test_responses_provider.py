"""A provider of kind `openai-responses`: POST /v1/messages answered through a fake `/v1/responses`."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from api.accounting.usage import writer
from tests.factories import make_key, make_provider, make_route
from tests.integration.conftest import UPSTREAM, SlowStream, messages_body, read_stream, usage_rows

USAGE = {"input_tokens": 1000, "input_tokens_details": {"cached_tokens": 800}, "output_tokens": 50}
TOOLS = [{"name": "Write", "input_schema": {"type": "object", "properties": {"file_path": {"type": "string"}}}}]


@pytest.fixture
def gateway(transactional_db, settings):
    settings.AUTH_MODE = "keys"
    settings.ANTHROPIC_API_KEY = ""
    provider = make_provider(name="openai-responses", kind="openai-responses", base_url=UPSTREAM, profile="openai")
    make_route(provider, pattern="*", target_model="gpt-5")
    _, secret = make_key()
    yield {"secret": secret}
    assert writer.flush(10.0)


def events(*items: dict) -> bytes:
    return b"".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in items)


def completed(output: list[dict], status: str = "completed") -> dict:
    return {"type": f"response.{status}", "response": {"status": status, "output": output, "usage": USAGE}}


async def post(async_client, secret: str, body: dict):
    return await async_client.post(
        "/v1/messages", data=json.dumps(body), content_type="application/json", headers={"x-api-key": secret}
    )


def sent(route) -> dict:
    return json.loads(route.calls.last.request.content)


REASONING = {
    "type": "reasoning",
    "id": "rs_1",
    "summary": [{"type": "summary_text", "text": "plan"}],
    "encrypted_content": "gAAAA-encrypted",
}
CALL = {
    "type": "function_call",
    "id": "fc_1",
    "call_id": "call_1",
    "name": "Write",
    "arguments": '{"file_path":"a.txt"}',
}


async def test_a_streamed_text_answer_comes_back_as_anthropic_events_and_one_usage_row(gateway, upstream, async_client):
    message = {"type": "message", "id": "msg_1", "role": "assistant", "content": []}
    route = upstream.post(f"{UPSTREAM}/responses").mock(
        return_value=httpx.Response(
            200,
            content=events(
                {"type": "response.created", "response": {"status": "in_progress"}},
                {"type": "response.output_item.added", "output_index": 0, "item": message},
                {"type": "response.output_text.delta", "item_id": "msg_1", "delta": "Hello"},
                {"type": "response.output_item.done", "output_index": 0, "item": message},
                completed([message]),
            ),
            headers={"content-type": "text/event-stream"},
        )
    )
    response = await post(async_client, gateway["secret"], messages_body(stream=True, system="be brief"))
    got = await read_stream(response)
    assert [e["type"] for e in got] == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert got[2]["delta"] == {"type": "text_delta", "text": "Hello"}
    assert got[4]["usage"]["cache_read_input_tokens"] == 800 and got[4]["usage"]["input_tokens"] == 200
    body = sent(route)
    assert (body["model"], body["store"], body["stream"], body["instructions"]) == ("gpt-5", False, True, "be brief")
    assert route.calls.last.request.headers["authorization"] == "Bearer sk-upstream-secret-1234"
    [row] = await usage_rows()
    assert (row.status, row.stream, row.upstream_model) == (200, True, "gpt-5")
    assert (row.input_tokens, row.output_tokens, row.cache_read_tokens) == (200, 50, 800)


async def test_the_encrypted_reasoning_goes_back_to_the_upstream_on_the_next_turn(gateway, upstream, async_client):
    route = upstream.post(f"{UPSTREAM}/responses").mock(
        side_effect=[
            httpx.Response(200, json={"status": "completed", "output": [REASONING, CALL], "usage": USAGE}),
            httpx.Response(200, json={"status": "completed", "output": [], "usage": USAGE}),
        ]
    )
    thinking = {"type": "enabled", "budget_tokens": 5000}
    first = messages_body(thinking=thinking, tools=TOOLS, messages=[{"role": "user", "content": "write a.txt"}])
    reply = (await post(async_client, gateway["secret"], first)).json()
    assert [b["type"] for b in reply["content"]] == ["thinking", "tool_use"] and reply["stop_reason"] == "tool_use"
    assert "gAAAA-encrypted" not in json.dumps(reply)  # opaque to the client
    assert sent(route)["include"] == ["reasoning.encrypted_content"]
    assert sent(route)["reasoning"] == {"effort": "high", "summary": "auto"}

    result = {"type": "tool_result", "tool_use_id": reply["content"][1]["id"], "content": "File created"}
    second = {
        **first,
        "messages": [
            *first["messages"],
            {"role": "assistant", "content": reply["content"]},
            {"role": "user", "content": [result]},
        ],
    }
    assert (await post(async_client, gateway["secret"], second)).status_code == 200
    assert sent(route)["input"][1:] == [
        {
            "type": "reasoning",
            "id": "rs_1",
            "encrypted_content": "gAAAA-encrypted",
            "summary": [{"type": "summary_text", "text": "plan"}],
        },
        {"type": "function_call", "call_id": "call_1", "name": "Write", "arguments": '{"file_path":"a.txt"}'},
        {"type": "function_call_output", "call_id": "call_1", "output": "File created"},
    ]


async def test_an_upstream_429_is_an_anthropic_rate_limit_error_with_retry_after(gateway, upstream, async_client):
    upstream.post(f"{UPSTREAM}/responses").mock(
        return_value=httpx.Response(
            429,
            json={"error": {"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"}},
            headers={"retry-after": "7"},
        )
    )
    response = await post(async_client, gateway["secret"], messages_body(stream=True))
    assert (response.status_code, response["content-type"], response["retry-after"]) == (429, "application/json", "7")
    assert response.json()["error"]["type"] == "rate_limit_error"
    [row] = await usage_rows()
    assert (row.status, row.error_type) == (429, "rate_limit_error")


async def test_a_failed_response_mid_stream_ends_with_an_error_event(gateway, upstream, async_client):
    message = {"type": "message", "id": "msg_1", "content": []}
    upstream.post(f"{UPSTREAM}/responses").mock(
        return_value=httpx.Response(
            200,
            content=events(
                {"type": "response.output_item.added", "item": message},
                {"type": "response.output_text.delta", "delta": "par"},
                {
                    "type": "response.failed",
                    "response": {"status": "failed", "error": {"code": "server_error", "message": "model crashed"}},
                },
            ),
        )
    )
    got = await read_stream(await post(async_client, gateway["secret"], messages_body(stream=True)))
    assert got[-1]["type"] == "error" and "message_stop" not in [e["type"] for e in got]
    [row] = await usage_rows()
    assert row.status >= 500


async def test_a_client_disconnect_closes_the_upstream_and_logs_499(gateway, upstream, async_client):
    message = {"type": "message", "id": "msg_1", "content": []}
    body = SlowStream(
        [
            (
                0,
                events(
                    {"type": "response.output_item.added", "item": message},
                    {"type": "response.output_text.delta", "delta": "first"},
                ),
            ),
            (30, events({"type": "response.output_text.delta", "delta": "never"})),
        ]
    )
    upstream.post(f"{UPSTREAM}/responses").mock(return_value=httpx.Response(200, stream=body))
    response = await post(async_client, gateway["secret"], messages_body(stream=True))
    parts = aiter(response.streaming_content)
    assert b"message_start" in await anext(parts)
    assert b"first" in await anext(parts)
    reader = asyncio.ensure_future(anext(parts))
    await asyncio.sleep(0.1)
    reader.cancel()
    await asyncio.gather(reader, return_exceptions=True)
    assert body.closed
    [row] = await usage_rows()
    assert (row.status, row.error_type) == (499, "client_closed")
