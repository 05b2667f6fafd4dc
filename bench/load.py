"""A closed-loop load generator on raw asyncio sockets (uvloop + httptools): cheap enough not to be the limit.

`concurrency` workers each hold one keep-alive connection and send the same pre-built request
again and again for `duration` seconds. Worker starts are spread over `ramp` seconds so paced
streams do not finish in lockstep; only requests that *complete* inside the window
[`ramp + warmup`, `duration`] are counted, so requests/s is a steady-state rate. Requests still
running at the end are drained (bounded by `request_timeout`) and only their errors count.

A request succeeds when the status is 200 and the body contains `expect` (a marker that proves the
whole answer arrived, such as `message_stop`). Per request it records the time to the first
response byte (TTFB) and to the first body bytes holding `delta` (first token, for streams).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httptools

now = time.perf_counter


@dataclass(frozen=True)
class Target:
    host: str
    port: int
    payload: bytes
    """The whole HTTP/1.1 request: request line, headers and body."""
    expect: bytes


@dataclass
class Outcome:
    start: float
    ttfb: float
    ttft: float | None
    end: float


@dataclass
class LoadResult:
    window: float
    outcomes: list[Outcome] = field(default_factory=list)
    errors: int = 0
    error_examples: list[str] = field(default_factory=list)
    client_cpu: float = 0.0
    """CPU seconds this process spent during the window."""

    def fail(self, message: str) -> None:
        self.errors += 1
        if len(self.error_examples) < 5:
            self.error_examples.append(message)


def build_request(host: str, port: int, method: str, path: str, headers: dict[str, str], body: bytes) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"host: {host}:{port}", f"content-length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class Connection(asyncio.Protocol):
    """One keep-alive connection running one request at a time."""

    def __init__(self, expect: bytes) -> None:
        self.expect = expect
        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.waiter: asyncio.Future | None = None
        self.lost = False
        self.ttfb = self.ttft = 0.0
        self.found, self.tail = False, b""

    async def send(self, payload: bytes, limit: float) -> tuple[int, float, float | None]:
        """Status, TTFB and first-token time of one exchange; raises on a broken or late answer."""
        loop = asyncio.get_running_loop()
        self.waiter = loop.create_future()
        self.ttfb = self.ttft = 0.0
        self.found, self.tail = False, b""
        timer = loop.call_later(limit, self._give_up)
        try:
            self.transport.write(payload)
            status = await self.waiter
        finally:
            timer.cancel()
        if not self.found:
            raise ValueError(f"status {status}, body without {self.expect!r}")
        return status, self.ttfb, self.ttft or None

    def _give_up(self) -> None:
        if self.waiter and not self.waiter.done():
            self.waiter.set_exception(TimeoutError("no complete answer in time"))
        self.transport.close()

    def connection_made(self, transport) -> None:
        self.transport = transport

    def connection_lost(self, exc) -> None:
        self.lost = True
        if self.waiter and not self.waiter.done():
            self.waiter.set_exception(ConnectionError(f"connection closed ({exc or 'by the server'})"))

    def data_received(self, data: bytes) -> None:
        if not self.ttfb:
            self.ttfb = now()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            if self.waiter and not self.waiter.done():
                self.waiter.set_exception(exc)
            self.transport.close()

    def on_body(self, body: bytes) -> None:
        if not self.ttft and b"delta" in body:
            self.ttft = now()
        if not self.found:
            window = self.tail + body
            self.found = self.expect in window
            self.tail = window[-len(self.expect) :]

    def on_message_complete(self) -> None:
        if not self.parser.should_keep_alive():
            self.lost = True
            self.transport.close()
        if self.waiter and not self.waiter.done():
            self.waiter.set_result(self.parser.get_status_code())


async def _connect(target: Target) -> Connection:
    loop = asyncio.get_running_loop()
    _, conn = await loop.create_connection(lambda: Connection(target.expect), target.host, target.port)
    return conn


async def _worker(target: Target, result: LoadResult, delay: float, bounds: tuple[float, float, float]) -> None:
    window_start, end, timeout = bounds
    await asyncio.sleep(delay)
    conn: Connection | None = None
    try:
        while now() < end:
            start = now()
            try:
                if conn is None or conn.lost:
                    conn = await _connect(target)
                status, ttfb, ttft = await conn.send(target.payload, timeout)
            except (OSError, ValueError, TimeoutError, httptools.HttpParserError) as exc:
                result.fail(f"{type(exc).__name__}: {exc}")
                if conn is not None:
                    conn.transport.close()
                conn = None
                await asyncio.sleep(0.05)  # a refused connection must not spin
                continue
            finished = now()
            if status != 200:
                result.fail(f"HTTP {status}")
            elif window_start <= finished <= end:
                result.outcomes.append(Outcome(start, ttfb - start, ttft - start if ttft else None, finished))
    finally:
        if conn is not None:
            conn.transport.close()


Hook = Callable[[], Awaitable[None] | None]


async def run_load(
    target: Target,
    *,
    concurrency: int,
    duration: float,
    ramp: float = 0.0,
    warmup: float = 0.5,
    request_timeout: float = 60.0,
    on_window: tuple[Hook, Hook] | None = None,
) -> LoadResult:
    """Drive `target` as described in the module docstring; `on_window` hooks run at the window's edges."""
    begin = now()
    window_start, end = begin + ramp + warmup, begin + duration
    if window_start >= end:
        raise ValueError(f"duration {duration}s leaves no window after ramp {ramp}s and warm-up {warmup}s")
    result = LoadResult(window=end - window_start)
    spread = random.Random(concurrency)
    bounds = (window_start, end, request_timeout)
    workers = [
        asyncio.ensure_future(_worker(target, result, spread.uniform(0, ramp), bounds)) for _ in range(concurrency)
    ]
    await asyncio.sleep(window_start - now())
    cpu = time.process_time()
    if on_window:
        await _call(on_window[0])
    await asyncio.sleep(max(0.0, end - now()))
    result.client_cpu = time.process_time() - cpu
    if on_window:
        await _call(on_window[1])
    _, late = await asyncio.wait(workers, timeout=request_timeout + 1)
    for task in late:
        task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.gather(*late, return_exceptions=True)
    if late:
        result.fail(f"{len(late)} requests still running {request_timeout + 1:.0f}s after the end")
    return result


async def sequential(target: Target, count: int, request_timeout: float = 60.0) -> list[str]:
    """`count` requests one after another (a warm-up); the errors met, empty when all went well."""
    errors: list[str] = []
    conn: Connection | None = None
    for _ in range(count):
        try:
            if conn is None or conn.lost:
                conn = await _connect(target)
            status, _, _ = await conn.send(target.payload, request_timeout)
            if status != 200:
                errors.append(f"HTTP {status}")
        except (OSError, ValueError, TimeoutError, httptools.HttpParserError) as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
            conn = None
    if conn is not None:
        conn.transport.close()
    return errors


async def _call(hook: Hook) -> None:
    value = hook()
    if asyncio.iscoroutine(value):
        await value
