"""`api.forward.sse.with_pings`: items in order, pings in silences and at a drain deadline, clean stops."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from api.forward.sse import BUFFERED_ITEMS, PING, with_pings
from api.http import lifecycle


async def _paced(items, delays):
    for item, delay in zip(items, delays, strict=True):
        await asyncio.sleep(delay)
        yield item


async def _collect(source, interval):
    return [item async for item in with_pings(source, interval)]


@pytest.mark.parametrize(
    ("delays", "interval", "min_pings", "max_pings"),
    [
        ([0, 0, 0], 10.0, 0, 0),  # a fast source: no pings at all
        ([0, 0.35, 0], 0.1, 2, 4),  # one silence of 3.5 intervals
        ([0.25, 0, 0.25], 0.1, 3, 6),  # silences before the first item and between items
    ],
)
async def test_items_arrive_in_order_with_pings_only_in_silences(delays, interval, min_pings, max_pings):
    got = await _collect(_paced(["a", "b", "c"], delays), interval)
    assert [x for x in got if x is not PING] == ["a", "b", "c"]
    assert min_pings <= got.count(PING) <= max_pings


async def test_a_source_failure_is_raised_where_the_consumer_reads():
    async def failing():
        yield 1
        raise ValueError("upstream broke")

    got = []
    with pytest.raises(ValueError, match="upstream broke"):
        async for item in with_pings(failing(), 10.0):
            got.append(item)
    assert got == [1]


async def test_stopping_the_consumer_cancels_the_pending_read():
    cancelled = asyncio.Event()

    async def stalls():
        yield 1
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        yield 2

    async with contextlib.aclosing(with_pings(stalls(), 10.0)) as items:
        async for item in items:
            assert item == 1
            break
    await asyncio.wait_for(cancelled.wait(), 1.0)


async def test_a_slow_consumer_holds_the_reader_back():
    produced = 0

    async def fast():
        nonlocal produced
        for i in range(1000):
            produced += 1
            yield i

    async with contextlib.aclosing(with_pings(fast(), 10.0)) as items:
        assert await anext(items) == 0
        await asyncio.sleep(0.05)
        assert produced <= BUFFERED_ITEMS + 2
        rest = [item async for item in items]
    assert rest == list(range(1, 1000))


async def test_a_drain_deadline_brings_a_ping_even_while_items_flow():
    async def steady():
        for i in range(100):
            await asyncio.sleep(0.01)
            yield i

    lifecycle.begin_drain(0.1)
    try:
        got = []
        async for item in with_pings(steady(), 10.0):
            if item is PING:
                break
            got.append(item)
    finally:
        lifecycle.reset()
    assert 3 <= len(got) <= 30, "the ping came at the deadline, not at the end of the source"
