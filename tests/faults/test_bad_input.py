"""Malformed requests through the live server: each is a 4xx in Anthropic's shape naming what is wrong,
never a 500, an HTML page or a stack trace, and each leaves one usage row with that status.
"""

from __future__ import annotations

import asyncio
import json
from urllib.parse import urlsplit

import httpx
import pytest

from tests.faults.live import (
    CLIENT_KEY,
    SHORT,
    assert_error_response,
    body_for,
    model_for,
    new_tag,
    one_row,
    post,
)

pytestmark = pytest.mark.e2e  # a live gateway: runs in `make test`, not again in `make test-pg`

BOUND = SHORT.hang_bound
MAX_BODY_BYTES = 64 * 1024  # the live gateway's setting (conftest)


def valid(**overrides: object) -> dict:
    body = {"model": "claude-opus-bad-input", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]}
    body.update(overrides)
    return body


def encoded(**overrides: object) -> bytes:
    return json.dumps(valid(**overrides)).encode()


def nested(depth: int, leaf: str = "1") -> str:
    return "[" * depth + leaf + "]" * depth


TEXT = {"type": "text", "text": "hi"}
CASES = [
    pytest.param(b'{"model": "claude-opus-x", "max_tokens": 5, "messages": [', "not valid JSON", id="invalid-json"),
    pytest.param(encoded().replace(b'"hi"', b'"\xff\xfe"'), "not valid JSON", id="invalid-utf8"),
    pytest.param(b"", "not valid JSON", id="empty-body"),
    pytest.param(b"[]", "JSON object", id="a-list-body"),
    pytest.param(b"null", "JSON object", id="a-null-body"),
    pytest.param(encoded(model=5), "model", id="model-not-a-string"),
    pytest.param(encoded(model=""), "model", id="model-empty"),
    pytest.param(encoded(messages="hi"), "messages", id="messages-a-string"),
    pytest.param(encoded(messages=[]), "messages", id="messages-empty"),
    pytest.param(encoded(messages=[5]), "messages.0", id="message-not-an-object"),
    pytest.param(encoded(messages=[{"role": "user", "content": 5}]), "messages.0.content", id="content-a-number"),
    pytest.param(encoded(messages=[{"role": "robot", "content": "hi"}]), "messages.0.role", id="unknown-role"),
    pytest.param(
        encoded(messages=[{"role": "user", "content": [{"type": "hologram"}]}]),
        "messages.0.content.0",
        id="unknown-block-type",
    ),
    pytest.param(
        encoded(messages=[{"role": "user", "content": [TEXT, "hi"]}]), "messages.0.content.1", id="block-a-string"
    ),
    pytest.param(
        encoded(messages=[{"role": "user", "content": [{"type": "text", "text": 5}]}]),
        "messages.0.content.0.text",
        id="text-not-a-string",
    ),
    pytest.param(
        encoded(messages=[{"role": "assistant", "content": [{"type": "tool_result", "tool_use_id": "t"}]}]),
        "messages.0.content.0",
        id="tool-result-in-an-assistant-turn",
    ),
    pytest.param(
        json.dumps({"model": "claude-opus-x", "messages": valid()["messages"]}).encode(),
        "max_tokens",
        id="no-max-tokens",
    ),
    pytest.param(encoded(max_tokens=0), "max_tokens", id="max-tokens-0"),
    pytest.param(encoded(max_tokens=-1), "max_tokens", id="max-tokens-negative"),
    pytest.param(encoded(max_tokens=10**12), "max_tokens", id="max-tokens-huge"),
    pytest.param(encoded(max_tokens=2**70), "max_tokens", id="max-tokens-beyond-64-bits"),
    pytest.param(encoded(max_tokens="16"), "max_tokens", id="max-tokens-a-string"),
    pytest.param(encoded(max_tokens=1.5), "max_tokens", id="max-tokens-a-float"),
    pytest.param(encoded(max_tokens=True), "max_tokens", id="max-tokens-a-boolean"),
    pytest.param(encoded(stream="yes"), "stream", id="stream-not-a-boolean"),
    pytest.param(encoded(temperature=7), "temperature", id="temperature-out-of-range"),
    pytest.param(encoded(system=5), "system", id="system-a-number"),
    pytest.param(encoded(tools={"name": "x"}), "tools", id="tools-not-a-list"),
    pytest.param(encoded(tools=[{"input_schema": {}}]), "tools.0.name", id="tool-without-a-name"),
    pytest.param(encoded(tool_choice={"type": "sometimes"}), "tool_choice.type", id="unknown-tool-choice"),
    pytest.param(encoded(thinking={"type": "enabled", "budget_tokens": 5}), "thinking.budget_tokens", id="tiny-budget"),
    pytest.param(nested(10_000).encode(), "not valid JSON", id="10000-nested-lists"),
    pytest.param(
        encoded(metadata={"user_id": "u", "deep": "#"}).replace(b'"#"', nested(10_000).encode()),
        "JSON",
        id="10000-nested-lists-inside-a-field",
    ),
]


