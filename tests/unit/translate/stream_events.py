"""Builders for expected Anthropic stream events and a replay harness for StreamTranslator tests.

Shared by the transcript tests and the provider-corpus tests so both assert events the same way.
"""

from __future__ import annotations

import codecs
import json
from pathlib import Path
from typing import Any

from api.translate import ids
from api.translate.sse import SSEDecoder
from api.translate.stream import StreamTranslator
from api.translate.types import JSON, Context

MODEL = "claude-opus-4-8"
ESTIMATE = 77
DONE = "[DONE]"


def make_ctx(**overrides: Any) -> Context:
    overrides.setdefault("requested_model", MODEL)
    overrides.setdefault("input_tokens_estimate", ESTIMATE)
    return Context(**overrides)


# --- expected-event builders -------------------------------------------------------------------


def message_start(input_tokens: int = ESTIMATE) -> JSON:
    usage = usage_of(input_tokens, 1)
    message = {"id": "msg_test", "type": "message", "role": "assistant", "model": MODEL, "content": []}
    return {
        "type": "message_start",
        "message": message | {"stop_reason": None, "stop_sequence": None, "usage": usage},
    }


def usage_of(input_tokens: int, output_tokens: int, read: int = 0, creation: int = 0) -> JSON:
    return {
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cache_creation_input_tokens": creation,
        "cache_read_input_tokens": read,
    }


def start_text(index: int) -> JSON:
    return {"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}}


def start_thinking(index: int) -> JSON:
    block = {"type": "thinking", "thinking": "", "signature": ""}
    return {"type": "content_block_start", "index": index, "content_block": block}


def start_tool(index: int, tool_id: str, name: str) -> JSON:
    block = {"type": "tool_use", "id": tool_id, "name": name, "input": {}}
    return {"type": "content_block_start", "index": index, "content_block": block}


def delta(index: int, **payload: str) -> JSON:
    kind, value = next(iter(payload.items()))
    names = {"text": "text_delta", "thinking": "thinking_delta", "partial_json": "input_json_delta"}
    return {"type": "content_block_delta", "index": index, "delta": {"type": names[kind], kind: value}}


def signature(index: int, thinking: str) -> JSON:
    sig = {"type": "signature_delta", "signature": ids.thinking_signature(thinking)}
    return {"type": "content_block_delta", "index": index, "delta": sig}


def stop(index: int) -> JSON:
    return {"type": "content_block_stop", "index": index}


def message_end(reason: str, usage: JSON, sequence: str | None = None) -> list[JSON]:
    end = {
        "type": "message_delta",
        "delta": {"stop_reason": reason, "stop_sequence": sequence},
        "usage": usage,
    }
    return [end, {"type": "message_stop"}]


# --- replay helpers -----------------------------------------------------------------------------


def chunk(delta_: JSON | None = None, finish: str | None = None, **top: Any) -> JSON:
    """One O chunk with a single choice."""
    choice: JSON = {"index": 0, "delta": delta_ or {}, "finish_reason": finish}
    return {"object": "chat.completion.chunk", "choices": [choice], **top}


def call(index: int | None = None, call_id: str | None = None, name: str | None = None, args: str = "") -> JSON:
    """One `tool_calls` entry; None leaves a key out, as index-less (Gemini) or id-less deltas do."""
    entry: JSON = {} if index is None else {"index": index}
    if call_id is not None:
        entry["id"] = call_id
    return entry | {"function": {"arguments": args} | ({"name": name} if name else {})}


def tools(*calls: JSON) -> JSON:
    return chunk({"tool_calls": list(calls)})


def error_event(error_type: str, message: str) -> JSON:
    return {"type": "error", "error": {"type": error_type, "message": message}}


def replay(items: list[JSON | str], ctx: Context | None = None, *, eof: bool = True) -> list[JSON]:
    """Events for chunks fed in order; `DONE` marks `[DONE]`; `eof=False` leaves the stream open."""
    translator = StreamTranslator(ctx or make_ctx())
    events = translator.start()
    done = False
    for item in items:
        if item == DONE:
            done = True
            break
        events += translator.feed(item)  # type: ignore[arg-type]
    return events + translator.finish(done=done) if eof else events


def replay_payloads(payloads: list[str], ctx: Context) -> list[JSON]:
    return replay([p if p == DONE else json.loads(p) for p in payloads], ctx)


def decode(pieces: list[bytes]) -> list[str]:
    """Upstream bytes as they arrive -> `data` payloads, through an incremental UTF-8 decoder."""
    text, sse = codecs.getincrementaldecoder("utf-8")(), SSEDecoder()
    payloads = []
    for piece in pieces:
        payloads += sse.feed(text.decode(piece))
    return payloads + sse.feed(text.decode(b"", final=True)) + sse.flush()


def replay_file(path: Path, ctx: Context) -> list[JSON]:
    return replay_payloads(decode([path.read_bytes()]), ctx)


def assert_well_formed(events: list[JSON]) -> None:
    """A's grammar (§5.1): message_start, contiguous blocks with one open at a time, one message_delta."""
    assert events[0]["type"] == "message_start"
    open_index, next_index, deltas = None, 0, 0
    for event in events[1:]:
        kind = event["type"]
        if kind == "content_block_start":
            assert open_index is None and event["index"] == next_index
            open_index, next_index = next_index, next_index + 1
        elif kind in ("content_block_delta", "content_block_stop"):
            assert event["index"] == open_index
            open_index = None if kind == "content_block_stop" else open_index
        elif kind == "message_delta":
            assert open_index is None
            deltas += 1
    assert deltas == 1 and events[-1] == {"type": "message_stop"}
