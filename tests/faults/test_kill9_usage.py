"""`kill -9` loses no usage row (the journal's acceptance test).

A live gateway answers about 1,000 requests (a mix of answers, streams, refusals and upstream errors)
while 50 streams are held open by an upstream that never stops sending. It is killed with SIGKILL in
the middle of that load, restarted on the same database and STATE_DIR, and then: every request the
client saw a request id for has exactly one row, a row as the client saw it where the answer was
whole, and the 50 open streams' rows say `interrupted` with the tokens they had streamed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.e2e.servers import Gateway, serving
from tests.faults.fault_upstream import FaultUpstream
from tests.faults.live import CLIENT_KEY, Timeouts, body_for, fault_gateway, new_tag
from tests.scale.workers import children

pytestmark = pytest.mark.e2e  # live gateways: runs in `make test`, not again in `make test-pg`

OPEN_STREAMS = 50
REQUESTS = 950
KILL_AFTER = 900
"""Answered requests before the kill: the rest are in flight when it lands."""
CONCURRENCY = 32
RUN_BOUND = 40.0
TIMEOUTS = Timeouts(request=10.0, connect=5.0, ping=5.0)
HEADERS = {"content-type": "application/json", "anthropic-version": "2023-06-01"}


@dataclass(frozen=True)
class Kind:
    faults: tuple[str, ...] = ("ok",)
    stream: bool = False
    key: str = CLIENT_KEY
    path: str = "/v1/messages"


MIX = [
    *[Kind()] * 4,
    *[Kind(stream=True)] * 3,
    Kind(key="sk-not-a-key"),  # 401
    Kind(path="/v1/no-such-thing"),  # 404
    Kind(faults=("html_502",)),  # 500 after one upstream call
    Kind(faults=("rate_limit",), stream=True),  # 429
]


@dataclass
class Seen:
    """What the client got for one request: the gateway's request id, the status, whether it was whole."""

    request_id: str
    status: int
    whole: bool
    kind: Kind
    tag: str


async def answered(client: httpx.AsyncClient, gw: Gateway, tag: str, kind: Kind) -> Seen | None:
    """One request read to its end; None if the gateway died before it answered."""
    body = json.dumps(body_for(tag, *kind.faults, stream=kind.stream))
    try:
        async with client.stream(
            "POST", gw.url + kind.path, content=body, headers={**HEADERS, "x-api-key": kind.key}
        ) as response:
            seen = Seen(response.headers["request-id"], response.status_code, False, kind, tag)
            raw = b"".join([part async for part in response.aiter_raw()])
    except httpx.HTTPError:
        return locals().get("seen")  # the headers (and so the request id) may have arrived
    seen.whole = not kind.stream or response.status_code != 200 or b"event: message_stop" in raw
    return seen


async def held_open(client: httpx.AsyncClient, gw: Gateway, opened: asyncio.Queue) -> None:
    """A stream the upstream never ends: its request id goes to `opened` once content flows; read until the kill."""
    body = json.dumps(body_for(new_tag(), "drip_forever", stream=True))
    with contextlib.suppress(httpx.HTTPError):
        async with client.stream(
            "POST", gw.url + "/v1/messages", content=body, headers={**HEADERS, "x-api-key": CLIENT_KEY}
        ) as response:
            announced = False
            async for line in response.aiter_lines():
                if not announced and line.startswith("event: content_block_delta"):
                    await opened.put(response.headers["request-id"])
                    announced = True


def kill_9(gw: Gateway) -> None:
    """SIGKILL the serve process and, with several workers, each of them (listed first: once the
    supervisor is gone they are no longer its children). Nothing gets to clean up."""
    workers = children(gw.process.pid)
    os.kill(gw.process.pid, signal.SIGKILL)
    for pid in workers:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    gw.process.wait(timeout=10)