@pytest.mark.parametrize(("raw", "mentions"), CASES)
async def test_a_malformed_request_is_a_400_naming_the_problem(live_gateway, raw, mentions):
    reply = await post(live_gateway, raw, bound=BOUND)

    body = assert_error_response(reply, 400, "invalid_request_error", mentions=mentions)
    assert reply.headers.get("x-should-retry") == "false", "retrying the same body cannot help"
    row = one_row(live_gateway, request_id=body["request_id"])
    assert (row["status"], row["error_type"]) == (400, "invalid_request_error")


async def test_a_path_names_the_exact_offending_block(live_gateway):
    messages = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": [{"type": "text", "text": "ok"}]},
        {"role": "user", "content": [TEXT, TEXT, {"type": "hologram"}]},
    ]

    reply = await post(live_gateway, valid(messages=messages), bound=BOUND)

    body = assert_error_response(reply, 400, "invalid_request_error")
    assert body["error"]["message"].startswith("messages.2.content.2"), body["error"]["message"]


def with_deep(body: dict, levels: int) -> bytes:
    """`body` with its "@" placeholder replaced by a JSON schema `levels` deep (built as text: the stdlib's
    encoder would recurse)."""
    half = levels // 2
    deep = '{"type":"object","properties":{"x":' * half + '{"type":"string"}' + "}}" * half
    return json.dumps(body).replace('"@"', deep).encode()


def deep_bodies() -> dict[str, tuple[str, dict]]:
    use = {"type": "tool_use", "id": "toolu_1", "name": "t", "input": "@"}
    result = {"type": "tool_result", "tool_use_id": "toolu_1", "content": "done"}
    history = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": [use]},
        {"role": "user", "content": [result]},
    ]
    tools = [{"name": "t", "input_schema": "@"}]
    return {
        "tool-schema": ("/v1/messages", valid(tools=tools)),
        "tool-use-input": ("/v1/messages", valid(messages=history)),
        "tool-use-input-streamed": ("/v1/messages", valid(messages=history, stream=True)),
        "metadata": ("/v1/messages", valid(metadata={"x": "@"})),
        "count-tokens-schema": ("/v1/messages/count_tokens", valid(tools=tools)),
        "count-tokens-input": ("/v1/messages/count_tokens", valid(messages=history)),
    }


@pytest.mark.parametrize("levels", [260, 1000])
@pytest.mark.parametrize("where", list(deep_bodies()))
async def test_json_nested_over_200_levels_is_a_400_not_a_500(live_gateway, where, levels):
    """orjson decodes up to 1,024 levels but encodes only 255, and the stdlib's encoder recurses: before
    the edge check, 252 levels in a tool schema and ~1,000 in a tool input or count_tokens body were 500s."""
    path, body = deep_bodies()[where]

    reply = await post(live_gateway, with_deep(body, levels), bound=BOUND, path=path)

    payload = assert_error_response(reply, 400, "invalid_request_error", mentions="nested more than 200 levels")
    row = one_row(live_gateway, request_id=payload["request_id"])
    assert (row["status"], row["error_type"]) == (400, "invalid_request_error")


