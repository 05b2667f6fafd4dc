"""POST /v1/messages without streaming, through the real view, with the upstream mocked by respx."""

import json

import httpx

from tests.integration.conftest import UPSTREAM, completion, messages_body, usage_rows


async def _post(async_client, secret, body, **headers):
    return await async_client.post(
        "/v1/messages?beta=true",
        data=json.dumps(body),
        content_type="application/json",
        headers={"x-api-key": secret, "anthropic-version": "2023-06-01", **headers},
    )


async def test_a_text_answer_comes_back_in_anthropic_shape(gateway, upstream, async_client):
    route = upstream.post(f"{UPSTREAM}/chat/completions").mock(
        return_value=httpx.Response(
            200,
            json=completion(
                {"content": "Hello!"},
                usage={"prompt_tokens": 1000, "completion_tokens": 50, "prompt_tokens_details": {"cached_tokens": 800}},
            ),
        )
    )
    response = await _post(
        async_client,
        gateway["secret"],
        messages_body(system=[{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}]),
    )

    assert response.status_code == 200
    message = response.json()
    assert message["id"].startswith("msg_") and message["model"] == "claude-opus-4-8"
    assert message["content"] == [{"type": "text", "text": "Hello!"}]
    assert message["stop_reason"] == "end_turn"
    assert message["usage"] == {
        "input_tokens": 200,
        "output_tokens": 50,
        "cache_read_input_tokens": 800,
        "cache_creation_input_tokens": 0,
    }
    assert response["request-id"].startswith("req_")

    sent = route.calls.last.request
    assert sent.headers["authorization"] == "Bearer sk-upstream-secret-1234"
    assert gateway["secret"] not in str(sent.headers)
    upstream_body = json.loads(sent.content)
    assert upstream_body["model"] == "gpt-4o"
    assert upstream_body["messages"] == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}]

    [row] = await usage_rows()
    assert (row.status, row.user_id, row.key_id, row.requested_model, row.upstream_model) == (
        200,
        gateway["key"].user_id,
        gateway["key"].id,
        "claude-opus-4-8",
        "gpt-4o",
    )
    assert (row.input_tokens, row.output_tokens, row.cache_read_tokens) == (200, 50, 800)
    assert row.stream is False and row.request_id == response["request-id"]


async def test_a_tool_round_trip_keeps_ids_and_arguments(gateway, upstream, async_client):
    route = upstream.post(f"{UPSTREAM}/chat/completions").mock(
        side_effect=[
            httpx.Response(
                200,
                json=completion(
                    {
                        "content": None,
                        "tool_calls": [
                            {
                                "id": "call_1",
                                "type": "function",
                                "function": {"name": "Bash", "arguments": '{"command":"ls"}'},
                            },
                            {
                                "id": "call_2",
                                "type": "function",
                                "function": {"name": "Read", "arguments": '{"path":"a"}'},
                            },
                        ],
                    },
                    finish="tool_calls",
                ),
            ),
            httpx.Response(200, json=completion({"content": "Done."})),
        ]
    )
    tools = [
        {
            "name": "Bash",
            "description": "run",
            "input_schema": {"type": "object", "properties": {"command": {"type": "string"}}},
        },
        {"name": "Read", "input_schema": {"type": "object"}},
    ]
    first = (await _post(async_client, gateway["secret"], messages_body(tools=tools))).json()
    assert first["stop_reason"] == "tool_use"
    assert [b["type"] for b in first["content"]] == ["tool_use", "tool_use"]
    assert first["content"][0] == {"type": "tool_use", "id": "call_1", "name": "Bash", "input": {"command": "ls"}}

    history = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": first["content"]},
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "call_1", "content": "file.txt"},
                {"type": "tool_result", "tool_use_id": "call_2", "content": [{"type": "text", "text": "data"}]},
            ],
        },
    ]
    second = await _post(async_client, gateway["secret"], messages_body(tools=tools, messages=history))
    assert second.json()["content"] == [{"type": "text", "text": "Done."}]
    sent = json.loads(route.calls.last.request.content)["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "tool", "tool"]
    assert [c["id"] for c in sent[1]["tool_calls"]] == ["call_1", "call_2"]
    assert json.loads(sent[1]["tool_calls"][0]["function"]["arguments"]) == {"command": "ls"}
    assert (sent[2]["tool_call_id"], sent[2]["content"]) == ("call_1", "file.txt")
    assert (sent[3]["tool_call_id"], sent[3]["content"]) == ("call_2", "data")


async def test_an_image_reaches_the_upstream_as_a_data_url(gateway, upstream, async_client):
    route = upstream.post(f"{UPSTREAM}/chat/completions").mock(
        return_value=httpx.Response(200, json=completion({"content": "A cat."}))
    )
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}}
    body = messages_body(messages=[{"role": "user", "content": [image, {"type": "text", "text": "What?"}]}])
    assert (await _post(async_client, gateway["secret"], body)).status_code == 200
    parts = json.loads(route.calls.last.request.content)["messages"][0]["content"]
    assert {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}} in parts


async def test_max_tokens_is_capped_by_the_route(gateway, upstream, async_client):
    gateway["route"].max_tokens_cap = 16384
    await gateway["route"].asave()
    route = upstream.post(f"{UPSTREAM}/chat/completions").mock(
        return_value=httpx.Response(200, json=completion({"content": "ok"}))
    )
    await _post(async_client, gateway["secret"], messages_body(max_tokens=64000))
    assert json.loads(route.calls.last.request.content)["max_tokens"] == 16384


async def test_unknown_top_level_fields_and_headers_never_break_a_call(gateway, upstream, async_client):
    route = upstream.post(f"{UPSTREAM}/chat/completions").mock(
        return_value=httpx.Response(200, json=completion({"content": "ok"}))
    )
    body = messages_body(
        context_management={"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
        brand_new_field={"x": 1},
        metadata={"user_id": '{"device_id":"abc"}'},
    )
    response = await _post(async_client, gateway["secret"], body, **{"x-brand-new": "1", "anthropic-beta": "a,b"})
    assert response.status_code == 200
    sent = json.loads(route.calls.last.request.content)
    assert "brand_new_field" not in sent and "context_management" not in sent
