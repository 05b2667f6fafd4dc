"""A fast fake OpenAI Chat Completions upstream: a raw asyncio HTTP/1.1 server (uvloop, httptools, keep-alive).

`POST .../chat/completions` answers from bytes rendered once per shape (see `openai_frames`):
JSON with usage, or a stream when the body says `"stream":true`. The shape of each answer comes
from, first found wins per field:

- headers `x-bench-chunks`, `x-bench-ttft-ms`, `x-bench-chunk-delay-ms`, `x-bench-tools` (direct calls);
- a marker `[bench chunks=20 ttft_ms=300 delay_ms=5 tools=1]` in the body: the gateway forwards no
  client headers, but it does forward the prompt, so this is how a scenario reaches the fake through it;
- the command-line defaults.

A paced stream sends its head at once, the first content chunk after `ttft_ms`, each next one
`delay_ms` later, then finish, usage and `[DONE]`. `GET /_bench/last` returns the last chat body
received (the bench replays it to measure the upstream alone); `GET /health` answers 200.

    python -m bench.fake_upstream --port 0     # prints `listening on PORT`, stops on SIGTERM
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import signal
from dataclasses import dataclass, replace

import httptools
import uvloop

from bench.openai_frames import Rendered, json_response, render

_MARKER = re.compile(rb"\[bench ([a-z_=0-9 ]*)\]")
_FIELDS = {b"chunks": "chunks", b"ttft_ms": "ttft_ms", b"delay_ms": "delay_ms", b"tools": "tools"}
_HEADERS = {
    b"x-bench-chunks": "chunks",
    b"x-bench-ttft-ms": "ttft_ms",
    b"x-bench-chunk-delay-ms": "delay_ms",
    b"x-bench-tools": "tools",
}


@dataclass(frozen=True)
class Shape:
    chunks: int = 20
    ttft_ms: int = 0
    delay_ms: int = 0
    tools: int = 0


def shape_for(headers: dict[bytes, bytes], body: bytes, default: Shape) -> Shape:
    """The answer's shape for one request: headers over the body marker over `default`."""
    found: dict[str, int] = {}
    start = body.rfind(b"[bench ")
    match = _MARKER.match(body, start) if start >= 0 else None
    if match:
        for pair in match.group(1).split():
            key, _, value = pair.partition(b"=")
            if key in _FIELDS and value.isdigit():
                found[_FIELDS[key]] = int(value)
    for name, value in headers.items():
        if name in _HEADERS and value.strip().isdigit():
            found[_HEADERS[name]] = int(value)
    return replace(default, **found) if found else default


class FakeState:
    def __init__(self, default: Shape) -> None:
        self.default = default
        self.last_chat_body = b"{}"
        self.served = 0


class FakeProtocol(asyncio.Protocol):
    """One client connection; requests are answered in order, one at a time."""

    def __init__(self, state: FakeState) -> None:
        self.state = state
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.url, self.headers, self.body = b"", {}, []
        self.timer: asyncio.TimerHandle | None = None

    # asyncio callbacks
    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.transport.close()

    def connection_lost(self, exc) -> None:
        if self.timer is not None:
            self.timer.cancel()

    # httptools callbacks
    def on_message_begin(self) -> None:
        self.url, self.headers, self.body = b"", {}, []

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        name = name.lower()
        if name.startswith(b"x-bench-"):
            self.headers[name] = value

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        method, path = self.parser.get_method(), self.url.partition(b"?")[0]
        body = b"".join(self.body)
        if method == b"POST" and path.endswith(b"/chat/completions"):
            self.answer(body)
        elif method == b"GET" and path == b"/_bench/last":
            self.transport.write(json_response(200, self.state.last_chat_body))
        elif method == b"GET" and path == b"/health":
            self.transport.write(json_response(200, b'{"status":"ok"}'))
        else:
            self.transport.write(json_response(404, b'{"error":{"message":"not found","type":"not_found"}}'))
        if not self.parser.should_keep_alive():
            self.transport.close()

    def answer(self, body: bytes) -> None:
        state = self.state
        state.served += 1
        state.last_chat_body = body
        shape = shape_for(self.headers, body, state.default)
        reply = render(shape.chunks, bool(shape.tools))
        if b'"stream":true' not in body:
            self.transport.write(reply.whole)
        elif not (shape.ttft_ms or shape.delay_ms):
            self.transport.writelines((reply.head, *reply.paced, reply.tail))
        else:
            self.transport.write(reply.head)
            self.pace(reply, 0, shape.ttft_ms / 1000, shape.delay_ms / 1000)

    def pace(self, reply: Rendered, index: int, wait: float, delay: float) -> None:
        """Send content chunk `index` after `wait` seconds, then the next, then the tail (timers, no tasks)."""

        def step() -> None:
            self.timer = None
            if self.transport.is_closing():
                return
            self.transport.write(reply.paced[index])
            if index + 1 < len(reply.paced):
                self.pace(reply, index + 1, delay, delay)
            else:
                self.transport.write(reply.tail)

        self.timer = asyncio.get_running_loop().call_later(wait, step)


async def serve(host: str, port: int, default: Shape) -> None:
    loop = asyncio.get_running_loop()
    state = FakeState(default)
    server = await loop.create_server(lambda: FakeProtocol(state), host, port, backlog=4096)
    print(f"listening on {server.sockets[0].getsockname()[1]}", flush=True)
    stop = loop.create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda: stop.done() or stop.set_result(None))
    async with server:
        await stop


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--chunks", type=int, default=Shape.chunks)
    parser.add_argument("--ttft-ms", type=int, default=0)
    parser.add_argument("--chunk-delay-ms", type=int, default=0)
    parser.add_argument("--tools", action="store_true", help="answer with a tool call (Write) by default")
    args = parser.parse_args(argv)
    default = Shape(args.chunks, args.ttft_ms, args.chunk_delay_ms, int(args.tools))
    with contextlib.suppress(KeyboardInterrupt):
        uvloop.run(serve(args.host, args.port, default))


if __name__ == "__main__":
    main()