async def test_a_tool_schema_nested_190_levels_deep_is_forwarded(live_gateway, fault_upstream):
    tag = new_tag()
    body = body_for(tag, "ok", stream=False, tools=[{"name": "t", "input_schema": "@"}])

    reply = await post(live_gateway, with_deep(body, 190), bound=BOUND)

    assert reply.status == 200, reply.text[:500]
    [req] = fault_upstream.requests_for(tag)
    assert json.dumps(req.body["tools"]).count('"properties"') == 95


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_a_body_over_max_body_bytes_is_a_413_request_too_large(live_gateway, fault_upstream, stream):
    tag = new_tag()
    body = body_for(tag, "ok", stream=stream, system="x" * (MAX_BODY_BYTES + 1))

    reply = await post(live_gateway, body, bound=BOUND)

    payload = assert_error_response(reply, 413, "request_too_large", mentions=str(MAX_BODY_BYTES))
    assert fault_upstream.requests_for(tag) == [], "nothing reached the upstream"
    row = one_row(live_gateway, request_id=payload["request_id"])
    assert (row["status"], row["error_type"]) == (413, "request_too_large")


async def test_a_tool_result_answering_no_tool_use_is_relayed_as_user_text(live_gateway, fault_upstream):
    """protocol.md §2 (repair pass) and conformance case 18: an orphan result becomes user text, not a 400."""
    tag = new_tag()
    body = body_for(tag, "ok", stream=False)
    orphan = {"type": "tool_result", "tool_use_id": "toolu_nobody", "content": "42"}
    body["messages"] = [{"role": "user", "content": [orphan, {"type": "text", "text": body["messages"][0]["content"]}]}]

    reply = await post(live_gateway, body, bound=BOUND)

    assert reply.status == 200, reply.text
    [req] = fault_upstream.requests_for(tag)
    sent = req.body["messages"]
    assert all(m["role"] != "tool" for m in sent), sent
    assert "[result of tool call toolu_nobody]: 42" in json.dumps(sent)
    assert one_row(live_gateway, requested_model=model_for(tag))["status"] == 200


async def test_a_wrong_method_is_a_405_in_anthropic_shape(live_gateway):
    async with httpx.AsyncClient(timeout=BOUND) as client:
        response = await client.get(live_gateway.url + "/v1/messages", headers={"x-api-key": CLIENT_KEY})
    body = response.json()
    assert response.status_code == 405 and body["type"] == "error", response.text
    assert body["error"]["type"] == "invalid_request_error" and body["request_id"] == response.headers["request-id"]


async def raw_exchange(gw, request: bytes) -> tuple[bytes, bytes]:
    url = urlsplit(gw.url)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    writer.write(request)
    await writer.drain()
    async with asyncio.timeout(BOUND):
        raw = await reader.read(-1)
    writer.close()
    head, _, content = raw.partition(b"\r\n\r\n")
    return head, content


def request_bytes(target: bytes, payload: bytes) -> bytes:
    head = f"x-api-key: {CLIENT_KEY}\r\ncontent-type: application/json\r\ncontent-length: {len(payload)}\r\n"
    return b"POST " + target + b" HTTP/1.1\r\nhost: gw\r\nconnection: close\r\n" + head.encode() + b"\r\n" + payload


async def test_raw_invalid_bytes_in_the_request_line_are_refused_by_the_server_without_a_page(live_gateway):
    """uvicorn's parser refuses the request line before the app runs: a plain-text 400, no HTML, no trace."""
    head, content = await raw_exchange(live_gateway, request_bytes(b"/v1/messages?beta=\xff\xfe", encoded()))

    assert head.startswith(b"HTTP/1.1 400 "), head
    assert b"text/html" not in head.lower() and b"traceback" not in content.lower(), (head, content)


async def test_percent_encoded_invalid_utf8_in_the_query_is_ignored(live_gateway, fault_upstream):
    tag = new_tag()
    body = json.dumps(body_for(tag, "ok", stream=False)).encode()

    head, content = await raw_exchange(live_gateway, request_bytes(b"/v1/messages?beta=%ff%fe", body))

    assert head.startswith(b"HTTP/1.1 200 "), (head, content)
    assert json.loads(content)["content"][0]["text"] == f"Answer for {tag}."
    assert one_row(live_gateway, requested_model=model_for(tag))["status"] == 200
