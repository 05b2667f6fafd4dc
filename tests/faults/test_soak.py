"""Soak: thousands of requests of a mixed, faulty workload at bounded concurrency.

Zero 5xx that no fault injected, zero lost usage rows, no stack trace in the gateway's log, and the
gateway's resident memory flat: the median of the last third of its RSS samples within 30 MB of the
median of the first third (taken after a warm-up). SOAK_REQUESTS and SOAK_CONCURRENCY scale it;
the defaults (2,000 at 32) take well under two minutes on two cores.
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.servers import Gateway, GatewayDidNotStart
from tests.faults.live import Timeouts, fault_gateway, new_tag
from tests.faults.load import Case, send, wait_for_rows

pytestmark = [pytest.mark.slow, pytest.mark.e2e]  # deselect with -m "not slow"

REQUESTS = int(os.environ.get("SOAK_REQUESTS", "2000"))
CONCURRENCY = int(os.environ.get("SOAK_CONCURRENCY", "32"))
WARM_UP = 200
RSS_GROWTH_LIMIT_KB = 30 * 1024
RUN_BOUND = 240.0
TIMEOUTS = Timeouts(request=3.0, connect=5.0, ping=0.5, retry_deadline=4.0)

# (weight, case): mostly healthy traffic, every fault family, a few hang-ups and malformed bodies.
MIX = [
    (40, Case(("ok",), True, 200, 200)),
    (25, Case(("ok",), False, 200, 200)),
    (4, Case(("reset_before_headers", "ok"), True, 200, 200, retrying=True)),
    (2, Case(("rate_limit", "ok"), False, 200, 200, retrying=True)),
    (1, Case(("drip",), True, 200, 200)),
    (3, Case(("html_502",), False, 500, 500, "api_error")),
    (3, Case(("rate_limit",), True, 429, 429, "rate_limit_error")),
    (3, Case(("reset_before_headers",), False, 502, 502, "api_error")),
    (3, Case(("reset_mid_stream",), True, 200, 500, "api_error")),
    (2, Case(("invalid_json",), True, 200, 500, "api_error")),
    (2, Case(("error_chunk",), True, 200, 500, "api_error")),
    (2, Case(("garbage",), False, 502, 502, "api_error")),
    (2, Case(("never_end",), True, 200, 200)),
    (1, Case(("stall_before_headers",), False, 504, 504, "timeout_error")),
    (1, Case(("stall_mid_stream",), True, 200, 504, "timeout_error")),
    (3, Case(("drip_forever",), True, None, 499, "client_closed")),
    (3, Case(("ok",), False, 400, 400, "invalid_request_error", malformed=True)),
]


@pytest.fixture(scope="module")
def soak_gateway(fault_upstream, tmp_path_factory) -> Iterator[Gateway]:
    try:
        with fault_gateway(tmp_path_factory.mktemp("soak"), fault_upstream.base_url, TIMEOUTS) as gw:
            yield gw
    except GatewayDidNotStart as exc:
        pytest.fail(str(exc), pytrace=False)


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for process {pid}")


async def sample_rss(pid: int, samples: list[int], stop: asyncio.Event) -> None:
    while not stop.is_set():
        samples.append(rss_kb(pid))
        await asyncio.sleep(0.2)


async def run_mix(gw: Gateway, upstream, cases: dict[str, Case]) -> dict[str, object]:
    gate = asyncio.Semaphore(CONCURRENCY)
    limits = httpx.Limits(max_connections=CONCURRENCY * 2, max_keepalive_connections=CONCURRENCY)

    async with httpx.AsyncClient(limits=limits, timeout=httpx.Timeout(TIMEOUTS.hang_bound + 5)) as client:

        async def one(tag: str, case: Case):
            async with gate, asyncio.timeout(TIMEOUTS.retry_deadline + TIMEOUTS.hang_bound):
                return await send(client, gw, upstream, tag, case)

        outcomes = await asyncio.gather(*(one(tag, case) for tag, case in cases.items()))
    return dict(zip(cases, outcomes, strict=True))


def workload(count: int, seed: int) -> dict[str, Case]:
    rng = random.Random(seed)
    weights, kinds = zip(*MIX, strict=True)
    return {new_tag(): case for case in rng.choices(kinds, weights=weights, k=count)}


async def test_a_long_faulty_workload_leaves_no_unexplained_5xx_no_lost_rows_and_flat_memory(
    soak_gateway, fault_upstream
):
    gw = soak_gateway
    log_offset = gw.log_size()
    warm_up, cases = workload(WARM_UP, seed=1), workload(REQUESTS, seed=2)
    samples: list[int] = []
    stop = asyncio.Event()

    async with asyncio.timeout(RUN_BOUND):
        outcomes = await run_mix(gw, fault_upstream, warm_up)
        sampler = asyncio.create_task(sample_rss(gw.process.pid, samples, stop))
        outcomes |= await run_mix(gw, fault_upstream, cases)
        stop.set()
        await sampler

    everything = warm_up | cases
    unexplained = [
        (tag, case.faults, outcome.status)
        for tag, case in everything.items()
        if (outcome := outcomes[tag]).status is not None and outcome.status >= 500 and not case.injected_5xx
    ]
    assert unexplained == [], f"5xx that no fault injected: {unexplained[:10]}"
    wrong = [(tag, c.faults, outcomes[tag].status) for tag, c in everything.items() if outcomes[tag].status != c.http]
    assert wrong == [], f"{len(wrong)} unexpected statuses, e.g. {wrong[:10]}"
    rows = wait_for_rows(gw, len(everything), timeout=30)
    assert len(rows) == len(everything), f"{len(everything) - len(rows)} usage rows lost"
    by_request_id = Counter(row["request_id"] for row in rows)
    answered = [o.request_id for o in outcomes.values() if o.request_id]
    assert all(by_request_id[rid] == 1 for rid in answered), "every answered request has exactly one row"
    assert Counter(r["status"] for r in rows) == Counter(c.status for c in everything.values())
    assert "Traceback" not in gw.log_text(log_offset), "the gateway logged an unexpected exception"
    third = len(samples) // 3
    assert third >= 10, f"too few RSS samples ({len(samples)}) for a trend"
    first, last = statistics.median(samples[:third]), statistics.median(samples[-third:])
    print(f"soak: {len(everything)} requests, gateway RSS {first / 1024:.1f} -> {last / 1024:.1f} MB")  # -rP shows it
    assert last - first < RSS_GROWTH_LIMIT_KB, f"RSS grew from {first / 1024:.0f} MB to {last / 1024:.0f} MB"
