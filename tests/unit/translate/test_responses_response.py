"""A Responses API `response` object -> the exact Anthropic message."""

from __future__ import annotations

import pytest

from api.translate import ids
from api.translate.mapping import UpstreamFormatError
from api.translate.responses_mapping import reasoning_signature
from api.translate.responses_response import to_anthropic_message
from api.translate.types import Context

USAGE = {
    "input_tokens": 120,
    "input_tokens_details": {"cached_tokens": 100},
    "output_tokens": 30,
    "output_tokens_details": {"reasoning_tokens": 20},
}


@pytest.fixture(autouse=True)
def fixed_id(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ids, "new_message_id", lambda: "msg_test")


def test_reasoning_text_and_a_call_map_in_order_with_usage() -> None:
    response = {
        "status": "completed",
        "usage": USAGE,
        "output": [
            {
                "type": "reasoning",
                "id": "rs_1",
                "summary": [{"type": "summary_text", "text": "plan"}],
                "encrypted_content": "ENC",
            },
            {"type": "message", "content": [{"type": "output_text", "text": "Running it.", "annotations": []}]},
            {"type": "function_call", "call_id": "call_1", "name": "Bash", "arguments": '{"command":"ls"}'},
        ],
    }
    message = to_anthropic_message(response, Context(requested_model="claude-opus-4-8", thinking=True))
    assert message == {
        "id": "msg_test",
        "type": "message",
        "role": "assistant",
        "model": "claude-opus-4-8",
        "content": [
            {"type": "thinking", "thinking": "plan", "signature": reasoning_signature("rs_1", "ENC")},
            {"type": "text", "text": "Running it."},
            {"type": "tool_use", "id": "call_1", "name": "Bash", "input": {"command": "ls"}},
        ],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {
            "input_tokens": 20,
            "output_tokens": 30,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 100,
        },
    }


def test_a_failed_response_is_the_mapped_upstream_error() -> None:
    failed = {"status": "failed", "output": [], "error": {"code": "rate_limit_exceeded", "message": "slow"}}
    with pytest.raises(UpstreamFormatError) as caught:
        to_anthropic_message(failed, Context(requested_model="c"))
    assert caught.value.to_api_error().status == 429


def test_a_body_without_output_is_a_502() -> None:
    with pytest.raises(UpstreamFormatError) as caught:
        to_anthropic_message({"object": "response"}, Context(requested_model="c"))
    assert caught.value.to_api_error().status == 502


def test_search_results_known_by_url_only_take_the_title_a_citation_gives() -> None:
    sources = [{"type": "url", "url": "https://a.example"}, {"type": "url", "url": "https://b.example"}]
    cited = {"type": "url_citation", "url": "https://a.example", "title": "A", "start_index": 0, "end_index": 2}
    output = [
        {
            "type": "web_search_call",
            "status": "completed",
            "action": {"type": "search", "query": "q", "sources": sources},
        },
        {"type": "message", "content": [{"type": "output_text", "text": "A.", "annotations": [cited]}]},
    ]

    message = to_anthropic_message({"status": "completed", "output": output}, Context(requested_model="m"))

    result = message["content"][1]
    assert [(hit["url"], hit["title"]) for hit in result["content"]] == [
        ("https://a.example", "A"),
        ("https://b.example", "https://b.example"),
    ]
