"""Web search on Chat Completions searchers: OpenRouter's `web` plugin and OpenAI search models.

The request asks the upstream to search (no `web_search` function offered); the answer's `url_citation`
annotations come back as A `server_tool_use` + `web_search_tool_result` blocks and text citations,
stream and non-stream.
"""

from __future__ import annotations

from typing import Any

import pytest

from api.translate import ids
from api.translate.profiles import PROFILES, profile_for
from api.translate.request import to_openai_request
from api.translate.response import to_anthropic_message
from api.translate.validate import validate_request
from tests.unit.translate.stream_events import (
    DONE,
    delta,
    make_ctx,
    message_end,
    message_start,
    replay,
    start_text,
    stop,
    usage_of,
)
from tests.unit.translate.stream_events import chunk as o_chunk

WEB_SEARCH = {"type": "web_search_20250305", "name": "web_search", "max_uses": 8}
BASH = {"name": "Bash", "input_schema": {"type": "object", "properties": {}}}
QUESTION = "Perform a web search for the query: django 5.2"
DJANGO, DOCS = "https://www.djangoproject.com/", "https://docs.djangoproject.com/"
SRV_ID = "srvtoolu_" + "S" * 24


def body(**overrides: Any) -> dict:
    base = {"model": "claude-haiku-4-5", "max_tokens": 100, "messages": [{"role": "user", "content": QUESTION}]}
    return validate_request(base | {"tools": [WEB_SEARCH]} | overrides)


def annotation(url: str, title: str, start: int, end: int) -> dict:
    """An annotation as Chat Completions sends it: the fields nested under `url_citation`."""
    cited = {"url": url, "title": title, "start_index": start, "end_index": end, "content": "snippet"}
    return {"type": "url_citation", "url_citation": cited}


@pytest.fixture(autouse=True)
def fixed_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ids, "new_message_id", lambda: "msg_test")
    monkeypatch.setattr(ids, "random_base62", lambda n: "S" * n)


# --- the request ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("profile", "model", "request_body", "expected"),
    [
        pytest.param(
            "openrouter", "openai/gpt-4o", body(), {"plugins": [{"id": "web"}]}, id="openrouter_asks_the_web_plugin"
        ),
        pytest.param("openrouter", "openai/gpt-4o:online", body(), {}, id="an_online_slug_already_searches"),
        pytest.param(
            "openai", "gpt-4o-search-preview", body(), {"web_search_options": {}}, id="openai_search_model_options"
        ),
        pytest.param(
            "openai",
            "gpt-5-search-api",
            body(tools=[WEB_SEARCH | {"user_location": {"type": "approximate", "city": "Paris", "country": "FR"}}]),
            {
                "web_search_options": {
                    "user_location": {"type": "approximate", "approximate": {"city": "Paris", "country": "FR"}}
                }
            },
            id="the_user_location_in_the_nested_chat_shape",
        ),
    ],
)
def test_a_searching_profile_asks_the_upstream_to_search_and_offers_no_search_function(
    profile, model, request_body, expected
):
    out, ctx = to_openai_request(request_body, upstream_model=model, profile=profile_for(profile, model))

    assert {k: out[k] for k in ("plugins", "web_search_options") if k in out} == expected
    assert "tools" not in out and "tool_choice" not in out
    assert (ctx.web_search, ctx.search_upstream, ctx.search_query) == ("web_search", True, QUESTION)


def test_other_tools_stay_functions_next_to_the_plugin():
    request_body = body(tools=[WEB_SEARCH, BASH], tool_choice={"type": "tool", "name": "web_search"})
    out, _ = to_openai_request(request_body, upstream_model="x-ai/grok-4", profile=PROFILES["openrouter"])

    assert [t["function"]["name"] for t in out["tools"]] == ["Bash"]
    assert "tool_choice" not in out  # the forced tool is the upstream's own search now
    assert out["plugins"] == [{"id": "web"}]


@pytest.mark.parametrize(
    ("profile", "model"),
    [("openai", "gpt-4o"), ("openai", "gpt-5"), ("azure", "gpt-4o-search-preview"), ("generic", "llama3-search-api")],
)
def test_a_profile_that_cannot_search_offers_the_function_and_asks_for_no_search(profile, model):
    out, ctx = to_openai_request(body(), upstream_model=model, profile=profile_for(profile, model))

    assert [t["function"]["name"] for t in out["tools"]] == ["web_search"]
    assert "plugins" not in out and "web_search_options" not in out
    assert (ctx.web_search, ctx.search_upstream) == ("web_search", False)


