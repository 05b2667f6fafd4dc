"""Anthropic's web_search server tool: searched by a Responses provider, answered as unavailable elsewhere."""

from __future__ import annotations

import json

import httpx
import pytest

from api.accounting.usage import writer
from tests.factories import make_key, make_provider, make_route
from tests.integration.conftest import UPSTREAM, chunk, completion, messages_body, read_stream, sse, usage_rows

WEB_SEARCH = {"type": "web_search_20250305", "name": "web_search", "max_uses": 8}
BASH = {"name": "Bash", "input_schema": {"type": "object", "properties": {"command": {"type": "string"}}}}
SEARCH_BODY = messages_body(
    tools=[WEB_SEARCH], messages=[{"role": "user", "content": "Perform a web search for the query: django 5.2"}]
)
UNAVAILABLE = {"type": "web_search_tool_result_error", "error_code": "unavailable"}


async def post(async_client, secret: str, body: dict):
    return await async_client.post(
        "/v1/messages", data=json.dumps(body), content_type="application/json", headers={"x-api-key": secret}
    )


@pytest.fixture
def responses_gateway(transactional_db, settings):
    settings.AUTH_MODE = "keys"
    provider = make_provider(name="responses", kind="openai-responses", base_url=UPSTREAM, profile="openai")
    make_route(provider, target_model="gpt-4.1")
    yield make_key()[1]
    assert writer.flush(10.0)


async def test_a_responses_provider_searches_and_the_client_gets_the_results_and_citations(
    responses_gateway, upstream, async_client
):
    action = {"type": "search", "query": "django 5.2", "sources": [{"type": "url", "url": "https://djangoproject.com"}]}
    annotation = {
        "type": "url_citation",
        "url": "https://djangoproject.com",
        "title": "Django",
        "start_index": 0,
        "end_index": 6,
    }
    output = [
        {"type": "web_search_call", "id": "ws_1", "status": "completed", "action": action},
        {
            "type": "message",
            "content": [{"type": "output_text", "text": "Django 5.2 is out.", "annotations": [annotation]}],
        },
    ]
    route = upstream.post(f"{UPSTREAM}/responses").mock(
        return_value=httpx.Response(
            200, json={"status": "completed", "output": output, "usage": {"input_tokens": 30, "output_tokens": 9}}
        )
    )
    reply = (await post(async_client, responses_gateway, SEARCH_BODY)).json()
    use, result, text = reply["content"]
    assert use["type"] == "server_tool_use" and use["input"] == {"query": "django 5.2"}
    assert result["tool_use_id"] == use["id"]
    assert [(r["type"], r["url"]) for r in result["content"]] == [("web_search_result", "https://djangoproject.com")]
    assert text["citations"][0]["url"] == "https://djangoproject.com" and text["citations"][0]["cited_text"] == "Django"
    assert reply["stop_reason"] == "end_turn"
    assert json.loads(route.calls.last.request.content)["tools"] == [{"type": "web_search"}]


async def test_a_chat_provider_that_cannot_search_answers_the_call_as_unavailable(gateway, upstream, async_client):
    call = {
        "index": 0,
        "id": "call_1",
        "type": "function",
        "function": {"name": "web_search", "arguments": '{"query":"django 5.2"}'},
    }
    route = upstream.post(f"{UPSTREAM}/chat/completions").mock(
        return_value=httpx.Response(
            200,
            content=sse(
                chunk({"content": "Let me search."}),
                chunk({"tool_calls": [call]}),
                chunk(finish="tool_calls"),
                chunk(choices=False, usage={"prompt_tokens": 20, "completion_tokens": 5}),
                "data: [DONE]\n\n",
            ),
        )
    )
    events = await read_stream(await post(async_client, gateway["secret"], {**SEARCH_BODY, "stream": True}))
    starts = [(e["index"], e["content_block"]) for e in events if e["type"] == "content_block_start"]
    assert starts == [
        (0, {"type": "text", "text": ""}),
        (1, {"type": "server_tool_use", "id": "call_1", "name": "web_search", "input": {}}),
        (2, {"type": "web_search_tool_result", "tool_use_id": "call_1", "content": UNAVAILABLE}),
    ]
    assert [e["index"] for e in events if e["type"] == "content_block_stop"] == [0, 1, 2]
    assert events[-2]["delta"]["stop_reason"] == "end_turn"  # nothing for the client to run
    assert json.loads(route.calls.last.request.content)["tools"][0]["function"]["name"] == "web_search"
    [row] = await usage_rows()
    assert row.status == 200


