"""Non-streaming response translation (protocol.md §4, conformance cases 26-32)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from api.translate import ids
from api.translate.mapping import UpstreamFormatError
from api.translate.response import to_anthropic_message
from api.translate.types import JSON, Context

MODEL = "claude-opus-4-8"


@pytest.fixture(autouse=True)
def fixed_message_id(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ids, "new_message_id", lambda: "msg_test")


def make_ctx(**overrides: Any) -> Context:
    overrides.setdefault("requested_model", MODEL)
    overrides.setdefault("input_tokens_estimate", 50)
    return Context(**overrides)


def completion(message: JSON, finish: str | None = "stop", usage: JSON | None = None, **choice: Any) -> JSON:
    body: JSON = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "upstream-model",
        "choices": [
            {"index": 0, "message": {"role": "assistant"} | message, "finish_reason": finish} | choice
        ],
    }
    if usage is not None:
        body["usage"] = usage
    return body


def tool_call(call_id: str | None, name: str, arguments: str) -> JSON:
    call: JSON = {"type": "function", "function": {"name": name, "arguments": arguments}}
    return call | ({"id": call_id} if call_id is not None else {})


USAGE = {"prompt_tokens": 10, "completion_tokens": 4}
U = {"input_tokens": 10, "output_tokens": 4, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}


def bash(tool_input: JSON, tool_id: str = "call_1") -> JSON:
    return {"type": "tool_use", "id": tool_id, "name": "Bash", "input": tool_input}


@pytest.mark.parametrize(
    ("body", "ctx", "content", "stop_reason"),
    [
        pytest.param(
            completion(
                {"content": "Hi", "tool_calls": [tool_call("call_1", "Bash", '{"command":"ls"}')]},
                "tool_calls",
                USAGE,
            ),
            make_ctx(),
            [{"type": "text", "text": "Hi"}, bash({"command": "ls"})],
            "tool_use",
            id="26-text-and-a-tool-call-become-text-then-tool-use",
        ),
        pytest.param(
            completion({"tool_calls": [tool_call("call_1", "Bash", "{bad")]}, "tool_calls", USAGE),
            make_ctx(),
            [bash({})],
            "tool_use",
            id="27-invalid-arguments-become-an-empty-object",
        ),
        pytest.param(
            completion({"tool_calls": [tool_call("call_1", "Bash", "")]}, "tool_calls", USAGE),
            make_ctx(),
            [bash({})],
            "tool_use",
            id="27-empty-arguments-become-an-empty-object",
        ),
        pytest.param(
            completion({"tool_calls": [tool_call("call_1", "Bash", "[1]")]}, "tool_calls", USAGE),
            make_ctx(),
            [bash({"value": [1]})],
            "tool_use",
            id="27-non-object-arguments-are-wrapped",
        ),
        pytest.param(
            completion({"content": None, "tool_calls": [tool_call("call_1", "Bash", "{}")]}, "stop", USAGE),
            make_ctx(),
            [bash({})],
            "tool_use",
            id="29-stop-with-tool-calls-is-tool-use",
        ),
        pytest.param(
            completion({"content": "Hi"}, "length", USAGE),
            make_ctx(),
            [{"type": "text", "text": "Hi"}],
            "max_tokens",
            id="29-length-is-max-tokens",
        ),
        pytest.param(
            completion({"content": ""}, "content_filter", USAGE),
            make_ctx(),
            [],
            "refusal",
            id="29-content-filter-is-refusal-and-empty-text-is-skipped",
        ),
        pytest.param(
            completion({"content": None, "refusal": "I can't help with that."}, "stop", USAGE),
            make_ctx(),
            [{"type": "text", "text": "I can't help with that."}],
            "refusal",
            id="a-refusal-is-text-with-stop-reason-refusal",
        ),
        pytest.param(
            completion({"reasoning_content": "r", "content": "a"}, "stop", USAGE),
            make_ctx(thinking=True),
            [
                {"type": "thinking", "thinking": "r", "signature": ids.thinking_signature("r")},
                {"type": "text", "text": "a"},
            ],
            "end_turn",
            id="30-reasoning-becomes-a-signed-thinking-block-first",
        ),
        pytest.param(
            completion({"reasoning": "r", "content": "a"}, "stop", USAGE),
            make_ctx(thinking=False),
            [{"type": "text", "text": "a"}],
            "end_turn",
            id="30-reasoning-is-dropped-without-thinking",
        ),
        pytest.param(
            completion(
                {"function_call": {"name": "Bash", "arguments": '{"command":"ls"}'}}, "function_call", USAGE
            ),
            make_ctx(),
            [bash({"command": "ls"}, tool_id="RANDOM")],
            "tool_use",
            id="a-legacy-function-call-is-one-tool-use",
        ),
        pytest.param(
            completion({"tool_calls": [tool_call("call_1", "", "{}")]}, "tool_calls", USAGE),
            make_ctx(),
            [],
            "end_turn",
            id="a-tool-call-without-a-name-is-dropped",
        ),
        pytest.param(
            completion({"tool_calls": [tool_call("call_1", "Bash_x_1a2b3c4d", "{}")]}, "tool_calls", USAGE),
            make_ctx(tool_names={"Bash_x_1a2b3c4d": "Bash"}),
            [bash({})],
            "tool_use",
            id="a-shortened-tool-name-is-restored",
        ),
        pytest.param(
            completion({"content": [{"type": "text", "text": "Hi"}]}, "stop", USAGE),
            make_ctx(),
            [{"type": "text", "text": "Hi"}],
            "end_turn",
            id="list-content-is-joined",
        ),
    ],
)
def test_a_completion_becomes_the_expected_content(
    body: JSON, ctx: Context, content: list[JSON], stop_reason: str
) -> None:
    message = to_anthropic_message(body, ctx)
    for block in message["content"]:
        if block["type"] == "tool_use" and re.fullmatch(r"toolu_[0-9A-Za-z]{24}", block["id"]):
            block["id"] = "RANDOM"  # minted for a call the upstream sent without an id
    assert (message["content"], message["stop_reason"]) == (content, stop_reason)


def test_the_envelope_has_a_message_id_the_requested_model_and_usage() -> None:
    body = completion({"content": "Hi"}, "stop", USAGE)
    assert to_anthropic_message(body, make_ctx()) == {
        "id": "msg_test",
        "type": "message",
        "role": "assistant",
        "model": MODEL,
        "content": [{"type": "text", "text": "Hi"}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": U,
    }


def test_a_real_message_id_starts_with_msg(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.undo()
    message = to_anthropic_message(completion({"content": "Hi"}), make_ctx())
    assert re.fullmatch(r"msg_[0-9A-Za-z]{24}", message["id"])


def test_28_an_unsafe_tool_id_becomes_a_safe_id_that_maps_the_same_way_again() -> None:
    body = completion({"tool_calls": [tool_call("functions.Bash:0", "Bash", "{}")]}, "tool_calls")
    tool_id = to_anthropic_message(body, make_ctx())["content"][0]["id"]
    assert re.fullmatch(r"[a-zA-Z0-9_-]+", tool_id)
    assert ids.upstream_tool_id(tool_id) == tool_id == ids.client_tool_id("functions.Bash:0")


@pytest.mark.parametrize(
    ("usage", "expected"),
    [
        pytest.param(
            {"prompt_tokens": 1000, "completion_tokens": 50, "prompt_tokens_details": {"cached_tokens": 800}},
            {
                "input_tokens": 200,
                "output_tokens": 50,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 800,
            },
            id="31-openai-cached-tokens",
        ),
        pytest.param(
            {"prompt_tokens": 1000, "completion_tokens": 50, "prompt_cache_hit_tokens": 600},
            {
                "input_tokens": 400,
                "output_tokens": 50,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 600,
            },
            id="32-deepseek-cache-hits",
        ),
        pytest.param(
            None,
            {
                "input_tokens": 50,
                "output_tokens": 3,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
            },
            id="no-usage-is-estimated-from-the-context-and-the-output",
        ),
    ],
)
def test_usage_is_translated_to_anthropic_semantics(usage: JSON | None, expected: JSON) -> None:
    body = completion({"content": "Hello world."}, "stop", usage)
    assert to_anthropic_message(body, make_ctx())["usage"] == expected


def test_a_vllm_matched_stop_string_is_reported_as_the_stop_sequence() -> None:
    body = completion({"content": "1 2 3"}, "stop", USAGE, stop_reason="END")
    message = to_anthropic_message(body, make_ctx(stop_sequences=["END"]))
    assert (message["stop_reason"], message["stop_sequence"]) == ("stop_sequence", "END")


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"id": "x", "object": "chat.completion"}, id="choices-missing"),
        pytest.param({"choices": []}, id="choices-empty"),
        pytest.param({"choices": {"0": {}}}, id="choices-not-a-list"),
        pytest.param(
            {"choices": [{"index": 0, "finish_reason": "stop"}]}, id="first-choice-without-a-message"
        ),
        pytest.param(["not", "an", "object"], id="not-an-object"),
    ],
)
def test_an_unusable_completion_raises_an_upstream_format_error(body: Any) -> None:
    with pytest.raises(UpstreamFormatError) as caught:
        to_anthropic_message(body, make_ctx())
    assert caught.value.to_api_error().status == 502


def test_an_error_body_sent_with_200_raises_with_the_mapped_error() -> None:
    with pytest.raises(UpstreamFormatError) as caught:
        to_anthropic_message({"error": {"message": "Rate limit", "code": 429}}, make_ctx())
    assert caught.value.to_api_error().error_type == "rate_limit_error"
