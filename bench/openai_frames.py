"""The fake upstream's replies, rendered once per shape into ready-to-write HTTP/1.1 bytes.

A non-stream reply is one `chat.completion` with `usage`. A stream is `chat.completion.chunk`
frames: `chunks` content frames (the first also carries the role; with `tools`, a short text, the
call's name, then argument fragments), a finish frame, a usage frame (`choices: []`) and `[DONE]`,
each sent as one HTTP chunk.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import orjson

COMPLETION_ID = "chatcmpl-bench"
CREATED = 1_700_000_000
PROMPT_TOKENS, COMPLETION_TOKENS = 1200, 40
USAGE = {
    "prompt_tokens": PROMPT_TOKENS,
    "completion_tokens": COMPLETION_TOKENS,
    "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS,
}
TOOL_ARGS = orjson.dumps({"file_path": "/tmp/bench/hello.py", "content": "print('hello from the bench')\n" * 4})


@dataclass(frozen=True)
class Rendered:
    """`head` then `paced` frames (one per content chunk) then `tail`; `whole` for non-stream."""

    whole: bytes
    head: bytes
    paced: tuple[bytes, ...]
    tail: bytes


def _http_chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def _frame(delta: dict, finish: str | None = None) -> bytes:
    chunk = {
        "id": COMPLETION_ID,
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": "bench",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        "usage": None,
    }
    return _http_chunk(b"data: " + orjson.dumps(chunk) + b"\n\n")


def _split(data: str, parts: int) -> list[str]:
    parts = max(1, min(parts, len(data)))
    size, extra = divmod(len(data), parts)
    pieces, start = [], 0
    for i in range(parts):
        end = start + size + (1 if i < extra else 0)
        pieces.append(data[start:end])
        start = end
    return pieces


def _deltas(chunks: int, tools: bool) -> list[dict]:
    if not tools:
        deltas: list[dict] = [{"content": f"token{i} "} for i in range(chunks)]
    else:
        call = {"index": 0, "id": "call_bench_1", "type": "function", "function": {"name": "Write", "arguments": ""}}
        fragments = _split(TOOL_ARGS.decode(), max(1, chunks - 2))
        deltas = [{"content": "Writing the file."}, {"tool_calls": [call]}]
        deltas += [{"tool_calls": [{"index": 0, "function": {"arguments": piece}}]} for piece in fragments]
    deltas[0] = {"role": "assistant", **deltas[0]}
    return deltas


def _whole(chunks: int, tools: bool) -> bytes:
    message: dict = {"role": "assistant", "content": " ".join(f"token{i}" for i in range(chunks)), "refusal": None}
    finish = "stop"
    if tools:
        message["content"] = "Writing the file."
        message["tool_calls"] = [
            {"id": "call_bench_1", "type": "function", "function": {"name": "Write", "arguments": TOOL_ARGS.decode()}}
        ]
        finish = "tool_calls"
    body = orjson.dumps(
        {
            "id": COMPLETION_ID,
            "object": "chat.completion",
            "created": CREATED,
            "model": "bench",
            "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
            "usage": USAGE,
        }
    )
    head = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n" % len(body)
    return head + body


@functools.lru_cache(maxsize=64)
def render(chunks: int, tools: bool) -> Rendered:
    head = (
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n"
        b"transfer-encoding: chunked\r\n\r\n"
    )
    paced = tuple(_frame(delta) for delta in _deltas(chunks, tools))
    usage = {
        "id": COMPLETION_ID,
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": "bench",
        "choices": [],
        "usage": USAGE,
    }
    tail = (
        _frame({}, "tool_calls" if tools else "stop")
        + _http_chunk(b"data: " + orjson.dumps(usage) + b"\n\n")
        + _http_chunk(b"data: [DONE]\n\n")
        + b"0\r\n\r\n"
    )
    return Rendered(whole=_whole(chunks, tools), head=head, paced=paced, tail=tail)


def json_response(status: int, body: bytes) -> bytes:
    reason = {200: b"OK", 404: b"Not Found"}.get(status, b"Error")
    return b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s" % (
        status,
        reason,
        len(body),
        body,
    )
