"""What the fault upstream sends for each fault, streaming and not: the healthy answer, or a misbehaviour.

`serve_stream` / `serve_whole` return True when the answer ended cleanly and the connection may carry
another request, False when it was abandoned, reset or closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from tests.fakes.openai_upstream import Completion, Text
from tests.faults.fault_wire import FOREVER, Link

if TYPE_CHECKING:
    from tests.faults.fault_upstream import Request

DRIP_GAP = 0.7
"""Seconds between the slow-drip frames: longer than the tests' ping interval, shorter than their read timeout."""
TICK = 0.3
"""Seconds between the frames (or bytes) of an endless stream: always inside any read timeout."""
_HTML = b"<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>"

FAULTS = (
    "ok",
    "reset_before_headers",
    "close_before_headers",
    "reset_mid_stream",
    "stall_before_headers",
    "stall_mid_stream",
    "drip",
    "drip_forever",
    "garbage",
    "half_line",
    "invalid_json",
    "truncated_json",
    "error_chunk",
    "html_502",
    "html_200",
    "wrong_type",
    "no_done",
    "never_end",
    "rate_limit",
)
"""Every fault the server knows; each has a streaming and a non-streaming form (see `serve_*`)."""


class Answer:
    """The healthy answer a request would get, as bytes: a whole completion, or SSE frames."""

    def __init__(self, request: Request, include_usage: bool) -> None:
        text = f"Answer for {request.tag or 'an untagged request'}."
        reply = Text(text, chunks=2, prompt_tokens=request.prompt_tokens, completion_tokens=request.completion_tokens)
        self.completion = Completion(request.model or "fault-model", reply)
        self.fault = request.fault
        self.include_usage = include_usage

    def whole(self) -> bytes:
        return json.dumps(self.completion.whole()).encode()

    def frames(self) -> list[bytes]:
        """The `data:` frames of a healthy stream, `[DONE]` included, one bytes object per frame."""
        chunks = self.completion.chunks(self.include_usage)
        return [b"data: " + json.dumps(c).encode() + b"\n\n" for c in chunks] + [b"data: [DONE]\n\n"]

    def content_frames(self) -> list[bytes]:
        """The role frame and the first text frame: what a stream sends before it misbehaves."""
        return self.frames()[:2]


def _rate_limited() -> tuple[dict, dict[str, str]]:
    body = {"error": {"message": "Rate limit reached for requests", "type": "requests", "code": "rate_limit_exceeded"}}
    return body, {"retry-after": "1"}


_IN_BAND_ERROR = {"error": {"message": "The upstream model crashed mid-answer.", "type": "server_error"}}
_GARBAGE = b"\x00\xff\xfe\xfd garbage\r\n<<<not an event>>>\n\n:::\n\xc3\x28 event: nonsense\nretry: soon\n\n"