@pytest.mark.parametrize(("model", "kept"), [("gpt-4o-mini-search-preview", False), ("gpt-4o-mini", True)])
def test_openai_search_models_get_no_temperature_or_top_p(model, kept):
    request_body = validate_request(
        {"model": "claude-haiku-4-5", "max_tokens": 9, "messages": [{"role": "user", "content": "hi"}]}
        | {"temperature": 0.2, "top_p": 0.9}
    )
    out, _ = to_openai_request(request_body, upstream_model=model, profile=profile_for("openai", model))

    assert ("temperature" in out, "top_p" in out) == (kept, kept)


def test_without_the_search_tool_a_searching_profile_sends_nothing_extra():
    out, ctx = to_openai_request(body(tools=[BASH]), upstream_model="openai/gpt-4o", profile=PROFILES["openrouter"])

    assert "plugins" not in out and ctx.search_upstream is False


# --- the answer -------------------------------------------------------------------------------

TEXT = "Django 5.2 is out. Docs are online."
USE = {"type": "server_tool_use", "id": SRV_ID, "name": "web_search", "input": {"query": QUESTION}}
RESULT = {
    "type": "web_search_tool_result",
    "tool_use_id": SRV_ID,
    "content": [
        {"type": "web_search_result", "url": DJANGO, "title": "Django", "encrypted_content": ""},
        {"type": "web_search_result", "url": DOCS, "title": "Docs", "encrypted_content": ""},
    ],
}


def citation(url: str, title: str, cited: str) -> dict:
    return {
        "type": "web_search_result_location",
        "url": url,
        "title": title,
        "encrypted_index": "",
        "cited_text": cited,
    }


CITATIONS = [citation(DJANGO, "Django", "Django 5.2 is out."), citation(DOCS, "Docs", "Docs are online.")]
ANNOTATIONS = [annotation(DJANGO, "Django", 0, 18), annotation(DOCS, "Docs", 19, 35)]


def completion(message: dict) -> dict:
    usage = {"prompt_tokens": 40, "completion_tokens": 9}
    return {
        "choices": [{"index": 0, "message": {"role": "assistant"} | message, "finish_reason": "stop"}],
        "usage": usage,
    }


@pytest.mark.parametrize(
    ("message", "searched", "content"),
    [
        pytest.param(
            {"content": TEXT, "annotations": ANNOTATIONS},
            True,
            [USE, RESULT, {"type": "text", "text": TEXT, "citations": CITATIONS}],
            id="citations_become_a_search_and_cited_text",
        ),
        pytest.param(
            {"content": TEXT, "annotations": [*ANNOTATIONS, annotation(DJANGO, "Django", 0, 6)]},
            True,
            [
                USE,
                RESULT,
                {"type": "text", "text": TEXT, "citations": [*CITATIONS, citation(DJANGO, "Django", "Django")]},
            ],
            id="a_page_cited_twice_is_one_result",
        ),
        pytest.param(
            {"content": TEXT, "annotations": [{"type": "file_citation", "file_id": "f"}]},
            True,
            [{"type": "text", "text": TEXT}],
            id="no_url_citation_no_search_blocks",
        ),
        pytest.param(
            {"content": TEXT, "annotations": "garbage"},
            True,
            [{"type": "text", "text": TEXT}],
            id="annotations_not_a_list",
        ),
        pytest.param(
            {"content": TEXT, "annotations": [{"type": "url_citation", "url_citation": "x"}, annotation(5, "t", 0, 1)]},
            True,
            [{"type": "text", "text": TEXT}],
            id="citations_without_a_url_string",
        ),
        pytest.param(
            {"content": TEXT, "annotations": ANNOTATIONS},
            False,
            [{"type": "text", "text": TEXT}],
            id="an_upstream_not_asked_to_search_keeps_plain_text",
        ),
    ],
)
def test_a_searched_completion_shows_the_search_and_its_citations(message, searched, content):
    ctx = make_ctx(web_search="web_search", search_upstream=searched, search_query=QUESTION)

    reply = to_anthropic_message(completion(message), ctx)

    assert reply["content"] == content
    assert reply["stop_reason"] == "end_turn"


# --- the stream -------------------------------------------------------------------------------


