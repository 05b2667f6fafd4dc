"""Requests reach the model their route names by what they need: a long conversation, thinking, an image
in a tool result, Anthropic's web search tool, a 1M-context beta header; the upstream records the model."""

import base64
import json

import httpx
import pytest
from asgiref.sync import sync_to_async

from tests.factories import make_route
from tests.integration.conftest import UPSTREAM, completion, messages_body, usage_rows

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10" + b"\x00" * 20).decode()
ROUTES = [
    ("long", {"min_input_tokens": 60000}, "gpt-long"),
    ("think", {"thinking": True}, "gpt-think"),
    ("vision", {"has_images": True}, "gpt-vision"),
    ("search", {"tool": "web_search*"}, "gpt-search"),
    ("beta-1m", {"header": {"anthropic-beta": "*context-1m*"}}, "gpt-1m"),
]


@pytest.fixture
def need_routes(gateway):
    """The five conditional `*sonnet*` routes before the fixture's catch-all (gpt-4o): route id by model."""
    gateway["route"].priority = 1000
    gateway["route"].save()
    made = {
        model: make_route(
            gateway["provider"],
            target_model=model,
            pattern="*sonnet*",
            name=name,
            priority=10 * (i + 1),
            conditions=when,
        ).id
        for i, (name, when, model) in enumerate(ROUTES)
    }
    return {**made, "gpt-4o": gateway["route"].id}


@pytest.fixture
def models_called(upstream):
    called = []

    def answer(request):
        called.append(json.loads(request.content)["model"])
        return httpx.Response(200, json=completion({"content": "ok"}))

    upstream.post(f"{UPSTREAM}/chat/completions").mock(side_effect=answer)
    return called


def _screenshot_result():
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}}
    return [
        {"role": "user", "content": "take a screenshot"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "Screenshot", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": [image]}]},
    ]


CASES = [
    pytest.param({"messages": [{"role": "user", "content": "word " * 70000}]}, {}, "gpt-long", id="70k-tokens"),
    pytest.param(
        {"thinking": {"type": "enabled", "budget_tokens": 2048}, "max_tokens": 4096}, {}, "gpt-think", id="thinking"
    ),
    pytest.param({"messages": _screenshot_result()}, {}, "gpt-vision", id="image-in-a-tool-result"),
    pytest.param(
        {"tools": [{"type": "web_search_20250305", "name": "web_search", "max_uses": 3}]},
        {},
        "gpt-search",
        id="web-search-server-tool",
    ),
    pytest.param({}, {"anthropic-beta": "claude-code-20250219,context-1m-2025-08-07"}, "gpt-1m", id="beta-header"),
    pytest.param({}, {"anthropic-beta": "claude-code-20250219"}, "gpt-4o", id="none-of-them"),
]


@pytest.mark.parametrize(("fields", "headers", "model"), CASES)
async def test_each_request_reaches_the_model_its_route_names(
    gateway, need_routes, models_called, async_client, fields, headers, model
):
    body = json.dumps(messages_body(model="claude-sonnet-4-5", **fields))
    response = await async_client.post(
        "/v1/messages",
        data=body,
        content_type="application/json",
        headers={"x-api-key": gateway["secret"], **headers},
    )
    assert response.status_code == 200, response.content
    assert models_called == [model]
    [row] = await usage_rows()
    assert (row.upstream_model, row.route_id) == (model, need_routes[model])


async def test_a_request_too_long_for_a_routes_window_goes_to_the_long_context_route(
    gateway, models_called, async_client
):
    short = await sync_to_async(make_route)(gateway["provider"], target_model="gpt-short", priority=10)
    await sync_to_async(short.targets.update)(context_window=16000)
    body = json.dumps(
        messages_body(
            model="claude-sonnet-4-5", max_tokens=4000, messages=[{"role": "user", "content": "word " * 13000}]
        )
    )
    headers = {"x-api-key": gateway["secret"]}
    response = await async_client.post("/v1/messages", data=body, content_type="application/json", headers=headers)
    assert response.status_code == 200
    small = json.dumps(messages_body(model="claude-sonnet-4-5", max_tokens=4000))
    await async_client.post("/v1/messages", data=small, content_type="application/json", headers=headers)
    assert models_called == ["gpt-4o", "gpt-short"]


async def test_a_request_no_window_fits_is_refused_as_too_long_before_any_call(gateway, models_called, async_client):
    await sync_to_async(gateway["route"].targets.update)(context_window=16000)
    body = json.dumps(messages_body(model="claude-sonnet-4-5", messages=[{"role": "user", "content": "word " * 20000}]))
    response = await async_client.post(
        "/v1/messages", data=body, content_type="application/json", headers={"x-api-key": gateway["secret"]}
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and error["message"].startswith("prompt is too long")
    assert models_called == []
    [row] = await usage_rows()
    assert row.status == 400


async def test_counting_a_prompt_too_long_for_every_window_still_counts_it(gateway, models_called, async_client):
    await sync_to_async(gateway["route"].targets.update)(context_window=16000)
    body = json.dumps({"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": "word " * 20000}]})
    response = await async_client.post(
        "/v1/messages/count_tokens",
        data=body,
        content_type="application/json",
        headers={"x-api-key": gateway["secret"]},
    )
    assert response.status_code == 200 and response.json()["input_tokens"] > 16000
