"""A fake OpenAI-compatible upstream on raw asyncio streams, so it can misbehave at the socket level.

Each request carries its orders in its own text: `directive("reset_mid_stream", tag="a1")` puts
`[[faults=reset_mid_stream tag=a1]]` in the prompt, and the server obeys the first marker it finds in
the request body. `faults` is a comma-separated plan, one entry per attempt of the same `tag`, the last
one repeating: `[[faults=reset_before_headers,ok tag=a1]]` resets the first connection and answers the
retry. A request without a marker gets a healthy answer (`ok`).

Every connection is recorded: when it opened, and whether and when the *client* (the gateway) closed
it, as opposed to the server closing or resetting it itself. A background reader per connection sees
the client's FIN or RST at once, even while a fault is stalling, so a test can assert that "the
gateway closed the upstream connection". Every request is recorded with its connection, its plan
entry and the token counts the server reported, so accounting tests can add them up.

Stalls and endless streams are bounded by `FOREVER` seconds and end early when the client leaves.
What each fault sends is in `fault_answers.py`, the connection handling in `fault_wire.py`; healthy
answers are rendered by the shared fake (`tests.fakes.openai_upstream.Completion`).

    with FaultUpstream().running() as upstream:
        ...  # point OPENAI_BASE_URL at upstream.base_url
        [req] = upstream.requests_for("a1")
        assert upstream.wait_closed_by_client(req.connection, timeout=1.0)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from tests.faults.fault_answers import FAULTS, Answer, serve_stream, serve_whole
from tests.faults.fault_wire import Connection, Link

__all__ = ["FAULTS", "Connection", "FaultUpstream", "Hold", "Request", "directive", "tokens_for", "wait_until"]

_DIRECTIVE = re.compile(rb"\[\[faults=([a-z0-9_,]+)(?: tag=([A-Za-z0-9_.-]+))?\]\]")


def directive(*faults: str, tag: str = "") -> str:
    """The marker that orders the fault upstream to answer the attempts of `tag` with `faults`, in order."""
    unknown = set(faults) - set(FAULTS)
    assert faults and not unknown, f"unknown faults {unknown}"
    return f"[[faults={','.join(faults)}" + (f" tag={tag}" if tag else "") + "]]"


def tokens_for(tag: str) -> tuple[int, int]:
    """The (prompt, completion) token counts the server reports for `tag`: distinct per request, reproducible."""
    crc = zlib.crc32(tag.encode())
    return 10 + crc % 90, 1 + (crc >> 8) % 40


@dataclass
class Request:
    tag: str
    fault: str
    attempt: int
    connection: Connection
    model: str
    stream: bool
    body: Any
    received_at: float
    prompt_tokens: int
    completion_tokens: int
    completed: bool = False
    """The server wrote its whole answer, as planned (for `ok`, the usage the gateway should record)."""


class FaultUpstream:
    """The server, its record, and `running()` to serve it from a background thread's event loop."""

    def __init__(self) -> None:
        self.connections: list[Connection] = []
        self.requests: list[Request] = []
        self.base_url = ""
        self._lock = threading.Lock()
        self._attempts: dict[str, int] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self._hold: Hold | None = None

    # --- the test-facing API ------------------------------------------------------------------
    def requests_for(self, tag: str) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.tag == tag]

    def wait_for_requests(self, tag: str, count: int = 1, timeout: float = 5.0) -> list[Request]:
        """The requests of `tag` once `count` have arrived (or what arrived within `timeout`)."""
        wait_until(lambda: len(self.requests_for(tag)) >= count, timeout)
        return self.requests_for(tag)

    def wait_closed_by_client(self, connection: Connection, timeout: float) -> bool:
        """True once the client closed `connection` (waiting up to `timeout` seconds)."""
        return wait_until(lambda: connection.client_closed_at is not None, timeout)

    def wait_released(self, request: Request, timeout: float) -> bool:
        """True once `request`'s connection carries nothing half-done: its answer was complete, or it is closed."""
        return wait_until(lambda: request.completed or request.connection.closed, timeout)

    def open_connections(self) -> list[Connection]:
        with self._lock:
            return [c for c in self.connections if not c.closed]

    @contextlib.contextmanager
    def holding(self, count: int, timeout: float) -> Iterator[Hold]:
        """While the block runs, every answer waits until `count` requests have arrived (at most `timeout`
        seconds), so that many are provably in flight at once; `Hold.peak` says how many were."""
        hold = Hold(count, time.monotonic() + timeout)
        self._hold = hold
        try:
            yield hold
        finally:
            self._hold = None

    @contextlib.contextmanager
    def running(self, host: str = "127.0.0.1") -> Iterator[FaultUpstream]:
        loop = asyncio.new_event_loop()
        started = threading.Event()
        failure: list[BaseException] = []

        def serve() -> None:
            asyncio.set_event_loop(loop)
            try:
                self._server = loop.run_until_complete(asyncio.start_server(self._accept, host, 0, backlog=4096))
            except BaseException as exc:  # reported to the starting thread below
                failure.append(exc)
                started.set()
                return
            started.set()
            loop.run_forever()

        thread = threading.Thread(target=serve, name="fault-upstream", daemon=True)
        thread.start()
        if not started.wait(10) or failure:
            raise RuntimeError(f"fault upstream did not start: {failure}")
        self._loop = loop
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        self.base_url = f"http://{host}:{port}/v1"
        try:
            yield self
        finally:
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(10)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)
            if not thread.is_alive():
                loop.close()

    # --- serving ------------------------------------------------------------------------------
    async def _shutdown(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.add(writer)
        with self._lock:
            conn = Connection(id=len(self.connections) + 1, opened_at=time.monotonic())
            self.connections.append(conn)
        link = Link(conn, reader, writer)
        pump = asyncio.create_task(link.pump())
        try:
            while not link.closed:
                request = await link.read_request()
                if request is None:
                    break
                keep_alive = await self._answer(link, *request)
                if not keep_alive:
                    break
        except (ConnectionError, OSError, asyncio.IncompleteReadError):
            pass
        finally:
            link.close()
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await pump
            self._writers.discard(writer)
            self._tasks.discard(task)

    def _plan(self, raw: bytes) -> tuple[str, str, int]:
        match = _DIRECTIVE.search(raw)
        faults = match.group(1).decode().split(",") if match else ["ok"]
        tag = match.group(2).decode() if match and match.group(2) else ""
        with self._lock:
            attempt = self._attempts.get(tag, 0) if tag else 0
            if tag:
                self._attempts[tag] = attempt + 1
        return faults[min(attempt, len(faults) - 1)], tag, attempt

    async def _answer(self, link: Link, method: str, path: str, raw: bytes) -> bool:
        """Answer one request; True if the connection may carry another."""
        if method != "POST" or not path.split("?")[0].endswith("/chat/completions"):
            return await link.send_json(404, {"error": {"message": f"no route for {method} {path}"}})
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        body = body if isinstance(body, dict) else {}
        fault, tag, attempt = self._plan(raw)
        prompt, completion = tokens_for(tag or f"untagged-{len(self.requests)}")
        request = Request(
            tag=tag,
            fault=fault,
            attempt=attempt,
            connection=link.conn,
            model=str(body.get("model", "")),
            stream=bool(body.get("stream")),
            body=body,
            received_at=time.monotonic(),
            prompt_tokens=prompt,
            completion_tokens=completion,
        )
        with self._lock:
            self.requests.append(request)
        hold = self._hold
        if hold is not None:
            await hold.wait()
        answer = Answer(request, bool((body.get("stream_options") or {}).get("include_usage")))
        serve = serve_stream if request.stream else serve_whole
        try:
            keep_alive = await serve(link, answer)
        finally:
            if hold is not None:
                hold.in_flight -= 1
        request.completed = keep_alive
        return keep_alive


@dataclass
class Hold:
    """A barrier for answers (see `FaultUpstream.holding`); used only on the server's event loop."""

    count: int
    deadline: float
    arrived: int = 0
    in_flight: int = 0
    peak: int = 0
    _released: asyncio.Event | None = None

    async def wait(self) -> None:
        self.arrived += 1
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        self._released = self._released or asyncio.Event()
        if self.arrived >= self.count:
            self._released.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._released.wait(), max(0.0, self.deadline - time.monotonic()))


def wait_until(condition: Callable[[], bool], timeout: float, interval: float = 0.02) -> bool:
    """Poll `condition` until it holds (True) or `timeout` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)
