"""A gateway served with several uvicorn workers for a test module, and the worker of each connection.

`serving_cluster` starts `manage.py serve --workers 2` (as in production), waits until both workers
hold the listening socket, and stops the supervisor and any worker that outlives it, by PID.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.e2e.servers import Gateway, GatewayDidNotStart, start_gateway, stop
from tests.fakes.openai_upstream import FakeUpstream
from tests.scale.workers import Connection, Reply, connections_per_worker, worker_pids

WORKERS = 2


@dataclass
class Cluster:
    gateway: Gateway
    port: int
    workers: list[int]
    database_url: str
    fake: FakeUpstream
    messages: list[Reply] = field(default_factory=list)  # every /v1/messages answer, for the usage log check
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def post(self, conn: Connection, key: str, *, stream: bool = False, text: str = "hi") -> Reply:
        body = {
            "model": "claude-sonnet-4-5",
            "max_tokens": 64,
            "stream": stream,
            "messages": [{"role": "user", "content": text}],
        }
        reply = conn.request("POST", "/v1/messages", body, {"x-api-key": key, "anthropic-version": "2023-06-01"})
        with self._lock:
            self.messages.append(reply)
        return reply

    def connections(self, per_worker: int) -> dict[int, list[Connection]]:
        return connections_per_worker(self.port, self.workers, per_worker)

    def log_tail(self, chars: int = 6000) -> str:
        return self.gateway.log_text()[-chars:]


@contextlib.contextmanager
def serving_cluster(
    tmp: Path, env: dict[str, str], fake: FakeUpstream, *, started: Callable[[], object] = lambda: None
) -> Iterator[Cluster]:
    """The gateway with `env` (WORKERS of them) until the block ends; `started` runs once it listens."""
    try:
        gw = start_gateway(tmp, {**env, "WORKERS": str(WORKERS)})
    except GatewayDidNotStart as exc:
        pytest.fail(str(exc), pytrace=False)
    pids: list[int] = []
    try:
        started()
        port = int(gw.url.rsplit(":", 1)[1])
        pids = wait_for_workers(gw, port)
        assert len(pids) == WORKERS, f"serve {gw.process.pid} has workers {pids}:\n{gw.log_text()[-4000:]}"
        yield Cluster(gw, port, pids, env["DATABASE_URL"], fake)
    finally:
        stop(gw.process)
        stop_leftover_workers(pids)


def wait_for_workers(gw: Gateway, port: int, timeout: float = 60.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while True:
        found = worker_pids(gw.process.pid, port)
        if len(found) == WORKERS or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def stop_leftover_workers(pids: list[int], timeout: float = 10.0) -> None:
    """uvicorn's supervisor stops its workers; should one outlive it (the supervisor was killed), end it."""
    deadline = time.monotonic() + timeout
    for pid in pids:
        while running(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if running(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def running(pid: int) -> bool:
    """Alive and not a zombie (an exited worker nobody has reaped yet)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


def close_all(pinned: dict[int, list[Connection]]) -> None:
    for conns in pinned.values():
        for conn in conns:
            conn.close()