async def serve_stream(link: Link, answer: Answer) -> bool:
    """A streaming request's answer under its fault; True if it ended cleanly and the connection is reusable."""
    fault = answer.fault
    frames = answer.frames()
    if fault in ("reset_before_headers", "close_before_headers", "stall_before_headers", "html_502", "rate_limit"):
        return await _before_headers(link, fault)
    if fault == "html_200":
        return await link.send_whole(200, "text/html", _HTML)
    if fault == "wrong_type":  # an upstream that ignores `stream: true`: one whole JSON completion
        return await link.send_whole(200, "application/json", answer.whole())
    if not await link.start_chunked():
        return False
    opening = answer.content_frames()
    if fault == "ok":
        return await _send_all(link, [b"".join(frames)]) and await link.end_chunked()
    if fault == "drip":
        return await _drip(link, frames) and await link.end_chunked()
    if fault == "garbage":
        return await _send_all(link, [_GARBAGE]) and await link.end_chunked()
    if fault == "no_done":  # content, then a clean end of body: no finish_reason, no [DONE]
        return await _send_all(link, frames[:3]) and await link.end_chunked()
    if fault in ("half_line", "truncated_json"):
        cut = frames[2][: len(frames[2]) // 2] + (b"" if fault == "half_line" else b"\n\n")
        return await _send_all(link, [*opening, cut]) and await link.end_chunked()
    if not await _send_all(link, opening):
        return False
    if fault == "reset_mid_stream":
        return await link.reset()
    if fault in ("invalid_json", "error_chunk"):
        bad = b"data: {not json}\n\n" if fault == "invalid_json" else b"data: " + json.dumps(_IN_BAND_ERROR).encode()
        await link.chunk(bad + (b"" if fault == "invalid_json" else b"\n\n"))
        await link.stalled()  # a well-behaved gateway stops reading here and closes the connection
        return False
    if fault == "never_end":  # the whole answer except [DONE], then keep-alive comments forever
        await _send_all(link, frames[2:-1])
        return await _forever(link, lambda n: b": keep-alive\n\n")
    if fault == "drip_forever":
        return await _forever(link, lambda n: frames[1].replace(b"Answer for", b"Tick %d of" % n))
    assert fault == "stall_mid_stream", fault
    await link.stalled()
    return False


async def serve_whole(link: Link, answer: Answer) -> bool:
    """A non-streaming request's answer under its fault (stream-only faults get their closest analogue)."""
    fault = answer.fault
    whole = answer.whole()
    if fault in ("reset_before_headers", "close_before_headers", "stall_before_headers", "html_502", "rate_limit"):
        return await _before_headers(link, fault)
    if fault in ("ok", "error_chunk"):
        body = whole if fault == "ok" else json.dumps(_IN_BAND_ERROR).encode()
        return await link.send_whole(200, "application/json", body)
    if fault == "html_200":
        return await link.send_whole(200, "text/html", _HTML)
    if fault == "wrong_type":  # an upstream that streams although `stream` was false
        return await link.start_chunked() and await _send_all(link, answer.frames()) and await link.end_chunked()
    if fault in ("garbage", "invalid_json"):
        return await link.send_whole(200, "application/json", _GARBAGE if fault == "garbage" else b"{not json}")
    if fault in ("half_line", "truncated_json", "no_done"):  # a body cut short, with a length that agrees
        return await link.send_whole(200, "application/json", whole[: len(whole) // 2])
    if fault == "drip":
        head = {"content-type": "application/json", "content-length": str(len(whole))}
        third = len(whole) // 3 + 1
        pieces = [whole[i : i + third] for i in (0, third, 2 * third)]
        return await link.send_head(200, head) and await _drip(link, pieces, raw=True)
    if fault == "never_end":  # the whole body in a chunked response that never ends
        if not (await link.start_chunked("application/json") and await link.chunk(whole)):
            return False
        await link.stalled()
        return False
    if fault == "drip_forever":  # a body announced as huge, arriving one space at a time
        if not await link.send_head(200, {"content-type": "application/json", "content-length": "1000000"}):
            return False
        return await _forever(link, lambda n: b" ", raw=True)
    head = {"content-type": "application/json", "content-length": str(len(whole))}
    if not (await link.send_head(200, head) and await link.write(whole[: len(whole) // 2])):
        return False
    if fault == "reset_mid_stream":
        return await link.reset()
    assert fault == "stall_mid_stream", fault
    await link.stalled()
    return False


async def _before_headers(link: Link, fault: str) -> bool:
    if fault == "reset_before_headers":
        return await link.reset(after=0)
    if fault == "close_before_headers":
        link.close()
        return False
    if fault == "stall_before_headers":
        await link.stalled()
        return False
    if fault == "html_502":
        return await link.send_whole(502, "text/html", _HTML)
    body, headers = _rate_limited()
    return await link.send_json(429, body, headers)


async def _send_all(link: Link, frames: list[bytes]) -> bool:
    for frame in frames:
        if not await link.chunk(frame):
            return False
    return True


async def _drip(link: Link, frames: list[bytes], *, raw: bool = False) -> bool:
    """Each frame split in three writes a moment apart, with `DRIP_GAP` seconds of silence between frames."""
    for number, frame in enumerate(frames):
        if number:
            await asyncio.sleep(DRIP_GAP)
        third = len(frame) // 3 + 1
        for piece in (frame[:third], frame[third : 2 * third], frame[2 * third :]):
            sent = await (link.write(piece) if raw else link.chunk(piece))
            if not sent:
                return False
            await asyncio.sleep(0.01)
    return True


async def _forever(link: Link, frame: Callable[[int], bytes], *, raw: bool = False) -> bool:
    """Send `frame(n)` every `TICK` seconds until the client leaves (bounded by `FOREVER`)."""
    deadline = time.monotonic() + FOREVER
    number = 0
    while time.monotonic() < deadline:
        number += 1
        sent = await (link.write(frame(number)) if raw else link.chunk(frame(number)))
        if not sent:
            return False
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(link.gone.wait(), TICK)
    return False
