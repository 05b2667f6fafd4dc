"""Server-sent events out: Anthropic frames, and keep-alive pings while the upstream is silent."""

from __future__ import annotations

import asyncio
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


async def with_pings(source: AsyncIterator[T], interval: float) -> AsyncIterator[T | object]:
    """Items of `source`, with `PING` yielded whenever it stays silent for `interval` seconds
    (or when a shutdown's grace period runs out, so the consumer can end the stream).

    The pending read is never cancelled by a ping (that would break the upstream iterator); it is
    cancelled only when the consumer stops, which closes the upstream read at once.
    """
    iterator = aiter(source)
    pending: asyncio.Future | None = None
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(anext(iterator))
            left = lifecycle.time_left()
            done, _ = await asyncio.wait({pending}, timeout=interval if left is None else max(min(interval, left), 0))
            if not done:
                yield PING
                continue
            try:
                item = pending.result()
            except StopAsyncIteration:
                return
            finally:
                pending = None
            yield item
    finally:
        if pending is not None:
            pending.cancel()
            with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration, Exception):
                await pending
