"""Anthropic-compatible providers: the body and allowed headers pass through, bytes come back unchanged."""

import json

import httpx
import pytest
from asgiref.sync import sync_to_async

from api.accounting.usage import writer
from api.translate.ids import thinking_signature
from routing.models import Provider
from tests.factories import make_key, make_provider, make_route
from tests.integration.conftest import messages_body, usage_rows

ANTHROPIC = "http://anthropic.test"
SSE_BODY = (
    b'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1","type":"message",'
    b'"role":"assistant","model":"claude-x","content":[],"stop_reason":null,"stop_sequence":null,'
    b'"usage":{"input_tokens":25,"output_tokens":1}}}\n\n'
    b'event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":'
    b'{"type":"text","text":""}}\n\n'
    b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta",'
    b'"text":"Hi"}}\n\n'
    b'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n'
    b'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},'
    b'"usage":{"output_tokens":9}}\n\n'
    b'event: message_stop\ndata: {"type":"message_stop"}\n\n'
)


@pytest.fixture
def anthropic_gateway(transactional_db, settings):
    settings.AUTH_MODE = "keys"
    provider = make_provider(name="claude", kind="anthropic", base_url=ANTHROPIC, api_key="sk-ant-provider-key")
    make_route(provider, pattern="claude-*", target_model="claude-sonnet-4-5")
    _, secret = make_key()
    yield secret
    assert writer.flush(10.0), "usage rows were still queued at the end of the test"


async def test_a_stream_is_relayed_byte_for_byte_with_the_providers_key(anthropic_gateway, upstream, async_client):
    route = upstream.post(f"{ANTHROPIC}/v1/messages").mock(
        return_value=httpx.Response(
            200, content=SSE_BODY, headers={"content-type": "text/event-stream", "request-id": "req_upstream"}
        )
    )
    response = await async_client.post(
        "/v1/messages?beta=true",
        data=json.dumps(messages_body(stream=True)),
        content_type="application/json",
        headers={
            "x-api-key": anthropic_gateway,
            "anthropic-beta": "interleaved-thinking-2025-05-14",
            "anthropic-version": "2023-06-01",
        },
    )
    relayed = b"".join([part async for part in response.streaming_content])
    assert relayed == SSE_BODY
    sent = route.calls.last.request
    assert sent.url.query == b"beta=true"
    assert sent.headers["x-api-key"] == "sk-ant-provider-key"
    assert anthropic_gateway not in str(sent.headers)
    assert sent.headers["anthropic-beta"] == "interleaved-thinking-2025-05-14"
    assert json.loads(sent.content)["model"] == "claude-sonnet-4-5"
    assert response["upstream-request-id"] == "req_upstream" and response["request-id"].startswith("req_")
    [row] = await usage_rows()
    assert (row.input_tokens, row.output_tokens, row.status) == (25, 9, 200)


async def test_proxy_made_thinking_blocks_are_removed_before_forwarding(anthropic_gateway, upstream, async_client):
    route = upstream.post(f"{ANTHROPIC}/v1/messages").mock(
        return_value=httpx.Response(
            200,
            json={
                "id": "msg_1",
                "type": "message",
                "role": "assistant",
                "model": "claude-x",
                "content": [],
                "stop_reason": "end_turn",
                "stop_sequence": None,
                "usage": {"input_tokens": 5, "output_tokens": 1},
            },
        )
    )
    history = [
        {"role": "user", "content": "hi"},
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "hmm", "signature": thinking_signature("hmm")},
                {"type": "text", "text": "Hello"},
                {"type": "tool_use", "id": "functions.Bash:0", "name": "Bash", "input": {}},
            ],
        },
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "functions.Bash:0", "content": "ok"}]},
    ]
    response = await async_client.post(
        "/v1/messages",
        data=json.dumps(messages_body(messages=history)),
        content_type="application/json",
        headers={"x-api-key": anthropic_gateway},
    )
    assert response.status_code == 200
    sent = json.loads(route.calls.last.request.content)["messages"]
    assert [b["type"] for b in sent[1]["content"]] == ["text", "tool_use"]
    assert sent[1]["content"][1]["id"] == sent[2]["content"][0]["tool_use_id"]
    assert all(c.isalnum() or c in "_-" for c in sent[1]["content"][1]["id"])


async def test_count_tokens_is_forwarded_to_the_anthropic_upstream(anthropic_gateway, upstream, async_client):
    route = upstream.post(f"{ANTHROPIC}/v1/messages/count_tokens").mock(
        return_value=httpx.Response(200, json={"input_tokens": 42})
    )
    response = await async_client.post(
        "/v1/messages/count_tokens?beta=true",
        content_type="application/json",
        data=json.dumps({"model": "claude-opus-4-8", "messages": [{"role": "user", "content": "hi"}]}),
        headers={"x-api-key": anthropic_gateway},
    )
    assert response.json() == {"input_tokens": 42}
    assert route.calls.last.request.url.query == b"beta=true"


async def test_an_upstream_error_is_returned_as_the_upstream_sent_it(anthropic_gateway, upstream, async_client):
    error = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    upstream.post(f"{ANTHROPIC}/v1/messages").mock(return_value=httpx.Response(529, json=error))
    response = await async_client.post(
        "/v1/messages",
        data=json.dumps(messages_body()),
        content_type="application/json",
        headers={"x-api-key": anthropic_gateway},
    )
    assert response.status_code == 529 and response.json() == error
    [row] = await usage_rows()
    assert (row.status, row.error_type) == (529, "overloaded_error")


OVERLOADED = httpx.Response(529, json={"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
STREAM_OK = httpx.Response(200, content=SSE_BODY, headers={"content-type": "text/event-stream"})
NO_RETRY = httpx.Response(
    429,
    json={"type": "error", "error": {"type": "rate_limit_error", "message": "Quota exhausted"}},
    headers={"x-should-retry": "false"},
)
BAD = httpx.Response(400, json={"type": "error", "error": {"type": "invalid_request_error", "message": "Bad"}})


@pytest.mark.parametrize(
    ("answers", "status", "calls"),
    [
        ([OVERLOADED, STREAM_OK], 200, 2),  # retried, then the stream is relayed
        ([httpx.ConnectError("refused"), STREAM_OK], 200, 2),
        ([OVERLOADED, OVERLOADED, OVERLOADED], 529, 3),  # retries used up: the last answer as it came
        ([BAD, STREAM_OK], 400, 1),  # a client error is not retried
        ([NO_RETRY, STREAM_OK], 429, 1),  # nor what the upstream says not to retry
    ],
    ids=["overloaded-then-ok", "connect-error-then-ok", "always-overloaded", "bad-request", "should-retry-false"],
)
async def test_pass_through_retries_before_the_first_byte(
    anthropic_gateway, upstream, async_client, answers, status, calls
):
    await sync_to_async(Provider.objects.filter(name="claude").update)(max_retries=2)
    route = upstream.post(f"{ANTHROPIC}/v1/messages").mock(side_effect=answers)
    response = await async_client.post(
        "/v1/messages",
        data=json.dumps(messages_body(stream=True)),
        content_type="application/json",
        headers={"x-api-key": anthropic_gateway},
    )
    body = b"".join([part async for part in response.streaming_content]) if response.streaming else response.content
    assert response.status_code == status and route.call_count == calls
    if status == 200:
        assert body == SSE_BODY
    else:
        assert json.loads(body) == json.loads(answers[calls - 1].content)
    [row] = await usage_rows()
    assert (row.status, row.attempts) == (status, calls)
