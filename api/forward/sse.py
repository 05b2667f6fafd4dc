"""Server-sent events out: Anthropic frames, and keep-alive pings while the upstream is silent."""

from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import AsyncIterator, Iterable
from typing import TypeVar

import orjson

from api.http import lifecycle
from api.http.scrub import scrub
from api.translate.sse import encode_event

T = TypeVar("T")
PING = object()
_PING_FRAME = b'event: ping\ndata: {"type":"ping"}\n\n'


def encode_events(events: Iterable[dict]) -> bytes:
    """Anthropic SSE frames for `events`, encoded with orjson; `error` events with known secrets scrubbed."""
    return b"".join(encode_event(_scrubbed(event), orjson.dumps) for event in events)


def _scrubbed(event: dict) -> dict:
    if event["type"] != "error":
        return event  # model output is never rewritten
    error = event.get("error") or {}
    return {**event, "error": {**error, "message": scrub(str(error.get("message", "")))}}


def ping_frame() -> bytes:
    return _PING_FRAME


_END = object()
BUFFERED_ITEMS = 8
"""Read-ahead per stream: a slow client slows the upstream read instead of piling chunks up."""


class _Failed:
    def __init__(self, exc: Exception) -> None:
        self.exc = exc


async def with_pings(source: AsyncIterator[T], interval: float) -> AsyncIterator[T | object]:
    """Items of `source`, with `PING` yielded whenever it stays silent for `interval` seconds
    (or when a shutdown's grace period runs out, so the consumer can end the stream).

    One reader task per stream hands items over through a small buffer; one timer per stream,
    re-armed only when it fires, wakes the consumer for pings. Nothing is created per chunk (the
    earlier task plus `asyncio.wait` per chunk was ~7% of the CPU of 512 paced streams). A read is
    never cancelled by a ping, only when the consumer stops, which closes the upstream at once.
    """
    loop = asyncio.get_running_loop()
    ready: collections.deque = collections.deque()
    room = asyncio.Event()
    waiter: asyncio.Future | None = None
    last = loop.time()  # when the consumer last got an item or a ping

    def wake() -> None:
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def ping_due() -> bool:
        return loop.time() >= last + interval or lifecycle.expired()

    def arm() -> asyncio.TimerHandle:
        delay = max(last + interval - loop.time(), 0.0) or interval
        left = lifecycle.time_left()
        return loop.call_later(delay if left is None or left <= 0 else min(delay, left), tick)

    def tick() -> None:
        nonlocal timer
        if ping_due():
            wake()
        timer = arm()

    async def pump() -> None:
        try:
            async for item in source:
                ready.append(item)
                wake()
                if len(ready) >= BUFFERED_ITEMS:
                    room.clear()
                    await room.wait()
        except Exception as exc:  # raised in the consumer, where it reads
            ready.append(_Failed(exc))
        else:
            ready.append(_END)
        wake()

    reader = loop.create_task(pump())
    timer = arm()
    try:
        while True:
            if not ready:
                waiter = loop.create_future()
                await waiter
                waiter = None
            if ping_due():
                last = loop.time()
                yield PING
                continue
            if not ready:
                continue
            item = ready.popleft()
            room.set()
            if item is _END:
                return
            if isinstance(item, _Failed):
                raise item.exc
            last = loop.time()
            yield item
    finally:
        timer.cancel()
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await reader
