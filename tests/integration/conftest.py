"""Integration tests drive the real views with Django's async client; upstreams are mocked with respx."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
import respx
from asgiref.sync import sync_to_async

from api.accounting.usage import writer
from routing.models import UsageLog
from tests.factories import make_key, make_provider, make_route
from tests.respx_aiohttp import AiohttpTransportMocker

UPSTREAM = "http://upstream.test/v1"


@pytest.fixture
def upstream():
    with respx.mock(assert_all_called=False, using=AiohttpTransportMocker.name) as mock:
        yield mock


@pytest.fixture
def gateway(transactional_db, settings):
    """A provider `openai-main` routing every model to gpt-4o, and a client key for user alice."""
    settings.AUTH_MODE = "keys"
    settings.ANTHROPIC_API_KEY = ""
    provider = make_provider(base_url=UPSTREAM, profile="openai")
    route = make_route(provider, pattern="*", target_model="gpt-4o")
    key, secret = make_key()
    yield {"provider": provider, "route": route, "key": key, "secret": secret}
    assert writer.flush(10.0), "usage rows were still queued at the end of the test"


async def usage_rows() -> list[UsageLog]:
    """The usage log once the background writer has drained its queue."""
    assert await sync_to_async(writer.flush)(10.0), "usage writer did not drain"
    return [row async for row in UsageLog.objects.order_by("id")]


def sse(*chunks: dict | str) -> bytes:
    """An OpenAI stream body: each chunk as a `data:` line; strings are sent verbatim."""
    return b"".join((c if isinstance(c, str) else "data: " + json.dumps(c) + "\n\n").encode() for c in chunks)


def chunk(delta: dict | None = None, finish: str | None = None, usage: dict | None = None, choices=True) -> dict:
    body: dict = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "model": "gpt-4o"}
    body["choices"] = [{"index": 0, "delta": delta or {}, "finish_reason": finish}] if choices else []
    if usage is not None:
        body["usage"] = usage
    return body


def completion(message: dict, finish: str = "stop", usage: dict | None = None) -> dict:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "gpt-4o",
        "choices": [{"index": 0, "message": {"role": "assistant", **message}, "finish_reason": finish}],
        "usage": usage or {"prompt_tokens": 11, "completion_tokens": 3, "total_tokens": 14},
    }


class SlowStream(httpx.AsyncByteStream):
    """An upstream body that yields parts after delays and records whether it was closed."""

    def __init__(self, parts: list[tuple[float, bytes]]) -> None:
        self.parts = parts
        self.closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for delay, part in self.parts:
            await asyncio.sleep(delay)
            yield part

    async def aclose(self) -> None:
        self.closed = True


async def read_stream(response) -> list[dict]:
    """The SSE events of a streaming response, checking every frame's event line equals data.type."""
    raw = b"".join([part async for part in response.streaming_content]).decode()
    events = []
    for frame in raw.strip().split("\n\n"):
        lines = frame.split("\n")
        assert lines[0].startswith("event: ") and lines[1].startswith("data: "), frame
        event = json.loads(lines[1][len("data: ") :])
        assert lines[0][len("event: ") :] == event["type"]
        events.append(event)
    return events


def messages_body(**overrides) -> dict:
    body = {"model": "claude-opus-4-8", "max_tokens": 1000, "messages": [{"role": "user", "content": "hi"}]}
    body.update(overrides)
    return body



@dataclass
class AsgiReply:
    status_code: int
    headers: dict[str, str]
    content: bytes

    def __getitem__(self, name: str) -> str:
        return self.headers[name.lower()]

    def json(self):
        return json.loads(self.content)


async def asgi_request(
    path: str,
    body: bytes = b"",
    *,
    method: str = "POST",
    address: str = "127.0.0.1",
    host: str = "testserver",
    server: tuple[str, int] | None = ("127.0.0.1", 8082),
    **headers: str,
) -> AsgiReply:
    """A request through the served application (`proxy_site.asgi`: dispatch, the API handler and its
    middleware), from `address` with `Host: host`, reaching this host's `server` address: all three are
    fixed by Django's test client, which also runs every path through the full middleware."""
    from proxy_site.asgi import application

    sent = [(b"host", host.encode()), (b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    sent += [(name.lower().replace("_", "-").encode(), value.encode()) for name, value in headers.items()]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": sent,
        "client": (address, 50000),
        "server": server,
    }
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    never = asyncio.Event()

    async def receive():
        if messages:
            return messages.pop()
        await never.wait()  # the client stays until the response is sent

    out: list[dict] = []

    async def send(message):
        out.append(message)

    await application(scope, receive, send)
    start = out[0]
    response_headers = {name.decode().lower(): value.decode() for name, value in start["headers"]}
    return AsgiReply(start["status"], response_headers, b"".join(m.get("body", b"") for m in out[1:]))