async def load_until_killed(gw: Gateway) -> tuple[list[str], list[Seen]]:
    """Open the long streams, then send the mix and kill the gateway once KILL_AFTER are answered."""
    limits = httpx.Limits(max_connections=OPEN_STREAMS + CONCURRENCY + 8)
    async with httpx.AsyncClient(limits=limits, timeout=httpx.Timeout(RUN_BOUND)) as client:
        opened: asyncio.Queue[str] = asyncio.Queue()
        streams = [asyncio.create_task(held_open(client, gw, opened)) for _ in range(OPEN_STREAMS)]
        open_ids = [await opened.get() for _ in range(OPEN_STREAMS)]
        opened_at = time.monotonic()
        todo = iter([MIX[n % len(MIX)] for n in range(REQUESTS)])
        seen: list[Seen] = []
        killed = asyncio.Event()

        async def sender() -> None:
            for kind in todo:
                if killed.is_set():
                    return
                if (result := await answered(client, gw, new_tag(), kind)) is not None:
                    seen.append(result)
                # P lines are written once a second: let the held streams write theirs before the kill
                ready = len(seen) >= KILL_AFTER and time.monotonic() - opened_at > 1.5
                if ready and not killed.is_set():
                    killed.set()
                    kill_9(gw)

        await asyncio.gather(*(sender() for _ in range(CONCURRENCY)))
        assert killed.is_set(), f"only {len(seen)} requests answered before the mix ran out"
        await asyncio.gather(*streams)
    return open_ids, seen


def rows_by_request_id(gw: Gateway) -> dict[str, dict]:
    rows = gw.query("SELECT * FROM routing_usagelog")
    assert len({r["request_id"] for r in rows}) == len(rows), "a request id twice"
    return {r["request_id"]: r for r in rows}


def wait_for(gw: Gateway, request_ids: set[str], timeout: float = 15.0) -> dict[str, dict]:
    deadline = time.monotonic() + timeout
    while not request_ids <= rows_by_request_id(gw).keys() and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(0.5)  # a duplicate written late would show
    return rows_by_request_id(gw)


@pytest.mark.parametrize("workers", [1, 2])
async def test_a_gateway_killed_mid_load_leaves_one_row_per_request_and_interrupted_open_streams(
    fault_upstream: FaultUpstream, tmp_path: Path, workers: int
):
    # The writer holds rows for up to a second before each batch: rows the kill must not lose.
    overrides = {"WORKERS": str(workers), "USAGE_FLUSH_SECONDS": "1.0"}
    with fault_gateway(tmp_path, fault_upstream.base_url, TIMEOUTS, **overrides) as gw:
        async with asyncio.timeout(RUN_BOUND):
            open_ids, seen = await load_until_killed(gw)
    before = rows_by_request_id(gw)
    dead_owners = {p.stem for p in (tmp_path / "state" / "journal").glob("*.lock")}
    assert len(dead_owners) == workers

    with serving(tmp_path, gw.env) as restarted:
        rows = wait_for(restarted, {s.request_id for s in seen} | set(open_ids))
        left = [p.name for p in (tmp_path / "state" / "journal").iterdir() if p.name.split(".")[0] in dead_owners]

    assert len(seen) >= KILL_AFTER and len({s.request_id for s in seen}) == len(seen)
    missing = [s.request_id for s in seen if s.request_id not in rows]
    assert not missing, f"{len(missing)} answered requests have no usage row"
    assert not set(open_ids) & before.keys(), "the open streams had no row before the restart"
    assert set(open_ids) <= rows.keys(), "the open streams have their rows after it"
    assert len(rows) - len(before) >= OPEN_STREAMS, "the restart recovered them"
    assert left == [], "the dead processes' journals are gone once handed on"

    whole = [s for s in seen if s.whole]
    assert [s for s in whole if s.request_id not in before], "some answered rows were only in the journal"
    for s in whole:
        row = rows[s.request_id]
        assert (row["status"], row["error_type"] == "interrupted") == (s.status, False), (s, row)
        if s.status == 200:
            [upstream] = fault_upstream.requests_for(s.tag)
            assert (row["input_tokens"], row["output_tokens"]) == (upstream.prompt_tokens, upstream.completion_tokens)
    for request_id in open_ids:
        row = rows[request_id]
        assert (row["status"], row["error_type"], row["error_message"]) == (
            500,
            "interrupted",
            "the gateway stopped before the request ended",
        ), row
        assert row["stream"] and row["estimated"], row
        assert row["input_tokens"] > 0 and row["output_tokens"] > 0, "the tokens streamed so far"
        assert row["latency_ms"] >= 1000, "as long as the stream had run at its last progress line"
