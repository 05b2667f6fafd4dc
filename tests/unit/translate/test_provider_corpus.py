"""Recorded provider shapes (tests/fixtures/providers) through the translator, stream and non-stream.

Each fixture names where its shape comes from. Streams go through the same pipeline as
`api/providers/openai.iter_chunks` (incremental UTF-8 decoder, `SSEDecoder`) whole, split at every
byte, and one byte per read; every split must give the exact events of the whole stream.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from api.translate import ids
from api.translate.mapping import UpstreamFormatError
from api.translate.response import to_anthropic_message
from api.translate.types import JSON, Context

from .stream_events import (
    decode,
    delta,
    error_event,
    make_ctx,
    message_end,
    message_start,
    replay_payloads,
    signature,
    start_text,
    start_thinking,
    start_tool,
    stop,
    usage_of,
)

CORPUS = Path(__file__).resolve().parents[2] / "fixtures" / "providers"
THINKING = make_ctx(thinking=True)
W1 = '{"file_path":"hello.py","content":"print(\'hello\')"}'
W2 = '{"file_path":"world.py","content":"print(\'world\')"}'
TOO_LONG = (
    "prompt is too long: The decoder prompt (length 131073) is longer than the maximum model length of 131072. "
    "Make sure that `max_model_len` is no smaller than the number of text tokens."
)


@pytest.fixture(autouse=True)
def fixed_message_id(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ids, "new_message_id", lambda: "msg_test")


def text_block(index: int, *pieces: str) -> list[JSON]:
    return [start_text(index), *(delta(index, text=p) for p in pieces), stop(index)]


def thinking_block(index: int, *pieces: str) -> list[JSON]:
    deltas = [delta(index, thinking=p) for p in pieces]
    return [start_thinking(index), *deltas, signature(index, "".join(pieces)), stop(index)]


def tool_block(index: int, tool_id: str, name: str, *fragments: str) -> list[JSON]:
    return [start_tool(index, tool_id, name), *(delta(index, partial_json=f) for f in fragments), stop(index)]


STREAMS = [
    pytest.param(
        "ollama_parallel_tools.sse",
        make_ctx(),
        [
            *tool_block(0, "call_hello01", "Write", W1),
            *tool_block(1, "call_world02", "Write", W2),
            *message_end("tool_use", usage_of(412, 58)),
        ],
        id="ollama-parallel-calls-all-at-index-0-become-one-tool-use-block-per-call-id",
    ),
    pytest.param(
        "ollama_reasoning.sse",
        THINKING,
        [
            *thinking_block(0, "User greets.", " Reply briefly."),
            *text_block(1, "Hi!"),
            *message_end("end_turn", usage_of(70, 12)),
        ],
        id="ollama-reasoning-field-becomes-a-thinking-block",
    ),
    pytest.param(
        "groq_x_groq_usage.sse",
        make_ctx(),
        [*text_block(0, "Hello", "!"), *message_end("end_turn", usage_of(8, 3, read=32))],
        id="groq-usage-in-x_groq-is-the-final-usage-with-cached-tokens",
    ),
    pytest.param(
        "moonshot_choice_usage.sse",
        make_ctx(),
        [*text_block(0, "你好", "。"), *message_end("end_turn", usage_of(45, 13, read=2944))],
        id="moonshot-usage-inside-the-choice-and-its-top-level-cached-tokens",
    ),
    pytest.param(
        "mistral_thinking_parts.sse",
        THINKING,
        [
            *thinking_block(0, "Okay, the user", " says hello."),
            *text_block(1, "Hello", "! How can I help?"),
            *message_end("end_turn", usage_of(9, 52)),
        ],
        id="mistral-content-parts-give-a-thinking-block-then-text",
    ),
    pytest.param(
        "mistral_thinking_parts.sse",
        make_ctx(),
        [*text_block(0, "Hello", "! How can I help?"), *message_end("end_turn", usage_of(9, 52))],
        id="mistral-thinking-parts-are-dropped-when-thinking-was-not-requested",
    ),
    pytest.param(
        "gemini_tools_no_index.sse",
        make_ctx(),
        [
            *tool_block(0, "function-call-1", "Read", '{"file_path":', '"/a.py"}'),
            *tool_block(1, "function-call-2", "Read", '{"file_path":"/b.py"}'),
            *message_end("tool_use", usage_of(107, 31)),
        ],
        id="gemini-index-less-calls-split-by-id-and-finish-stop-is-tool-use",
    ),
    pytest.param(
        "deepseek_reasoning_cache.sse",
        THINKING,
        [
            *thinking_block(0, "9.11 < 9.8", " since 11 < 80."),
            *text_block(1, "9.8 is larger."),
            *message_end("end_turn", usage_of(400, 40, read=600)),
        ],
        id="deepseek-reasoning-content-and-cache-hits",
    ),
    pytest.param(
        "qwen_reasoning.sse",
        THINKING,
        [
            *thinking_block(0, "Need a haiku."),
            *text_block(1, "Autumn moon rises"),
            *message_end("end_turn", usage_of(44, 20, read=256)),
        ],
        id="qwen-reasoning-content-and-cached-tokens",
    ),
    pytest.param(
        "vllm_reasoning.sse",
        THINKING,
        [
            *thinking_block(0, "Add them: ", "2+2=4."),
            *text_block(1, "4"),
            *message_end("end_turn", usage_of(2, 20, read=48)),
        ],
        id="vllm-reasoning-content-and-prefix-cache-hits",
    ),
    pytest.param(
        "vllm_error_in_stream.sse",
        make_ctx(),
        [start_text(0), delta(0, text="Sure"), error_event("invalid_request_error", TOO_LONG)],
        id="vllm-error-object-in-a-200-stream-is-an-error-event",
    ),
    pytest.param(
        "vllm_bare_error_object.sse",
        make_ctx(),
        [error_event("api_error", "the upstream provider failed: Engine loop is not running")],
        id="vllm-bare-object-error-data-event-is-an-error-event",
    ),
    pytest.param(
        "openrouter_reasoning_cache.sse",
        THINKING,
        [
            *thinking_block(0, "Check the cache."),
            *text_block(1, "Cached."),
            *message_end("end_turn", usage_of(21, 60, read=10318)),
        ],
        id="openrouter-comments-reasoning-field-and-cached-tokens",
    ),
    pytest.param(
        "openrouter_midstream_error.sse",
        make_ctx(),
        [
            start_text(0),
            delta(0, text="Partial"),
            error_event("api_error", "the upstream provider failed: Provider disconnected unexpectedly"),
        ],
        id="openrouter-mid-stream-error-is-an-error-event-not-a-normal-end",
    ),
    pytest.param(
        "azure_content_filter.sse",
        make_ctx(),
        [*text_block(0, "This is", " a test!"), *message_end("end_turn", usage_of(14, 5))],
        id="azure-empty-choices-and-filter-annotation-chunks-are-skipped",
    ),
    pytest.param(
        "azure_filtered_output.sse",
        make_ctx(),
        [*text_block(0, "I will"), *message_end("refusal", usage_of(20, 2))],
        id="azure-content-filter-finish-is-a-refusal",
    ),
    pytest.param(
        "sse_variants.sse",
        make_ctx(),
        [*text_block(0, "Café", " ☕ 😀"), *message_end("end_turn", usage_of(11, 4))],
        id="crlf-comments-data-without-space-other-fields-and-done-without-newline",
    ),
]


def tool_use(tool_id: str, name: str, input_: JSON) -> JSON:
    return {"type": "tool_use", "id": tool_id, "name": name, "input": input_}


def thinking(text: str) -> JSON:
    return {"type": "thinking", "thinking": text, "signature": ids.thinking_signature(text)}


def text(value: str) -> JSON:
    return {"type": "text", "text": value}


COMPLETIONS = [
    pytest.param(
        "ollama_parallel_tools.json",
        make_ctx(),
        [
            tool_use("call_hello01", "Write", json.loads(W1)),
            tool_use("call_world02", "Write", json.loads(W2)),
        ],
        "tool_use",
        usage_of(412, 58),
        id="ollama-parallel-calls",
    ),
    pytest.param(
        "ollama_reasoning.json",
        THINKING,
        [thinking("User greets. Reply briefly."), text("Hi!")],
        "end_turn",
        usage_of(70, 12),
        id="ollama-reasoning",
    ),
    pytest.param(
        "groq_x_groq_usage.json", make_ctx(), [text("Hello!")], "end_turn", usage_of(8, 3, read=32), id="groq"
    ),
    pytest.param(
        "moonshot_choice_usage.json",
        make_ctx(),
        [text("你好。")],
        "end_turn",
        usage_of(45, 13, read=2944),
        id="moonshot-cached-tokens",
    ),
    pytest.param(
        "mistral_thinking_parts.json",
        THINKING,
        [thinking("Okay, the user says hello."), text("Hello! How can I help?")],
        "end_turn",
        usage_of(9, 52),
        id="mistral-content-parts-with-thinking",
    ),
    pytest.param(
        "gemini_tools_no_index.json",
        make_ctx(),
        [
            tool_use("function-call-1", "Read", {"file_path": "/a.py"}),
            tool_use("function-call-2", "Read", {"file_path": "/b.py"}),
        ],
        "tool_use",
        usage_of(43, 31, read=64),
        id="gemini-tool-calls-with-finish-stop",
    ),
    pytest.param(
        "deepseek_reasoning_cache.json",
        THINKING,
        [thinking("9.11 < 9.8 since 11 < 80."), text("9.8 is larger.")],
        "end_turn",
        usage_of(400, 40, read=600),
        id="deepseek",
    ),
    pytest.param(
        "qwen_reasoning.json",
        THINKING,
        [thinking("Need a haiku."), text("Autumn moon rises")],
        "end_turn",
        usage_of(44, 20, read=256),
        id="qwen",
    ),
    pytest.param(
        "vllm_reasoning.json",
        THINKING,
        [thinking("Add them: 2+2=4."), text("4")],
        "end_turn",
        usage_of(2, 20, read=48),
        id="vllm",
    ),
    pytest.param(
        "openrouter_reasoning_cache.json",
        THINKING,
        [thinking("Check the cache."), text("Cached.")],
        "end_turn",
        usage_of(21, 60, read=10318),
        id="openrouter",
    ),
    pytest.param("azure_filtered_output.json", make_ctx(), [], "refusal", usage_of(20, 0), id="azure-filtered-output"),
]


def fixture(name: str) -> bytes:
    return (CORPUS / name).read_bytes()


def translate_stream(pieces: list[bytes], ctx: Context) -> list[JSON]:
    return replay_payloads(decode(pieces), ctx)


@pytest.mark.parametrize(("name", "ctx", "expected"), STREAMS)
def test_a_recorded_stream_translates_to_the_exact_events(name: str, ctx: Context, expected: list[JSON]) -> None:
    assert translate_stream([fixture(name)], ctx) == [message_start(), *expected]


@pytest.mark.parametrize(("name", "ctx", "expected"), STREAMS)
def test_a_recorded_stream_split_at_every_byte_gives_the_same_events(
    name: str, ctx: Context, expected: list[JSON]
) -> None:
    data = fixture(name)
    whole = [message_start(), *expected]
    for cut in range(1, len(data)):
        assert translate_stream([data[:cut], data[cut:]], ctx) == whole, f"split at byte {cut}"
    assert translate_stream([data[i : i + 1] for i in range(len(data))], ctx) == whole, "one byte per read"


@pytest.mark.parametrize(("name", "ctx", "content", "reason", "usage"), COMPLETIONS)
def test_a_recorded_completion_translates_to_the_exact_message(
    name: str, ctx: Context, content: list[JSON], reason: str, usage: JSON
) -> None:
    completion = json.loads(fixture(name))["completion"]
    assert to_anthropic_message(completion, ctx) == {
        "id": "msg_test",
        "type": "message",
        "role": "assistant",
        "model": "claude-opus-4-8",
        "content": content,
        "stop_reason": reason,
        "stop_sequence": None,
        "usage": usage,
    }


def test_an_error_object_sent_as_a_200_body_is_the_mapped_error() -> None:
    completion = json.loads(fixture("openrouter_error_body.json"))["completion"]
    with pytest.raises(UpstreamFormatError) as caught:
        to_anthropic_message(completion, make_ctx())
    error = caught.value.to_api_error()
    assert (error.status, error.error_type, error.message) == (
        429,
        "rate_limit_error",
        "Rate limit exceeded: free-models-per-day",
    )


def test_every_fixture_is_in_a_table_and_says_where_its_shape_comes_from() -> None:
    tested = {p.values[0] for p in STREAMS + COMPLETIONS} | {"openrouter_error_body.json"}
    assert tested == {p.name for p in CORPUS.iterdir()}
    for path in CORPUS.iterdir():
        if path.suffix == ".sse":
            assert path.read_text(encoding="utf-8").startswith(": source: "), path.name
        else:
            assert json.loads(path.read_text(encoding="utf-8"))["sources"], path.name
