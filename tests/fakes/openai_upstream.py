"""A real, local, OpenAI-compatible Chat Completions server for end-to-end tests and the benchmark.

It is a plain ASGI app served by uvicorn on loopback. It records every request it receives and
answers `POST .../chat/completions` from a script: a queue of replies (`Text`, `ToolCall`, `Error`,
`Stall`) consumed in order. A reply may name the upstream `model` it is for; requests for other
models skip it, so side requests (a client asking a small model for a title) never eat the reply
a test scripted for the main conversation. With nothing scripted it answers a short text.

Streams are real `chat.completion.chunk` frames (`data: {...}\\n\\n`), ending with a usage chunk
(`choices: []`) when the request asked for `stream_options.include_usage`, then `data: [DONE]`.

    with FakeUpstream().running() as fake:
        fake.script(Text("Hello.", chunks=3), ToolCall("Write", {"file_path": "a", "content": "b"}))
        ...  # point a client at fake.base_url
        assert fake.chat_requests()[0].body["model"] == "gpt-4o"

Run alone with `python -m tests.fakes.openai_upstream --port 9100`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import KW_ONLY, dataclass, field
from typing import Any

import uvicorn


async def read_body(receive) -> bytes:
    """The whole request body from ASGI `http.request` messages."""
    raw = b""
    while True:
        message = await receive()
        raw += message.get("body", b"")
        if not message.get("more_body"):
            return raw


@dataclass(frozen=True, kw_only=True)
class Reply:
    model: str | None = None  # only requests for this upstream model take the reply; None: any
    prompt_tokens: int = 21
    completion_tokens: int = 7


@dataclass(frozen=True)
class Text(Reply):
    """An assistant text; streamed in `chunks` pieces (with `chunk_delay` seconds between) when asked."""

    text: str
    _: KW_ONLY
    chunks: int = 3
    chunk_delay: float = 0.0
    finish_reason: str = "stop"
    citations: tuple[tuple[str, str], ...] = ()
    """(url, title) pages the text cites, as `url_citation` annotations (a searching upstream's answer)."""

    def annotations(self) -> list[dict]:
        """Chat Completions' shape (OpenRouter's web plugin, OpenAI search models): fields under `url_citation`."""
        span = {"start_index": 0, "end_index": len(self.text)}
        return [{"type": "url_citation", "url_citation": {"url": u, "title": t} | span} for u, t in self.citations]


@dataclass(frozen=True)
class ToolCall(Reply):
    """One function call; when streamed, its JSON arguments arrive split into `fragments` pieces."""

    name: str
    arguments: dict[str, Any]
    _: KW_ONLY
    call_id: str = "call_e2e_0001"
    fragments: int = 4
    text: str = ""  # an optional text before the call, as some models say what they are about to do


@dataclass(frozen=True)
class Error(Reply):
    """An HTTP error with an OpenAI-shaped body (or `body` verbatim) and extra `headers`."""

    status: int
    _: KW_ONLY
    message: str = "scripted upstream error"
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Stall(Reply):
    """Say nothing for `seconds` (not even a status line), then answer `then`, or a 504 without it."""

    seconds: float
    _: KW_ONLY
    then: Reply | None = None


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: Any  # the parsed JSON body, or None
    raw: bytes


class FakeUpstream:
    """The ASGI app, its script and its record; `running()` serves it from a background thread.

    Subclasses answer another API by setting `answer_path` and overriding `send_reply`
    (`tests.fakes.responses_upstream`)."""

    answer_path = "/chat/completions"

    def __init__(self, *, record: bool = True, default_chunks: int = 3) -> None:
        self.record = record
        self.default_chunks = default_chunks
        self.requests: list[Recorded] = []
        self._script: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._served = 0
        self.base_url = ""

    # --- the test-facing API ----------------------------------------------------------------
    def script(self, *replies: Reply) -> None:
        with self._lock:
            self._script.extend(replies)

    def reset(self) -> None:
        with self._lock:
            self._script.clear()
            self.requests.clear()

    def pending(self) -> list[Reply]:
        with self._lock:
            return list(self._script)

    def chat_requests(self, model: str | None = None) -> list[Recorded]:
        """The requests to `answer_path` (for `model`), oldest first."""
        with self._lock:
            found = [r for r in self.requests if r.path.endswith(self.answer_path)]
        return [r for r in found if model is None or (r.body or {}).get("model") == model]

    @contextlib.contextmanager
    def running(self, host: str = "127.0.0.1", port: int = 0) -> Iterator[FakeUpstream]:
        config = uvicorn.Config(
            self, host=host, port=port, lifespan="off", log_level="warning", timeout_graceful_shutdown=1
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, name="fake-openai-upstream", daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"fake upstream did not start on {host}:{port}")
            time.sleep(0.01)
        bound = server.servers[0].sockets[0].getsockname()[1]
        self.base_url = f"http://{host}:{bound}/v1"
        try:
            yield self
        finally:
            server.should_exit = True
            thread.join(10)

    # --- ASGI ---------------------------------------------------------------------------------
    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return
        raw = await read_body(receive)
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        recorded = Recorded(
            method=scope["method"],
            path=scope["path"],
            query=scope["query_string"].decode(),
            headers={k.decode().lower(): v.decode() for k, v in scope["headers"]},
            body=body,
            raw=raw,
        )
        if self.record:
            with self._lock:
                self.requests.append(recorded)
        if scope["method"] == "GET" and scope["path"].endswith("/models"):
            await send_json(send, 200, {"object": "list", "data": [{"id": "fake-model", "object": "model"}]})
        elif scope["method"] == "POST" and scope["path"].endswith(self.answer_path):
            await self._answer(send, body if isinstance(body, dict) else {})
        else:
            await send_json(send, 404, _error_body(f"no route for {scope['method']} {scope['path']}"))

    def _next_reply(self, model: str) -> Reply:
        with self._lock:
            self._served += 1
            for reply in self._script:
                if reply.model in (None, model):
                    self._script.remove(reply)
                    return reply
            return Text(f"Fake upstream answer {self._served} from {model}.", chunks=self.default_chunks)

    async def _answer(self, send, request: dict) -> None:
        model = str(request.get("model", "fake-model"))
        reply = self._next_reply(model)
        while isinstance(reply, Stall):
            await asyncio.sleep(reply.seconds)
            if reply.then is None:
                return await send_json(send, 504, _error_body("scripted stall ended without an answer"))
            reply = reply.then
        if isinstance(reply, Error):
            body = reply.body if reply.body is not None else _error_body(reply.message, reply.status)
            return await send_json(send, reply.status, body, reply.headers)
        await self.send_reply(send, request, model, reply)

    async def send_reply(self, send, request: dict, model: str, reply: Reply) -> None:
        """`reply` as a `chat.completion`, or streamed as its chunks when the request asked."""
        completion = Completion(model, reply)
        if not request.get("stream"):
            return await send_json(send, 200, completion.whole())
        include_usage = bool((request.get("stream_options") or {}).get("include_usage"))
        delay = reply.chunk_delay if isinstance(reply, Text) else 0.0
        frames = [b"data: " + json.dumps(chunk).encode() + b"\n\n" for chunk in completion.chunks(include_usage)]
        await send_sse(send, [*frames, b"data: [DONE]\n\n"], delay)


class Completion:
    """One scripted answer rendered as a `chat.completion` or as its `chat.completion.chunk`s."""

    def __init__(self, model: str, reply: Reply) -> None:
        self.model, self.reply = model, reply
        self.id = f"chatcmpl-fake{time.monotonic_ns()}"
        self.created = int(time.time())

    def usage(self) -> dict[str, int]:
        p, c = self.reply.prompt_tokens, self.reply.completion_tokens
        return {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}

    def whole(self) -> dict:
        reply = self.reply
        message: dict[str, Any] = {"role": "assistant", "content": None, "refusal": None}
        if isinstance(reply, Text):
            message["content"], finish = reply.text, reply.finish_reason
            if reply.citations:
                message["annotations"] = reply.annotations()
        else:
            assert isinstance(reply, ToolCall)
            message["content"] = reply.text or None
            message["tool_calls"] = [
                {
                    "id": reply.call_id,
                    "type": "function",
                    "function": {"name": reply.name, "arguments": json.dumps(reply.arguments)},
                }
            ]
            finish = "tool_calls"
        return {
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
            "usage": self.usage(),
            "system_fingerprint": "fp_fake",
        }

    def chunks(self, include_usage: bool) -> list[dict]:
        reply = self.reply
        deltas: list[dict] = [{"role": "assistant", "content": "", "refusal": None}]
        if isinstance(reply, Text):
            deltas += [{"content": piece} for piece in split(reply.text, reply.chunks)]
            if reply.citations:  # OpenRouter sends them after the text, in a delta of their own
                deltas.append({"content": "", "annotations": reply.annotations()})
            finish = reply.finish_reason
        else:
            assert isinstance(reply, ToolCall)
            if reply.text:
                deltas.append({"content": reply.text})
            deltas.append(
                {
                    "tool_calls": [
                        {
                            "index": 0,
                            "id": reply.call_id,
                            "type": "function",
                            "function": {"name": reply.name, "arguments": ""},
                        }
                    ]
                }
            )
            deltas += [
                {"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}
                for piece in split(json.dumps(reply.arguments), reply.fragments)
            ]
            finish = "tool_calls"
        frames = [self._chunk(delta, None, include_usage) for delta in deltas]
        frames.append(self._chunk({}, finish, include_usage))
        if include_usage:
            frames.append({**self._chunk({}, None, include_usage), "choices": [], "usage": self.usage()})
        return frames

    def _chunk(self, delta: dict, finish: str | None, include_usage: bool) -> dict:
        chunk = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "system_fingerprint": "fp_fake",
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }
        if include_usage:
            chunk["usage"] = None
        return chunk


def split(text: str, parts: int) -> list[str]:
    """`text` cut into `parts` non-empty pieces (fewer when it is shorter)."""
    parts = max(1, min(parts, len(text)))
    size, extra = divmod(len(text), parts)
    pieces, start = [], 0
    for i in range(parts):
        end = start + size + (1 if i < extra else 0)
        pieces.append(text[start:end])
        start = end
    return pieces


def _error_body(message: str, status: int = 404) -> dict:
    kind = {429: "rate_limit_exceeded", 401: "invalid_api_key"}.get(status, "invalid_request_error")
    if status >= 500:
        kind = "server_error"
    return {"error": {"message": message, "type": kind, "param": None, "code": kind}}


async def send_sse(send, frames: list[bytes], delay: float = 0.0) -> None:
    """A 200 event stream of `frames`, `delay` seconds apart."""
    headers = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    for number, frame in enumerate(frames):
        if delay and number:
            await asyncio.sleep(delay)
        await send({"type": "http.response.body", "body": frame, "more_body": True})
    await send({"type": "http.response.body", "body": b"", "more_body": False})


async def send_json(send, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
    data = json.dumps(body).encode()
    extra = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send(
        {"type": "http.response.start", "status": status, "headers": [(b"content-type", b"application/json"), *extra]}
    )
    await send({"type": "http.response.body", "body": data})


def main() -> None:
    parser = argparse.ArgumentParser(description="A fake OpenAI-compatible Chat Completions server.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9100)
    parser.add_argument("--chunks", type=int, default=3, help="pieces each streamed answer is cut into")
    parser.add_argument("--record", action="store_true", help="keep every request in memory")
    args = parser.parse_args()
    fake = FakeUpstream(record=args.record, default_chunks=args.chunks)
    uvicorn.run(fake, host=args.host, port=args.port, lifespan="off", log_level="warning")


if __name__ == "__main__":
    main()