def server_blocks(first: int, result: dict = RESULT) -> list[dict]:
    use_start = {"type": "content_block_start", "index": first, "content_block": USE | {"input": {}}}
    query = {
        "type": "content_block_delta",
        "index": first,
        "delta": {"type": "input_json_delta", "partial_json": '{"query": "' + QUESTION + '"}'},
    }
    result_start = {"type": "content_block_start", "index": first + 1, "content_block": result}
    return [use_start, query, stop(first), result_start, stop(first + 1)]


def cite(index: int, c: dict) -> dict:
    return {"type": "content_block_delta", "index": index, "delta": {"type": "citations_delta", "citation": c}}


USAGE = o_chunk(choices=[], usage={"prompt_tokens": 40, "completion_tokens": 9})
SEARCHING = {"web_search": "web_search", "search_upstream": True, "search_query": QUESTION}


def test_streamed_citations_cite_the_open_text_then_show_the_search():
    chunks = [
        o_chunk({"role": "assistant", "content": "Django 5.2 is out. "}),
        o_chunk({"content": "Docs are online."}),
        o_chunk({"content": "", "annotations": ANNOTATIONS}),
        o_chunk({"content": " Bye."}, "stop"),
        USAGE,
        DONE,
    ]

    events = replay(chunks, make_ctx(**SEARCHING))

    assert events == [
        message_start(),
        start_text(0),
        delta(0, text="Django 5.2 is out. "),
        delta(0, text="Docs are online."),
        *[cite(0, c) for c in CITATIONS],
        stop(0),
        *server_blocks(1),
        start_text(3),
        delta(3, text=" Bye."),
        stop(3),
        *message_end("end_turn", usage_of(40, 9)),
    ]


def test_repeated_annotations_show_each_page_once():
    chunks = [
        o_chunk({"content": TEXT, "annotations": ANNOTATIONS[:1]}),
        o_chunk({"annotations": ANNOTATIONS}, "stop"),
        USAGE,
    ]

    events = replay(chunks, make_ctx(**SEARCHING))

    results = [e["content_block"] for e in events if e["type"] == "content_block_start"]
    assert [r["type"] for r in results] == ["text", *["server_tool_use", "web_search_tool_result"] * 2]
    assert [[hit["url"] for hit in r["content"]] for r in results if r["type"] == "web_search_tool_result"] == [
        [DJANGO],
        [DOCS],
    ]
    assert [e["index"] for e in events if e["type"] == "content_block_start"] == [0, 1, 2, 3, 4]


def test_annotations_before_any_text_show_the_search_first():
    chunks = [o_chunk({"annotations": ANNOTATIONS}), o_chunk({"content": TEXT}, "stop"), USAGE]

    events = replay(chunks, make_ctx(**SEARCHING))

    assert events[1:-2] == [*server_blocks(0), start_text(2), delta(2, text=TEXT), stop(2)]


def test_a_stream_from_an_upstream_not_asked_to_search_ignores_annotations():
    chunks = [o_chunk({"content": TEXT, "annotations": ANNOTATIONS}, "stop"), USAGE]

    events = replay(chunks, make_ctx(web_search="web_search"))

    assert [e["type"] for e in events if e["type"] == "content_block_start"] == ["content_block_start"]
    assert not any(e.get("delta", {}).get("type") == "citations_delta" for e in events)


def test_unusable_annotations_leave_the_text_block_open():
    chunks = [
        o_chunk({"content": "Django "}),
        o_chunk({"annotations": [{"type": "url_citation", "url_citation": {"title": "no url"}}]}),
        o_chunk({"content": "5.2"}, "stop"),
        USAGE,
    ]

    events = replay(chunks, make_ctx(**SEARCHING))

    assert events[1:-2] == [start_text(0), delta(0, text="Django "), delta(0, text="5.2"), stop(0)]


@pytest.mark.parametrize("model", ["openai/gpt-4o", "gpt-4o-search-preview"])
def test_a_client_cannot_switch_paid_search_on_by_sending_the_upstream_keys_itself(model):
    smuggled = {"plugins": [{"id": "web", "max_results": 10}], "web_search_options": {"search_context_size": "high"}}
    request_body = validate_request(
        {"model": "claude-haiku-4-5", "max_tokens": 9, "messages": [{"role": "user", "content": "hi"}]} | smuggled
    )
    profile = profile_for("openrouter" if "/" in model else "openai", model)

    out, ctx = to_openai_request(request_body, upstream_model=model, profile=profile)

    assert "plugins" not in out and "web_search_options" not in out
    assert ctx.search_upstream is False
