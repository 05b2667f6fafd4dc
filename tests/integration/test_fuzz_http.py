"""Fuzzing the HTTP edge: whatever bytes a client posts, the answer is never a 5xx, every 4xx is an
Anthropic-shaped JSON error, and every request leaves exactly one usage row.

Bodies are random bytes, random JSON, or near-valid Messages bodies (the translator fuzz's generator),
sent to `/v1/messages` and `/v1/messages/count_tokens` through the real views; the upstream (respx)
always answers healthily, so any 5xx would be the gateway's own.
"""

from __future__ import annotations

import json
from typing import Any, get_args

import httpx
import pytest
from asgiref.sync import sync_to_async
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.accounting.usage import writer
from api.translate.types import ErrorType
from routing.models import UsageLog
from tests.integration.conftest import UPSTREAM, chunk, completion, sse
from tests.unit.translate.test_fuzz_request import bodies as near_valid_bodies
from tests.unit.translate.test_fuzz_request import json_values

ERROR_TYPES = set(get_args(ErrorType))
EDGE = settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _encode(value: Any) -> bytes:
    return json.dumps(value).encode()


def _nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def _deep_tool_schema(depth: int) -> bytes:
    """A valid body whose tool schema is `depth` objects deep (as text: the stdlib encoder would recurse)."""
    body = {"model": "claude-opus-4-8", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}
    body["tools"] = [{"name": "t", "input_schema": "@"}]
    deep = b'{"type":"object","properties":{"x":' * depth + b"{}" + b"}}" * depth
    return _encode(body).replace(b'"@"', deep)


raw_bodies = st.one_of(
    near_valid_bodies.map(_encode),
    near_valid_bodies.map(_encode),
    near_valid_bodies.map(_encode).flatmap(lambda raw: st.integers(0, len(raw)).map(lambda cut: raw[:cut])),
    json_values.map(_encode),
    st.binary(max_size=64),
    st.integers(1, 3000).map(_nested),
    st.integers(1, 600).map(_deep_tool_schema),
    st.sampled_from([b"", b"{}", b"null", b'"\xff"', b"{" * 5000, b'{"model":"\xc3\x28"}', b"\x00" * 10]),
)


def _healthy_upstream(request: httpx.Request) -> httpx.Response:
    if json.loads(request.content).get("stream"):
        chunks = [chunk({"role": "assistant", "content": "ok"}), chunk(finish="stop"), "data: [DONE]\n\n"]
        return httpx.Response(200, content=sse(*chunks), headers={"content-type": "text/event-stream"})
    return httpx.Response(200, json=completion({"content": "ok"}))


def _assert_anthropic_error(response) -> None:
    assert response["content-type"] == "application/json", response.headers
    body = json.loads(response.content)
    assert set(body) == {"type", "error", "request_id"} and body["type"] == "error", body
    assert body["error"]["type"] in ERROR_TYPES and isinstance(body["error"]["message"], str), body
    assert body["request_id"] == response["request-id"], body


@pytest.fixture
def healthy_upstream(upstream):
    upstream.post(f"{UPSTREAM}/chat/completions").mock(side_effect=_healthy_upstream)
    return upstream


@EDGE
@given(raw=raw_bodies, path=st.sampled_from(["/v1/messages", "/v1/messages/count_tokens"]))
async def test_no_posted_body_makes_the_gateway_answer_a_5xx(gateway, healthy_upstream, async_client, raw, path):
    response = await async_client.post(
        path, data=raw, content_type="application/json", headers={"x-api-key": gateway["secret"]}
    )

    if response.streaming:
        content = b"".join([part async for part in response.streaming_content])
        assert response["content-type"] == "text/event-stream" and content.startswith(b"event: message_start"), content
    assert response.status_code < 500, response.content[:500]
    if response.status_code >= 400:
        _assert_anthropic_error(response)
    assert await sync_to_async(writer.flush)(10.0), "usage writer did not drain"
    rows = [row async for row in UsageLog.objects.filter(request_id=response["request-id"])]
    assert [row.status for row in rows] == [response.status_code]
