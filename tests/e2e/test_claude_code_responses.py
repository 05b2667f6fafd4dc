"""The real Claude Code CLI through a provider of kind `openai-responses`, with a fake `/v1/responses`.

This module's gateway is its own: provider `env` switched to the Responses API and pointed at a real
local Responses fake (`tests.fakes.responses_upstream`). Claude Code's WebSearch tool runs a second
request carrying Anthropic's `web_search_20250305` server tool; the gateway asks the Responses API to
search, and the hits must come back to Claude Code as `web_search_tool_result` blocks.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from tests.e2e.servers import BIG, GatewayDidNotStart, gateway_env, serving
from tests.fakes.openai_upstream import Text, ToolCall
from tests.fakes.responses_upstream import FakeResponsesUpstream, Search

pytestmark = pytest.mark.e2e

SWITCH_TO_RESPONSES = (
    "from routing.models import Provider; p = Provider.objects.get(name='env');"
    " p.kind = Provider.Kind.OPENAI_RESPONSES; p.save()"
)


@pytest.fixture(scope="module")
def fake_upstream() -> Iterator[FakeResponsesUpstream]:
    with FakeResponsesUpstream().running() as fake:
        yield fake


@pytest.fixture(scope="module")
def gateway(fake_upstream, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("responses-gateway")
    env = gateway_env(tmp, fake_upstream.base_url) | {"CACHE_SECONDS": "0.2"}
    try:
        with serving(tmp, env) as gw:
            gw.manage("shell", "-c", SWITCH_TO_RESPONSES)
            time.sleep(0.5)  # the serving process reloads its routes after CACHE_SECONDS
            yield gw
    except GatewayDidNotStart as exc:
        pytest.fail(str(exc), pytrace=False)


def input_items(request, kind: str) -> list[dict]:
    return [item for item in request.body["input"] if item.get("type") == kind]


def test_claude_writes_a_file_through_the_responses_api(claude, fake_upstream, workdir):
    target = workdir / "greeting.txt"
    arguments = {"file_path": str(target), "content": "hello through the Responses API\n"}
    fake_upstream.script(
        ToolCall("Write", arguments, call_id="call_write_r1", fragments=6, model=BIG),
        Text("I wrote greeting.txt through the Responses API.", model=BIG),
    )

    result = claude("Create greeting.txt", "--allowedTools", "Write", "--permission-mode", "acceptEdits")

    assert "I wrote greeting.txt through the Responses API." in result.stdout
    assert target.read_text() == "hello through the Responses API\n"
    first, follow_up = fake_upstream.chat_requests(model=BIG)
    assert first.path == "/v1/responses"
    assert (first.body["stream"], first.body["store"]) == (True, False)
    assert {"Bash", "Read", "Write", "Edit"} <= {tool["name"] for tool in first.body["tools"]}
    [call] = input_items(follow_up, "function_call")
    assert (call["call_id"], call["name"]) == ("call_write_r1", "Write")
    assert json.loads(call["arguments"]) == arguments
    [output] = input_items(follow_up, "function_call_output")
    assert output["call_id"] == "call_write_r1"
    assert "File created successfully" in str(output["output"]) and str(target) in str(output["output"])
    assert {r.path for r in fake_upstream.requests} == {"/v1/responses"}


def test_claude_web_search_gets_the_results_the_responses_api_found(claude, fake_upstream):
    query = "django 5.2 release date"
    results = [("https://www.djangoproject.com/weblog/2025/apr/02/django-52-released/", "Django 5.2 released")]
    fake_upstream.script(
        ToolCall("WebSearch", {"query": query}, call_id="call_search_1", model=BIG),
        Search(query, results, "Django 5.2 was released on 2 April 2025."),
        Text("Django 5.2 came out in April 2025.", model=BIG),
    )

    result = claude("When was Django 5.2 released? Search the web.", "--allowedTools", "WebSearch")

    assert "Django 5.2 came out in April 2025." in result.stdout
    [search] = [r for r in fake_upstream.chat_requests() if {"type": "web_search"} in (r.body.get("tools") or [])]
    assert search.body["include"] == ["web_search_call.action.sources"]
    assert query in json.dumps(search.body["input"])
    follow_up = fake_upstream.chat_requests(model=BIG)[-1]
    [output] = input_items(follow_up, "function_call_output")
    assert output["call_id"] == "call_search_1"
    assert results[0][0] in str(output["output"])
    assert "Django 5.2 was released on 2 April 2025." in str(output["output"])
