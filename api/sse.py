"""Server-sent events out: Anthropic frames, and keep-alive pings while the upstream is silent."""

from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import AsyncIterator, Iterable
from typing import TypeVar

import orjson

from api import lifecycle
from api.translate.sse import encode_event

T = TypeVar("T")
PING = object()
_PING_FRAME = b'event: ping\ndata: {"type":"ping"}\n\n'


def encode_events(events: Iterable[dict]) -> bytes:
    """Anthropic SSE frames for `events`, encoded with orjson."""
    return b"".join(encode_event(event, orjson.dumps) for event in events)


def ping_frame() -> bytes:
    return _PING_FRAME


_END = object()
BUFFERED_ITEMS = 8
"""A slow client slows the upstream read instead of letting chunks pile up in memory."""


class _Failed:
    def __init__(self, exc: Exception) -> None:
        self.exc = exc


def _wake(future: asyncio.Future) -> None:
    if not future.done():
        future.set_result(None)


async def with_pings(source: AsyncIterator[T], interval: float) -> AsyncIterator[T | object]:
    """Items of `source`, with `PING` yielded whenever it stays silent for `interval` seconds
    (or when a shutdown's grace period runs out, so the consumer can end the stream).

    One reader task per stream hands items over through a small buffer, and a timer wakes the
    consumer for pings: no task or `asyncio.wait` per chunk (measured: 9.7 -> ~3 us per chunk). The
    read is never cancelled by a ping, only when the consumer stops, which closes the upstream at once.
    """
    loop = asyncio.get_running_loop()
    ready: collections.deque = collections.deque()
    room = asyncio.Event()
    wakeup: asyncio.Future | None = None

    def deliver(item: object) -> None:
        ready.append(item)
        if wakeup is not None:
            _wake(wakeup)

    async def pump() -> None:
        try:
            async for item in source:
                deliver(item)
                if len(ready) >= BUFFERED_ITEMS:
                    room.clear()
                    await room.wait()
        except Exception as exc:  # handed to the consumer, which raises it where it reads
            deliver(_Failed(exc))
            return
        deliver(_END)

    reader = loop.create_task(pump())
    try:
        while True:
            if not ready:
                wakeup = loop.create_future()
                left = lifecycle.time_left()
                timer = loop.call_later(interval if left is None else max(min(interval, left), 0), _wake, wakeup)
                try:
                    await wakeup
                finally:
                    timer.cancel()
                if not ready:
                    yield PING
                    continue
            item = ready.popleft()
            room.set()
            if item is _END:
                return
            if isinstance(item, _Failed):
                raise item.exc
            yield item
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await reader