async def test_a_client_tool_next_to_an_unavailable_search_still_stops_for_tool_use(gateway, upstream, async_client):
    calls = [
        {"id": "call_1", "type": "function", "function": {"name": "web_search", "arguments": '{"query":"x"}'}},
        {"id": "call_2", "type": "function", "function": {"name": "Bash", "arguments": '{"command":"ls"}'}},
    ]
    upstream.post(f"{UPSTREAM}/chat/completions").mock(
        return_value=httpx.Response(200, json=completion({"content": None, "tool_calls": calls}, finish="tool_calls"))
    )
    reply = (await post(async_client, gateway["secret"], {**SEARCH_BODY, "tools": [WEB_SEARCH, BASH]})).json()
    assert [b["type"] for b in reply["content"]] == ["server_tool_use", "web_search_tool_result", "tool_use"]
    assert reply["content"][1]["content"] == UNAVAILABLE
    assert reply["stop_reason"] == "tool_use"


async def test_blocks_after_an_unavailable_search_keep_contiguous_indices_in_a_stream(gateway, upstream, async_client):
    search = {"index": 0, "id": "call_1", "function": {"name": "web_search", "arguments": '{"query":"x"}'}}
    bash = {"index": 1, "id": "call_2", "function": {"name": "Bash", "arguments": '{"command":"ls"}'}}
    upstream.post(f"{UPSTREAM}/chat/completions").mock(
        return_value=httpx.Response(
            200,
            content=sse(
                chunk({"tool_calls": [search]}),
                chunk({"tool_calls": [bash]}),
                chunk(finish="tool_calls"),
                "data: [DONE]\n\n",
            ),
        )
    )
    body = {**SEARCH_BODY, "tools": [WEB_SEARCH, BASH], "stream": True}
    events = await read_stream(await post(async_client, gateway["secret"], body))
    blocks = [(e["index"], e["content_block"]["type"]) for e in events if e["type"] == "content_block_start"]
    assert blocks == [(0, "server_tool_use"), (1, "web_search_tool_result"), (2, "tool_use")]
    deltas = [e["index"] for e in events if e["type"] == "content_block_delta"]
    assert deltas == [0, 2]
    assert events[-2]["delta"]["stop_reason"] == "tool_use"


@pytest.fixture
def openrouter_gateway(transactional_db, settings):
    settings.AUTH_MODE = "keys"
    provider = make_provider(name="openrouter", base_url=UPSTREAM, profile="openrouter")
    make_route(provider, target_model="openai/gpt-4o")
    yield make_key()[1]
    assert writer.flush(10.0)


async def test_openrouter_searches_with_its_web_plugin_and_the_stream_shows_results(
    openrouter_gateway, upstream, async_client
):
    cited = {"url": "https://djangoproject.com", "title": "Django", "start_index": 0, "end_index": 6}
    route = upstream.post(f"{UPSTREAM}/chat/completions").mock(
        return_value=httpx.Response(
            200,
            content=sse(
                chunk({"role": "assistant", "content": "Django 5.2 is out."}),
                chunk({"content": "", "annotations": [{"type": "url_citation", "url_citation": cited}]}),
                chunk(finish="stop"),
                chunk(choices=False, usage={"prompt_tokens": 300, "completion_tokens": 6}),
                "data: [DONE]\n\n",
            ),
        )
    )
    events = await read_stream(await post(async_client, openrouter_gateway, {**SEARCH_BODY, "stream": True}))
    starts = [e["content_block"] for e in events if e["type"] == "content_block_start"]
    assert [b["type"] for b in starts] == ["text", "server_tool_use", "web_search_tool_result"]
    assert [(r["url"], r["title"]) for r in starts[2]["content"]] == [("https://djangoproject.com", "Django")]
    assert starts[2]["tool_use_id"] == starts[1]["id"]
    [cite] = [e["delta"]["citation"] for e in events if e.get("delta", {}).get("type") == "citations_delta"]
    assert (cite["url"], cite["cited_text"]) == ("https://djangoproject.com", "Django")
    assert events[-2]["delta"]["stop_reason"] == "end_turn"
    sent = json.loads(route.calls.last.request.content)
    assert sent["plugins"] == [{"id": "web"}] and "tools" not in sent
    [row] = await usage_rows()
    assert (row.status, row.input_tokens, row.output_tokens) == (200, 300, 6)
