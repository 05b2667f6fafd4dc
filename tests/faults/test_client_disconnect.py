"""A client that hangs up: the gateway stops the upstream call at once and records status 499.

The client here is a raw socket, so "hanging up" is exactly a FIN on the connection. The upstream
keeps trickling bytes forever (`drip_forever`, always inside the read timeout) or says nothing at
all (`stall_before_headers`), so only the gateway noticing the client can close the upstream in time.
"""

from __future__ import annotations

import asyncio
import json
import time
from urllib.parse import urlsplit

import pytest

from tests.faults.fault_upstream import wait_until
from tests.faults.live import CLIENT_KEY, body_for, model_for, new_tag, one_row

pytestmark = pytest.mark.e2e  # a live gateway: runs in `make test`, not again in `make test-pg`

NOTICE = 1.0
"""Seconds the gateway may take to close the upstream connection after the client left."""


async def until(condition, within: float) -> bool:
    """`wait_until` without blocking the event loop."""
    return await asyncio.to_thread(wait_until, condition, within)


async def open_request(gw, body: dict) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    url = urlsplit(gw.url)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    payload = json.dumps(body).encode()
    head = (
        f"POST /v1/messages HTTP/1.1\r\nhost: {url.netloc}\r\ncontent-type: application/json\r\n"
        f"x-api-key: {CLIENT_KEY}\r\nanthropic-version: 2023-06-01\r\ncontent-length: {len(payload)}\r\n\r\n"
    )
    writer.write(head.encode() + payload)
    await writer.drain()
    return reader, writer


async def read_until(reader: asyncio.StreamReader, marker: bytes, within: float) -> bytes:
    seen = b""
    async with asyncio.timeout(within):
        while marker not in seen:
            part = await reader.read(65536)
            assert part, f"the gateway closed the connection before sending {marker!r}: {seen[-500:]!r}"
            seen += part
    return seen


async def hang_up(writer: asyncio.StreamWriter) -> float:
    writer.close()
    await writer.wait_closed()
    return time.monotonic()


async def assert_upstream_closed_and_499(gw, fault_upstream, tag: str, left_at: float, stream: bool) -> dict:
    """The upstream connection closed within NOTICE of the client leaving, and one 499 row; the row."""
    [req] = fault_upstream.requests_for(tag)
    assert await until(lambda: req.connection.client_closed_at is not None, NOTICE), "upstream still open"
    assert req.connection.client_closed_at - left_at < NOTICE
    row = one_row(gw, requested_model=model_for(tag))
    assert (row["status"], row["error_type"], row["stream"]) == (499, "client_closed", int(stream))
    return row


async def test_hanging_up_mid_stream_closes_the_upstream_and_records_499(live_gateway, fault_upstream):
    tag = new_tag()
    reader, writer = await open_request(live_gateway, body_for(tag, "drip_forever", stream=True))
    seen = await read_until(reader, b"Tick 2 of", within=5)

    left_at = await hang_up(writer)

    assert b"HTTP/1.1 200" in seen and b"event: content_block_delta" in seen
    row = await assert_upstream_closed_and_499(live_gateway, fault_upstream, tag, left_at, stream=True)
    assert row["ttft_ms"] is not None, "the client did get content before it left"


@pytest.mark.parametrize("fault", ["drip_forever", "stall_before_headers"])
async def test_hanging_up_while_a_whole_answer_is_awaited_closes_the_upstream_and_records_499(
    live_gateway, fault_upstream, fault
):
    tag = new_tag()
    _, writer = await open_request(live_gateway, body_for(tag, fault, stream=False))
    assert await until(lambda: fault_upstream.requests_for(tag), 5), "the request never reached the upstream"
    await asyncio.sleep(0.3)  # the upstream is now trickling its body, or thinking

    left_at = await hang_up(writer)

    await assert_upstream_closed_and_499(live_gateway, fault_upstream, tag, left_at, stream=False)


async def test_hanging_up_before_a_stream_starts_closes_the_upstream_and_records_499(live_gateway, fault_upstream):
    tag = new_tag()
    _, writer = await open_request(live_gateway, body_for(tag, "stall_before_headers", stream=True))
    assert await until(lambda: fault_upstream.requests_for(tag), 5), "the request never reached the upstream"

    left_at = await hang_up(writer)

    await assert_upstream_closed_and_499(live_gateway, fault_upstream, tag, left_at, stream=True)
