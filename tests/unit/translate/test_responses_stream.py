"""Responses API stream events -> the exact Anthropic event list (text, reasoning, tools, search, errors)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from api.translate import ids, web_search
from api.translate.responses_mapping import reasoning_signature
from api.translate.responses_stream import ResponsesStreamTranslator
from api.translate.types import JSON, Context

USAGE = {"input_tokens": 1000, "input_tokens_details": {"cached_tokens": 800}, "output_tokens": 50}
A_USAGE = {"input_tokens": 200, "output_tokens": 50, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 800}


@pytest.fixture(autouse=True)
def fixed_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ids, "new_message_id", lambda: "msg_test")
    monkeypatch.setattr(web_search.ids, "random_base62", lambda n: "X" * n)


def run(events: list[JSON], *, thinking: bool = False, done: bool = False) -> list[JSON]:
    translator = ResponsesStreamTranslator(Context(requested_model="claude-opus-4-8", thinking=thinking))
    out = translator.start()
    for event in events:
        out += translator.feed(event)
    return out[1:] + translator.finish(done=done)


def added(item: JSON, index: int = 0) -> JSON:
    return {"type": "response.output_item.added", "output_index": index, "item": item}


def done(item: JSON, index: int = 0) -> JSON:
    return {"type": "response.output_item.done", "output_index": index, "item": item}


def completed(status: str = "completed", **response: Any) -> JSON:
    return {"type": f"response.{status}", "response": {"status": status, "usage": USAGE, **response}}


def start(index: int, block: JSON) -> JSON:
    return {"type": "content_block_start", "index": index, "content_block": block}


def delta(index: int, **d: Any) -> JSON:
    return {"type": "content_block_delta", "index": index, "delta": d}


def stop(index: int) -> JSON:
    return {"type": "content_block_stop", "index": index}


def end(reason: str, usage: JSON = A_USAGE) -> list[JSON]:
    return [
        {"type": "message_delta", "delta": {"stop_reason": reason, "stop_sequence": None}, "usage": usage},
        {"type": "message_stop"},
    ]


MESSAGE = {"type": "message", "id": "msg_1", "role": "assistant", "content": []}
CALL = {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "Bash", "arguments": ""}
CALL2 = {"type": "function_call", "id": "fc_2", "call_id": "call_2", "name": "Read", "arguments": ""}


def text_delta(text: str) -> JSON:
    return {"type": "response.output_text.delta", "item_id": "msg_1", "output_index": 0, "delta": text}


def args_delta(text: str, item: str = "fc_1") -> JSON:
    return {"type": "response.function_call_arguments.delta", "item_id": item, "delta": text}


def test_a_text_stream_is_one_text_block_with_cached_tokens_reported() -> None:
    events = [
        {"type": "response.created", "response": {}},
        added(MESSAGE),
        text_delta("Hel"),
        text_delta("lo"),
        done(MESSAGE),
        completed(),
    ]
    assert run(events) == [
        start(0, {"type": "text", "text": ""}),
        delta(0, type="text_delta", text="Hel"),
        delta(0, type="text_delta", text="lo"),
        stop(0),
        *end("end_turn"),
    ]


def test_parallel_function_calls_stream_as_consecutive_tool_use_blocks() -> None:
    events = [
        added(MESSAGE),
        text_delta("Sure."),
        done(MESSAGE),
        added(CALL, 1),
        args_delta('{"command":'),
        args_delta('"ls"}'),
        done({**CALL, "arguments": '{"command":"ls"}'}, 1),
        added(CALL2, 2),
        done({**CALL2, "arguments": '{"path":"a"}'}, 2),
        completed(),
    ]
    assert run(events) == [
        start(0, {"type": "text", "text": ""}),
        delta(0, type="text_delta", text="Sure."),
        stop(0),
        start(1, {"type": "tool_use", "id": "call_1", "name": "Bash", "input": {}}),
        delta(1, type="input_json_delta", partial_json='{"command":'),
        delta(1, type="input_json_delta", partial_json='"ls"}'),
        stop(1),
        start(2, {"type": "tool_use", "id": "call_2", "name": "Read", "input": {}}),
        delta(2, type="input_json_delta", partial_json='{"path":"a"}'),  # arguments only in the done item
        stop(2),
        *end("tool_use"),
    ]


def test_reasoning_summaries_become_a_thinking_block_signed_with_the_encrypted_reasoning() -> None:
    reasoning = {"type": "reasoning", "id": "rs_1", "summary": []}
    events = [
        added(reasoning),
        {"type": "response.reasoning_summary_text.delta", "item_id": "rs_1", "summary_index": 0, "delta": "Think"},
        {"type": "response.reasoning_summary_text.delta", "item_id": "rs_1", "summary_index": 1, "delta": "More"},
        done({**reasoning, "encrypted_content": "ENC"}),
        added(MESSAGE, 1),
        text_delta("Answer"),
        done(MESSAGE, 1),
        completed(),
    ]
    assert run(events, thinking=True) == [
        start(0, {"type": "thinking", "thinking": "", "signature": ""}),
        delta(0, type="thinking_delta", thinking="Think"),
        delta(0, type="thinking_delta", thinking="\n\nMore"),
        delta(0, type="signature_delta", signature=reasoning_signature("rs_1", "ENC")),
        stop(0),
        start(1, {"type": "text", "text": ""}),
        delta(1, type="text_delta", text="Answer"),
        stop(1),
        *end("end_turn"),
    ]


def test_reasoning_is_not_shown_when_the_client_did_not_ask_for_thinking() -> None:
    reasoning = {"type": "reasoning", "id": "rs_1", "summary": []}
    events = [
        added(reasoning),
        {"type": "response.reasoning_summary_text.delta", "delta": "secret"},
        done(reasoning),
        added(MESSAGE, 1),
        text_delta("A"),
        done(MESSAGE, 1),
        completed(),
    ]
    out = run(events)
    assert [e["content_block"]["type"] for e in out if e["type"] == "content_block_start"] == ["text"]


def test_a_web_search_call_becomes_server_tool_use_and_its_result_with_citations_on_the_text() -> None:
    action = {"type": "search", "query": "django 5.2", "sources": [{"type": "url", "url": "https://djangoproject.com"}]}
    call = {"type": "web_search_call", "id": "ws_1", "status": "completed", "action": action}
    annotation = {
        "type": "url_citation",
        "url": "https://djangoproject.com",
        "title": "Django",
        "start_index": 0,
        "end_index": 6,
    }
    events = [
        added({**call, "status": "in_progress"}),
        {"type": "response.web_search_call.searching"},
        done(call),
        added(MESSAGE, 1),
        text_delta("Django is out."),
        {"type": "response.output_text.annotation.added", "annotation": annotation},
        done(MESSAGE, 1),
        completed(),
    ]
    tool_id = "srvtoolu_" + "X" * 24
    hit = {
        "type": "web_search_result",
        "url": "https://djangoproject.com",
        "title": "https://djangoproject.com",
        "encrypted_content": "",
    }
    citation = {
        "type": "web_search_result_location",
        "url": "https://djangoproject.com",
        "title": "Django",
        "encrypted_index": "",
        "cited_text": "Django",
    }
    assert run(events) == [
        start(0, {"type": "server_tool_use", "id": tool_id, "name": "web_search", "input": {}}),
        delta(0, type="input_json_delta", partial_json=json.dumps({"query": "django 5.2"})),
        stop(0),
        start(1, {"type": "web_search_tool_result", "tool_use_id": tool_id, "content": [hit]}),
        stop(1),
        start(2, {"type": "text", "text": ""}),
        delta(2, type="text_delta", text="Django is out."),
        delta(2, type="citations_delta", citation=citation),
        stop(2),
        *end("end_turn"),
    ]


@pytest.mark.parametrize(
    ("details", "reason"),
    [
        pytest.param({"reason": "max_output_tokens"}, "max_tokens", id="length"),
        pytest.param({"reason": "content_filter"}, "refusal", id="content_filter"),
    ],
)
def test_an_incomplete_response_reports_why_it_stopped(details: JSON, reason: str) -> None:
    events = [added(MESSAGE), text_delta("Hal"), completed("incomplete", incomplete_details=details)]
    assert run(events)[-2]["delta"]["stop_reason"] == reason


def test_a_refusal_is_text_with_stop_reason_refusal() -> None:
    events = [added(MESSAGE), {"type": "response.refusal.delta", "delta": "I can't."}, done(MESSAGE), completed()]
    out = run(events)
    assert out[1] == delta(0, type="text_delta", text="I can't.") and out[-2]["delta"]["stop_reason"] == "refusal"


@pytest.mark.parametrize(
    ("event", "error"),
    [
        pytest.param(
            {
                "type": "response.failed",
                "response": {"status": "failed", "error": {"code": "rate_limit_exceeded", "message": "slow down"}},
            },
            "rate_limit_error",
            id="failed_rate_limit",
        ),
        pytest.param({"type": "error", "code": "server_error", "message": "oops"}, "api_error", id="error_event"),
    ],
)
def test_a_failure_mid_stream_ends_it_with_an_error_event_and_no_message_stop(event: JSON, error: str) -> None:
    out = run([added(MESSAGE), text_delta("Hi"), event, completed()])
    assert out[-1]["type"] == "error" and out[-1]["error"]["type"] == error
    assert not any(e["type"] == "message_stop" for e in out)


def test_an_eof_before_response_completed_is_an_error_not_a_finished_message() -> None:
    out = run([added(MESSAGE), text_delta("Hi")])
    assert out[-1] == {"type": "error", "error": {"type": "api_error", "message": "upstream stream ended prematurely"}}


def test_usage_is_estimated_when_the_upstream_never_reports_it() -> None:
    translator = ResponsesStreamTranslator(Context(requested_model="c", input_tokens_estimate=9))
    translator.feed(added(MESSAGE))
    translator.feed(text_delta("x" * 40))
    usage, estimated = translator.usage()
    assert (usage["input_tokens"], usage["output_tokens"], estimated) == (9, 10, True)
