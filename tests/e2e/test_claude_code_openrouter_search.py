"""The real Claude Code CLI's WebSearch through a Chat Completions provider that searches: OpenRouter.

This module's gateway runs provider `env` with profile `openrouter` against the fake Chat Completions
upstream. Claude Code's search request (Anthropic's `web_search_20250305` server tool) goes upstream
with OpenRouter's `web` plugin; the answer's `url_citation` annotations must reach Claude Code as
search results it hands back to the model.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.servers import BIG, GatewayDidNotStart, gateway_env, serving
from tests.e2e.test_claude_code import tool_exchange
from tests.fakes.openai_upstream import FakeUpstream, Text, ToolCall

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def fake_upstream() -> Iterator[FakeUpstream]:
    with FakeUpstream().running() as fake:
        yield fake


@pytest.fixture(scope="module")
def gateway(fake_upstream, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("openrouter-gateway")
    try:
        with serving(tmp, gateway_env(tmp, fake_upstream.base_url) | {"OPENAI_PROFILE": "openrouter"}) as gw:
            yield gw
    except GatewayDidNotStart as exc:
        pytest.fail(str(exc), pytrace=False)


def test_claude_web_search_gets_the_pages_openrouter_cited(claude, fake_upstream):
    query = "django 5.2 release date"
    page = ("https://www.djangoproject.com/weblog/2025/apr/02/django-52-released/", "Django 5.2 released")
    fake_upstream.script(
        ToolCall("WebSearch", {"query": query}, call_id="call_search_or", model=BIG),
        Text("Django 5.2 was released on 2 April 2025.", citations=(page,)),
        Text("Django 5.2 came out in April 2025.", model=BIG),
    )

    result = claude("When was Django 5.2 released? Search the web.", "--allowedTools", "WebSearch")

    assert "Django 5.2 came out in April 2025." in result.stdout
    [search] = [r for r in fake_upstream.chat_requests() if r.body.get("plugins")]
    assert search.body["plugins"] == [{"id": "web"}]
    assert "tools" not in search.body
    assert query in str(search.body["messages"])
    call, tool_message = tool_exchange(fake_upstream.chat_requests(model=BIG)[-1])
    assert (call["id"], tool_message["tool_call_id"]) == ("call_search_or", "call_search_or")
    links = str(tool_message["content"])
    assert page[0] in links and page[1] in links
    assert "Django 5.2 was released on 2 April 2025." in links
