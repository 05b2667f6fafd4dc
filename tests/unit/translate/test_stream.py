"""Streaming translation: recorded upstream transcripts and edge cases -> the exact A event list.

Conformance cases 33-43 of protocol.md §9 and every edge case listed in style.md.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import pytest

from api.translate import ids
from api.translate.sse import encode_event
from api.translate.stream import StreamTranslator
from api.translate.types import JSON, Context

from .stream_events import (
    DONE,
    ESTIMATE,
    assert_well_formed,
    call,
    chunk,
    decode,
    delta,
    error_event,
    make_ctx,
    message_end,
    message_start,
    replay,
    replay_file,
    replay_payloads,
    signature,
    start_text,
    start_thinking,
    start_tool,
    stop,
    tools,
    usage_of,
)

STREAMS = Path(__file__).resolve().parents[2] / "fixtures" / "streams"


@pytest.fixture(autouse=True)
def fixed_message_id(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ids, "new_message_id", lambda: "msg_test")


# --- recorded transcripts -----------------------------------------------------------------------

TRANSCRIPTS = [
    pytest.param(
        "openai_text.sse",
        make_ctx(),
        [
            message_start(),
            start_text(0),
            delta(0, text="Bonjour"),
            delta(0, text=" café"),
            delta(0, text=" ☕ — ça"),
            delta(0, text=" va?"),
            stop(0),
            *message_end("end_turn", usage_of(25, 9)),
        ],
        id="openai-text-streams-one-text-block-and-takes-usage-from-the-usage-chunk",
    ),
    pytest.param(
        "openai_tools.sse",
        make_ctx(),
        [
            message_start(),
            start_text(0),
            delta(0, text="Let me look."),
            stop(0),
            start_tool(1, "call_Xk2Lq9mBv3", "Bash"),
            delta(1, partial_json='{"comm'),
            delta(1, partial_json='and":"ls -la"'),
            delta(1, partial_json="}"),
            stop(1),
            start_tool(2, "call_R7pQ2wZcT8", "Read"),
            delta(2, partial_json='{"file_path"'),
            delta(2, partial_json=':"/work/README.md"}'),
            stop(2),
            *message_end("tool_use", usage_of(476, 60, read=1024)),
        ],
        id="openai-tools-stream-fragmented-arguments-block-after-block",
    ),
    pytest.param(
        "ollama_tool.sse",
        make_ctx(),
        [
            message_start(),
            start_tool(0, "call_k2x9wq1e", "Read"),
            delta(0, partial_json='{"file_path":"/src/app.py"}'),
            stop(0),
            *message_end("tool_use", usage_of(812, 31)),
        ],
        id="ollama-whole-tool-call-in-one-chunk-becomes-one-delta",
    ),
    pytest.param(
        "gemini_tools.sse",
        make_ctx(),
        [
            message_start(),
            start_text(0),
            delta(0, text="I'll read both files."),
            stop(0),
            start_tool(1, "function-call-1111", "Read"),
            delta(1, partial_json='{"file_path":"/a.py"}'),
            stop(1),
            start_tool(2, "function-call-2222", "Read"),
            delta(2, partial_json='{"file_path":'),
            delta(2, partial_json='"/b.py"}'),
            stop(2),
            *message_end("tool_use", usage_of(900, 40)),
        ],
        id="gemini-index-less-tool-deltas-split-by-id-and-finish-stop-is-tool-use",
    ),
    pytest.param(
        "deepseek_reasoning.sse",
        make_ctx(thinking=True),
        [
            message_start(),
            start_thinking(0),
            delta(0, thinking="The user"),
            delta(0, thinking=" wants 2+2."),
            delta(0, thinking=" That is 4."),
            signature(0, "The user wants 2+2. That is 4."),
            stop(0),
            start_text(1),
            delta(1, text="2 + 2 = "),
            delta(1, text="**4**."),
            stop(1),
            *message_end("end_turn", usage_of(400, 42, read=600)),
        ],
        id="deepseek-reasoning-content-becomes-a-signed-thinking-block-before-the-text",
    ),
    pytest.param(
        "deepseek_reasoning.sse",
        make_ctx(thinking=False),
        [
            message_start(),
            start_text(0),
            delta(0, text="2 + 2 = "),
            delta(0, text="**4**."),
            stop(0),
            *message_end("end_turn", usage_of(400, 42, read=600)),
        ],
        id="deepseek-reasoning-is-dropped-when-thinking-was-not-requested",
    ),
    pytest.param(
        "vllm_reasoning.sse",
        make_ctx(thinking=True),
        [
            message_start(),
            start_thinking(0),
            delta(0, thinking="Check the"),
            delta(0, thinking=" units."),
            signature(0, "Check the units."),
            stop(0),
            start_text(1),
            delta(1, text="Use "),
            delta(1, text="`ls -la`."),
            stop(1),
            *message_end("end_turn", usage_of(120, 20)),
        ],
        id="vllm-reasoning-field-becomes-a-thinking-block",
    ),
]


@pytest.mark.parametrize(("name", "ctx", "expected"), TRANSCRIPTS)
def test_a_recorded_transcript_replays_to_the_exact_events(name: str, ctx: Context, expected: list[JSON]) -> None:
    events = replay_file(STREAMS / name, ctx)
    assert events == expected
    assert_well_formed(events)


@pytest.mark.parametrize(("name", "ctx", "expected"), TRANSCRIPTS)
def test_a_transcript_split_at_any_byte_gives_identical_events(name: str, ctx: Context, expected: list[JSON]) -> None:
    raw = (STREAMS / name).read_bytes()
    for cut in range(len(raw) + 1):
        assert replay_payloads(decode([raw[:cut], raw[cut:]]), ctx) == expected, f"cut at byte {cut}"
    assert replay_payloads(decode([raw[i : i + 1] for i in range(len(raw))]), ctx) == expected


def test_every_frame_names_its_event_type_and_the_text_deltas_rebuild_the_upstream_text() -> None:
    events = replay_file(STREAMS / "openai_text.sse", make_ctx())
    for event in events:
        head, data = encode_event(event).decode().split("\n", 1)
        assert head == f"event: {event['type']}" and json.loads(data.removeprefix("data: ")) == event
    assert "".join(e["delta"]["text"] for e in events if e["type"] == "content_block_delta") == (
        "Bonjour café ☕ — ça va?"
    )


def test_the_anthropic_sdk_accumulates_the_events_into_the_expected_message() -> None:
    streaming = pytest.importorskip("anthropic.lib.streaming._messages")
    snapshot, bufs = None, {}
    for event in replay_file(STREAMS / "openai_tools.sse", make_ctx()):
        snapshot = streaming.accumulate_event(event=event, current_snapshot=snapshot, json_bufs=bufs)
    assert [b.to_dict() for b in snapshot.content] == [
        {"type": "text", "text": "Let me look."},
        {"type": "tool_use", "id": "call_Xk2Lq9mBv3", "name": "Bash", "input": {"command": "ls -la"}},
        {
            "type": "tool_use",
            "id": "call_R7pQ2wZcT8",
            "name": "Read",
            "input": {"file_path": "/work/README.md"},
        },
    ]
    assert (snapshot.stop_reason, snapshot.usage.output_tokens) == ("tool_use", 60)


# --- edge cases (style.md) and conformance 33-43 --------------------------------------------------

HI = [message_start(), start_text(0), delta(0, text="Hi"), stop(0)]

EDGE_CASES = [
    pytest.param(
        [chunk({"role": "assistant", "content": ""}), chunk({"content": "Hi"}), chunk(finish="stop"), DONE],
        make_ctx(),
        [*HI, *message_end("end_turn", usage_of(ESTIMATE, 1))],
        id="a-role-only-empty-first-chunk-opens-no-block",
    ),
    pytest.param(
        [
            {"choices": [], "prompt_filter_results": [{"prompt_index": 0}]},
            chunk({"content": "Hi"}),
            chunk(finish="stop"),
            {"choices": [], "usage": {"prompt_tokens": 10, "completion_tokens": 2}},
            DONE,
        ],
        make_ctx(),
        [*HI, *message_end("end_turn", usage_of(10, 2))],
        id="choices-empty-frames-only-carry-usage",
    ),
    pytest.param(
        [chunk({"content": "Hi"}, "stop"), DONE],
        make_ctx(),
        [*HI, *message_end("end_turn", usage_of(ESTIMATE, 1))],
        id="content-and-finish-in-one-chunk-emit-the-text-before-the-block-closes",
    ),
    pytest.param(
        [chunk({"content": "Hi"}, "stop", usage={"prompt_tokens": 9, "completion_tokens": 1}), DONE],
        make_ctx(),
        [*HI, *message_end("end_turn", usage_of(9, 1))],
        id="usage-in-the-finish-chunk-is-final",
    ),
    pytest.param(
        [chunk({"content": "Hi"}), chunk(finish="stop")],
        make_ctx(),
        [*HI, *message_end("end_turn", usage_of(ESTIMATE, 1))],
        id="done-missing-after-a-finish-reason-still-ends-normally",
    ),
    pytest.param(
        [chunk({"content": "Hi"})],
        make_ctx(),
        [*HI[:3], error_event("api_error", "upstream stream ended prematurely")],
        id="eof-without-finish-or-done-is-an-error-without-message-stop",
    ),
    pytest.param(
        [DONE],
        make_ctx(),
        [message_start(), *message_end("end_turn", usage_of(ESTIMATE, 0))],
        id="an-empty-stream-ending-in-done-is-an-empty-end-turn",
    ),
    pytest.param(
        [tools(call(0, "call_1", "Bash", "{}")), DONE],
        make_ctx(),
        [
            message_start(),
            start_tool(0, "call_1", "Bash"),
            delta(0, partial_json="{}"),
            stop(0),
            *message_end("tool_use", usage_of(ESTIMATE, 1)),
        ],
        id="done-without-a-finish-reason-after-a-tool-call-is-tool-use",
    ),
    pytest.param(
        [],
        make_ctx(),
        [message_start(), error_event("api_error", "upstream stream ended prematurely")],
        id="an-empty-stream-without-done-is-an-error",
    ),
    pytest.param(
        [
            chunk({"content": "Hi"}),
            {"error": {"message": "Overloaded", "type": "overloaded_error"}},
            chunk({"content": "more"}),
            DONE,
        ],
        make_ctx(),
        [*HI[:3], error_event("overloaded_error", "the upstream provider is overloaded: Overloaded")],
        id="an-upstream-error-mid-stream-becomes-the-last-event",
    ),
    pytest.param(
        [tools(call(0, "call_1", "Bash", '{"command":"ls"}')), chunk(finish="tool_calls"), DONE],
        make_ctx(),
        [
            message_start(),
            start_tool(0, "call_1", "Bash"),
            delta(0, partial_json='{"command":"ls"}'),
            stop(0),
            *message_end("tool_use", usage_of(ESTIMATE, 4)),
        ],
        id="tool-name-and-arguments-in-one-chunk",
    ),
    pytest.param(
        [
            tools(call(0, "call_1", args='{"command":')),
            tools(call(0, name="Bash", args='"ls"}')),
            chunk(finish="tool_calls"),
            DONE,
        ],
        make_ctx(),
        [
            message_start(),
            start_tool(0, "call_1", "Bash"),
            delta(0, partial_json='{"command":"ls"}'),
            stop(0),
            *message_end("tool_use", usage_of(ESTIMATE, 4)),
        ],
        id="arguments-before-the-name-are-the-first-delta-after-the-start",
    ),
    pytest.param(
        [
            tools(call(0, "call_1", "Bash", '{"command":')),
            tools(call(0, "call_1", "Bash", '"ls"}')),
            chunk(finish="tool_calls"),
            DONE,
        ],
        make_ctx(),
        [
            message_start(),
            start_tool(0, "call_1", "Bash"),
            delta(0, partial_json='{"command":'),
            delta(0, partial_json='"ls"}'),
            stop(0),
            *message_end("tool_use", usage_of(ESTIMATE, 4)),
        ],
        id="a-name-repeated-in-every-delta-is-not-concatenated",
    ),
    pytest.param(
        [
            tools(call(0, "call_a", "Read"), call(1, "call_b", "Bash")),
            tools(call(0, args='{"file_path":'), call(1, args='{"command":')),
            tools(call(1, args='"ls"}'), call(0, args='"/a"}')),
            chunk(finish="tool_calls"),
            DONE,
        ],
        make_ctx(),
        [
            message_start(),
            start_tool(0, "call_a", "Read"),
            delta(0, partial_json='{"file_path":'),
            delta(0, partial_json='"/a"}'),
            stop(0),
            start_tool(1, "call_b", "Bash"),
            delta(1, partial_json='{"command":"ls"}'),
            stop(1),
            *message_end("tool_use", usage_of(ESTIMATE, 9)),
        ],
        id="tool-calls-interleaved-by-index-stream-the-first-and-emit-the-rest-whole-at-finish",
    ),
    pytest.param(
        [
            chunk({"reasoning_content": "Need ls."}),
            chunk({"content": "Listing."}),
            tools(call(0, "call_1", "Bash", '{"command":"ls"}')),
            chunk(finish="tool_calls"),
            DONE,
        ],
        make_ctx(thinking=True),
        [
            message_start(),
            start_thinking(0),
            delta(0, thinking="Need ls."),
            signature(0, "Need ls."),
            stop(0),
            start_text(1),
            delta(1, text="Listing."),
            stop(1),
            start_tool(2, "call_1", "Bash"),
            delta(2, partial_json='{"command":"ls"}'),
            stop(2),
            *message_end("tool_use", usage_of(ESTIMATE, 8)),
        ],
        id="reasoning-then-text-then-tool-calls-take-indices-0-1-2",
    ),
    pytest.param(
        [
            tools(call(call_id="fc_1", name="Read", args='{"file_path":"/a"}')),
            tools(call(name="Bash", args='{"command":')),
            tools(call(args='"ls"}')),
            chunk(finish="stop"),
            DONE,
        ],
        make_ctx(),
        [
            message_start(),
            start_tool(0, "fc_1", "Read"),
            delta(0, partial_json='{"file_path":"/a"}'),
            stop(0),
            start_tool(1, "TOOLU", "Bash"),
            delta(1, partial_json='{"command":'),
            delta(1, partial_json='"ls"}'),
            stop(1),
            *message_end("tool_use", usage_of(ESTIMATE, 9)),
        ],
        id="an-index-and-id-less-delta-naming-another-function-starts-a-new-call",
    ),
    pytest.param(
        [chunk({"content": "Hi"}, "length"), DONE],
        make_ctx(),
        [*HI, *message_end("max_tokens", usage_of(ESTIMATE, 1))],
        id="finish-length-is-max-tokens",
    ),
    pytest.param(
        [chunk({"refusal": "I can't help with that."}), chunk(finish="stop"), DONE],
        make_ctx(),
        [
            message_start(),
            start_text(0),
            delta(0, text="I can't help with that."),
            stop(0),
            *message_end("refusal", usage_of(ESTIMATE, 6)),
        ],
        id="a-refusal-is-text-with-stop-reason-refusal",
    ),
    pytest.param(
        [
            {"choices": [{"index": 0, "delta": {"content": "Hi"}, "finish_reason": "stop", "stop_reason": "END"}]},
            DONE,
        ],
        make_ctx(stop_sequences=["END"]),
        [*HI, *message_end("stop_sequence", usage_of(ESTIMATE, 1), sequence="END")],
        id="a-vllm-matched-stop-string-is-a-stop-sequence",
    ),
    pytest.param(
        [
            tools(call(0, "functions.Bash:0", "Bash_shortened_1a2b3c4d", "{}")),
            chunk(finish="tool_calls"),
            DONE,
        ],
        make_ctx(tool_names={"Bash_shortened_1a2b3c4d": "Bash" * 20}),
        [
            message_start(),
            start_tool(0, ids.client_tool_id("functions.Bash:0"), "Bash" * 20),
            delta(0, partial_json="{}"),
            stop(0),
            *message_end("tool_use", usage_of(ESTIMATE, 1)),
        ],
        id="tool-ids-are-sanitised-and-shortened-names-restored",
    ),
    pytest.param(
        [tools(call(0, "call_1", args='{"a":1}')), chunk(finish="tool_calls"), DONE],
        make_ctx(),
        [message_start(), *message_end("end_turn", usage_of(ESTIMATE, 0))],
        id="a-tool-call-that-never-gets-a-name-is-dropped",
    ),
]


@pytest.mark.parametrize(("items", "ctx", "expected"), EDGE_CASES)
def test_an_edge_case_stream_gives_the_exact_events(
    items: list[JSON | str], ctx: Context, expected: list[JSON]
) -> None:
    events = replay(items, ctx)
    assert _with_random_ids_hidden(events) == _with_random_ids_hidden(expected)
    if events[-1]["type"] != "error":
        assert_well_formed(events)


def _with_random_ids_hidden(events: list[JSON]) -> list[JSON]:
    """Tool ids minted for calls the upstream sent without one are random: compare them as "TOOLU"."""
    hidden = json.loads(json.dumps(events))
    for event in hidden:
        block = event.get("content_block", {})
        if block.get("type") == "tool_use" and re.fullmatch(r"toolu_[0-9A-Za-z]{24}|TOOLU", block["id"]):
            block["id"] = "TOOLU"
    return hidden


def test_a_missing_tool_call_id_gets_a_fresh_client_id() -> None:
    events = replay([tools(call(0, name="Bash", args="{}")), chunk(finish="tool_calls"), DONE])
    assert re.fullmatch(r"toolu_[0-9A-Za-z]{24}", events[1]["content_block"]["id"])


def test_an_unsafe_tool_id_becomes_a_stable_client_safe_id() -> None:
    events = replay([tools(call(0, "functions.Bash:0", "Bash", "{}")), chunk(finish="tool_calls"), DONE])
    client_id = events[1]["content_block"]["id"]
    assert re.fullmatch(r"[a-zA-Z0-9_-]+", client_id) and client_id == ids.client_tool_id("functions.Bash:0")


def test_the_message_delta_waits_for_the_usage_chunk_after_the_finish_chunk() -> None:
    translator = StreamTranslator(make_ctx())
    translator.start()
    per_chunk = [
        translator.feed(chunk({"content": "Hi"})),
        translator.feed(chunk(finish="stop")),
        translator.feed({"choices": [], "usage": {"prompt_tokens": 1000, "completion_tokens": 50}}),
        translator.finish(done=True),
    ]
    assert per_chunk == [
        [start_text(0), delta(0, text="Hi")],
        [stop(0)],
        message_end("end_turn", usage_of(1000, 50)),
        [],
    ]


def test_without_upstream_usage_output_tokens_is_an_integer_estimate() -> None:
    events = replay([chunk({"content": "x" * 41}), chunk(finish="stop"), DONE])
    assert events[-2]["usage"] == usage_of(ESTIMATE, 11)
    translator = StreamTranslator(make_ctx())
    assert translator.usage() == (usage_of(ESTIMATE, 0), True)


def test_after_an_error_the_translator_emits_nothing_more() -> None:
    translator = StreamTranslator(make_ctx())
    translator.start()
    assert translator.error("timeout_error", "read timeout") == [error_event("timeout_error", "read timeout")]
    assert translator.feed(chunk({"content": "late"})) == []
    assert translator.finish(done=True) == []
    assert translator.error("api_error", "again") == []


def test_after_message_stop_later_chunks_are_ignored() -> None:
    translator = StreamTranslator(make_ctx())
    translator.start()
    translator.feed(chunk({"content": "Hi"}, "stop", usage={"prompt_tokens": 1, "completion_tokens": 1}))
    assert translator.feed({"choices": [], "usage": {"prompt_tokens": 2, "completion_tokens": 2}}) == []
    assert translator.finish(done=False) == []


def test_arguments_for_an_already_closed_tool_block_are_dropped_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    items: list[JSON | str] = [
        tools(call(0, "call_1", "Bash", '{"command":"ls"}')),
        chunk({"content": "Running it."}),
        tools(call(0, args='{"oops":1}')),
        chunk(finish="tool_calls"),
        DONE,
    ]
    with caplog.at_level(logging.WARNING, logger="api.translate.stream"):
        events = replay(items)
    assert [e["type"] for e in events].count("content_block_start") == 2
    assert_well_formed(events)
    assert "already closed tool block" in caplog.text


def test_thinking_after_text_opens_a_new_signed_thinking_block() -> None:
    items: list[JSON | str] = [
        chunk({"reasoning": "a"}),
        chunk({"content": "b"}),
        chunk({"reasoning": "c"}),
        chunk(finish="stop"),
        DONE,
    ]
    events = replay(items, make_ctx(thinking=True))
    assert events[1:-2] == [
        start_thinking(0),
        delta(0, thinking="a"),
        signature(0, "a"),
        stop(0),
        start_text(1),
        delta(1, text="b"),
        stop(1),
        start_thinking(2),
        delta(2, thinking="c"),
        signature(2, "c"),
        stop(2),
    ]
