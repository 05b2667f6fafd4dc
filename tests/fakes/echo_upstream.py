"""An upstream that quotes back the API key it was sent, in the shapes real providers use.

The requested `model` names the shape (see `SHAPES`); the key is read from the request's own
`authorization: Bearer ...` or `x-api-key` header, so the fake knows nothing the gateway did not
send it. `echo_reply` serves respx mocks; `EchoUpstream` serves the same replies from a real local
server (both the OpenAI `/chat/completions` and the Anthropic `/v1/messages` shapes).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import quote

import httpx

from tests.fakes.openai_upstream import FakeUpstream, Recorded, read_body

SHAPES = ("plain", "in-token", "x-api-key", "url-encoded", "head", "tail", "header", "stream-error")
"""`header` answers 429 with the key in relayed headers; `stream-error` answers 200 and then an
`error` event quoting the key, cut in two reads in the middle of the key; the others answer 401."""


@dataclass(frozen=True)
class Echo:
    status: int
    headers: dict[str, str]
    parts: list[bytes]


def sent_key(headers: httpx.Headers | dict[str, str]) -> str:
    auth = headers.get("authorization", "")
    return auth.removeprefix("Bearer ") if auth else headers.get("x-api-key", "")


def echo_reply(shape: str, key: str, anthropic: bool) -> Echo:
    """The reply an upstream given `key` sends for `shape`."""
    if shape == "stream-error":
        return _stream_error(key, anthropic)
    messages = {
        "plain": f"Incorrect API key provided: {key}. You can find your API key in your account settings.",
        "in-token": f"request refused (trace=req{key}zz9)",
        "x-api-key": f"invalid x-api-key: {key}",
        "url-encoded": f"unauthorized: GET /v1/models?key={quote(key, safe='')}",
        "head": f"API key {key[:10]}... is not valid",
        "tail": f"API key ...{key[-9:]} is not valid",
        "header": "rate limited, slow down",
    }
    headers = {"content-type": "application/json"}
    if shape == "header":
        headers |= {"retry-after": key, "request-id": key, "anthropic-ratelimit-requests-remaining": key}
    return Echo(429 if shape == "header" else 401, headers, [json.dumps(_error(messages[shape], anthropic)).encode()])


def _error(message: str, anthropic: bool) -> dict:
    if anthropic:
        return {"type": "error", "error": {"type": "authentication_error", "message": message}}
    return {"error": {"message": message, "type": "invalid_request_error", "code": "invalid_api_key"}}


def _stream_error(key: str, anthropic: bool) -> Echo:
    error = json.dumps(_error(f"upstream overloaded while serving key {key}", anthropic)).encode()
    if anthropic:
        start = {
            "type": "message_start",
            "message": {
                "id": "msg_1",
                "type": "message",
                "role": "assistant",
                "model": "m",
                "content": [],
                "stop_reason": None,
                "usage": {"input_tokens": 3, "output_tokens": 1},
            },
        }
        frames = b"event: message_start\ndata: " + json.dumps(start).encode() + b"\n\nevent: error\ndata: " + error
    else:
        chunk = {
            "id": "c1",
            "object": "chat.completion.chunk",
            "model": "m",
            "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hi"}, "finish_reason": None}],
        }
        frames = b"data: " + json.dumps(chunk).encode() + b"\n\ndata: " + error
    cut = frames.index(key.encode()) + len(key) // 2  # the key arrives in two reads
    return Echo(200, {"content-type": "text/event-stream"}, [frames[:cut], frames[cut:] + b"\n\n"])


class EchoUpstream(FakeUpstream):
    """A real local server answering every POST with `echo_reply` for the requested model."""

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return
        raw = await read_body(receive)
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        with self._lock:
            self.requests.append(Recorded(scope["method"], scope["path"], "", headers, None, raw))
        body = json.loads(raw or b"{}")
        echo = echo_reply(str(body.get("model")), sent_key(headers), scope["path"].endswith("/v1/messages"))
        await send(
            {
                "type": "http.response.start",
                "status": echo.status,
                "headers": [(k.encode(), v.encode()) for k, v in echo.headers.items()],
            }
        )
        for i, part in enumerate(echo.parts):
            await send({"type": "http.response.body", "body": part, "more_body": i < len(echo.parts) - 1})
