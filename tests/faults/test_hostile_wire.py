"""Hostile clients against the real server (uvicorn + the guarded protocol + the handlers), over raw sockets:
huge or slow headers, slow or oversized bodies. Each costs the gateway a bounded time and a bounded
buffer, gets a short answer (or a closed connection) and never reaches authentication or the upstream.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from tests.e2e.servers import Gateway, GatewayDidNotStart
from tests.faults.live import CLIENT_KEY, SHORT, assert_stream_complete, body_for, fault_gateway, new_tag, one_row, post

pytestmark = pytest.mark.e2e  # a live gateway: runs in `make test`, not again in `make test-pg`

HEADER_TIMEOUT = 1.0
BODY_TIMEOUT = 1.5
MAX_HEADER_BYTES = 8 * 1024
MAX_BODY_BYTES = 64 * 1024
MAX_CONNECTIONS = 8
MARGIN = 2.0  # a busy 2-core machine


@pytest.fixture(scope="module")
def guarded(fault_upstream, tmp_path_factory) -> Iterator[Gateway]:
    """DEBUG off (as deployed), with short header and body limits."""
    limits = {
        "DEBUG": "false",
        "HEADER_TIMEOUT": str(HEADER_TIMEOUT),
        "BODY_TIMEOUT": str(BODY_TIMEOUT),
        "MAX_HEADER_BYTES": str(MAX_HEADER_BYTES),
        "MAX_BODY_BYTES": str(MAX_BODY_BYTES),
        "MAX_CONNECTIONS": str(MAX_CONNECTIONS),
    }
    try:
        with fault_gateway(tmp_path_factory.mktemp("hostile"), fault_upstream.base_url, SHORT, **limits) as gw:
            yield gw
    except GatewayDidNotStart as exc:
        pytest.fail(str(exc), pytrace=False)


@contextlib.asynccontextmanager
async def connection(gw: Gateway):
    url = urlsplit(gw.url)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    try:
        yield reader, writer
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


def request_head(path: str = "/v1/messages", **headers: str) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "host: 127.0.0.1", f"x-api-key: {CLIENT_KEY}", "content-type: application/json"]
    lines += [f"{name.replace('_', '-')}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def read_until_closed(reader: asyncio.StreamReader, bound: float) -> bytes:
    """Everything the server sends until it closes the connection; fails the test past `bound` s."""
    try:
        async with asyncio.timeout(bound):
            return await reader.read(-1)
    except TimeoutError:
        raise AssertionError(f"the server kept the connection open for more than {bound:.1f} s") from None


async def trickle(writer: asyncio.StreamWriter, data: bytes, gap: float) -> None:
    """Send `data` a byte every `gap` seconds until it is sent or the server closes the connection."""
    with contextlib.suppress(ConnectionError):
        for byte in data:
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(gap)


def json_error(raw: bytes, status: int, error_type: str) -> dict:
    head, _, content = raw.partition(b"\r\n\r\n")
    assert head.startswith(f"HTTP/1.1 {status} ".encode()), raw[:300]
    assert b"connection: close" in head.lower(), head
    body = json.loads(content)
    assert body["type"] == "error" and body["error"]["type"] == error_type, body
    return body


async def test_headers_just_over_the_limit_get_a_431(guarded):
    async with connection(guarded) as (reader, writer):
        writer.write(b"GET /health HTTP/1.1\r\nhost: 127.0.0.1\r\nx-big: " + b"a" * MAX_HEADER_BYTES + b"\r\n\r\n")
        raw = await read_until_closed(reader, MARGIN)

    assert raw.startswith(b"HTTP/1.1 431 "), raw[:200]


async def test_megabytes_of_headers_lose_the_connection_at_once_and_the_server_stays_up(guarded):
    started = time.monotonic()
    async with connection(guarded) as (reader, writer):
        writer.write(b"GET /health HTTP/1.1\r\nhost: 127.0.0.1\r\nx-big: " + b"a" * (20 * 1024 * 1024))
        with contextlib.suppress(ConnectionError):
            await writer.drain()
            await read_until_closed(reader, MARGIN)  # a 431, or a reset: the server closed with data unread

    assert time.monotonic() - started < MARGIN
    async with connection(guarded) as (reader, writer):
        writer.write(b"GET / HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n")
        assert (await read_until_closed(reader, MARGIN)).startswith(b"HTTP/1.1 200 ")


async def test_headers_trickled_slower_than_the_header_timeout_lose_the_connection(guarded):
    started = time.monotonic()
    async with connection(guarded) as (reader, writer):
        sender = asyncio.create_task(trickle(writer, request_head(), gap=0.1))
        raw = await read_until_closed(reader, HEADER_TIMEOUT + MARGIN)
        sender.cancel()

    assert raw == b"", raw[:200]
    assert time.monotonic() - started >= HEADER_TIMEOUT - 0.1


async def test_a_connection_that_sends_nothing_is_closed_after_the_header_timeout(guarded):
    async with connection(guarded) as (reader, _):
        assert await read_until_closed(reader, HEADER_TIMEOUT + MARGIN) == b""


async def test_a_keep_alive_connection_may_idle_between_requests_longer_than_the_header_timeout(guarded):
    async with connection(guarded) as (reader, writer):
        for _ in range(2):
            writer.write(b"GET / HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n")
            status = await asyncio.wait_for(reader.readline(), MARGIN)
            assert status.startswith(b"HTTP/1.1 200 "), status
            await asyncio.wait_for(reader.readuntil(b'"status":"ok"}'), MARGIN)
            await asyncio.sleep(HEADER_TIMEOUT + 0.5)


async def test_a_response_longer_than_the_header_timeout_is_not_cut(guarded):
    tag = new_tag()
    started = time.monotonic()

    reply = await post(guarded, body_for(tag, "drip", stream=True), bound=SHORT.hang_bound + 5)

    assert_stream_complete(reply)
    assert time.monotonic() - started > HEADER_TIMEOUT, "the drip did not outlast the header timeout"


async def test_idle_connections_hold_a_connection_slot_only_until_the_header_timeout(guarded):
    async def health() -> bytes:
        async with connection(guarded) as (reader, writer):
            writer.write(b"GET /health HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n")
            return await read_until_closed(reader, MARGIN)

    async with contextlib.AsyncExitStack() as idle:
        for _ in range(MAX_CONNECTIONS):
            await idle.enter_async_context(connection(guarded))
        await asyncio.sleep(0.2)  # the server has accepted them all
        assert (await health()).startswith(b"HTTP/1.1 503 "), "MAX_CONNECTIONS is uvicorn's limit_concurrency"

        await asyncio.sleep(HEADER_TIMEOUT + 0.5)  # the idle ones are closed by the header timeout

        assert (await health()).startswith(b"HTTP/1.1 200 ")


@pytest.mark.parametrize(
    "sent",
    [pytest.param(0.25, id="a-byte-every-quarter-second"), pytest.param(None, id="fewer-bytes-than-declared")],
)
async def test_a_body_slower_than_the_body_timeout_is_a_408_with_a_usage_row(guarded, fault_upstream, sent):
    started = time.monotonic()
    async with connection(guarded) as (reader, writer):
        writer.write(request_head(content_length="1000"))
        if sent is None:
            writer.write(b'{"model": ')  # and then nothing
        else:
            # A byte every `sent` seconds, stopping half a second before the deadline: still far short of
            # the 1,000 declared, and nothing arrives after the server's close (a byte landing on a
            # closed socket makes the kernel reset the connection, which can destroy the 408 unread).
            trickled = b"x" * int((BODY_TIMEOUT - 0.5) / sent)
            asyncio.create_task(trickle(writer, trickled, gap=sent))  # noqa: RUF006 (ends with the connection)
        raw = await read_until_closed(reader, BODY_TIMEOUT + MARGIN)

    body = json_error(raw, 408, "invalid_request_error")
    assert time.monotonic() - started >= BODY_TIMEOUT - 0.1
    row = one_row(guarded, request_id=body["request_id"])
    assert (row["status"], row["endpoint"], row["requested_model"]) == (408, "messages", "")


async def test_a_declared_body_over_the_limit_is_refused_before_it_is_sent(guarded, fault_upstream):
    seen = len(fault_upstream.requests)
    async with connection(guarded) as (reader, writer):
        writer.write(request_head(content_length=str(10 * 1024 * 1024)))  # the body never follows
        raw = await read_until_closed(reader, MARGIN)

    body = json_error(raw, 413, "request_too_large")
    assert str(MAX_BODY_BYTES) in body["error"]["message"]
    row = one_row(guarded, request_id=body["request_id"])
    assert (row["status"], row["endpoint"], row["error_type"]) == (413, "messages", "request_too_large")
    assert len(fault_upstream.requests) == seen


async def test_a_chunked_body_is_refused_as_soon_as_it_passes_the_limit(guarded):
    chunk = b"x" * 4096
    async with connection(guarded) as (reader, writer):
        writer.write(request_head("/v1/messages/count_tokens", transfer_encoding="chunked"))
        for _ in range(MAX_BODY_BYTES // len(chunk) + 2):  # past the limit, and never the last chunk
            writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        await writer.drain()
        raw = await read_until_closed(reader, MARGIN)

    body = json_error(raw, 413, "request_too_large")
    assert one_row(guarded, request_id=body["request_id"])["endpoint"] == "count_tokens"


@pytest.mark.parametrize("chunked", [False, True], ids=["declared", "chunked"])
async def test_the_admin_refuses_a_body_over_its_limit_before_spooling_it(guarded, chunked):
    size = 10 * 1024 * 1024
    async with connection(guarded) as (reader, writer):
        if chunked:
            writer.write(request_head("/admin/login/", transfer_encoding="chunked"))
            writer.write(b"%x\r\n%s\r\n" % (MAX_BODY_BYTES + 1, b"x" * (MAX_BODY_BYTES + 1)))
        else:
            writer.write(request_head("/admin/login/", content_length=str(size)))
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        raw = await read_until_closed(reader, MARGIN)

    head, _, content = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413 "), raw[:300]
    assert content == f"Request exceeds the maximum allowed size of {MAX_BODY_BYTES} bytes.".encode()


def test_start_up_with_debug_off_reports_the_deployment_checks(guarded):
    log = guarded.log_text()
    assert "proxy.W020" in log, log[-3000:]
    assert "security.W004" not in log, "Django's HTTPS warnings are replaced by proxy.W020 while off"
