"""CPU per upstream request of each way the gateway could call its provider, side by side in one run.

    .venv/bin/python -m bench.client_cost            # 3 rounds x 3,000 requests each, concurrency 16

Compares `httpx.AsyncClient` on its own transport (httpcore), `httpx.AsyncClient` over our
`AiohttpTransport`, our `Upstream` (httpx requests straight to that transport: what the gateway
uses) and aiohttp alone (the floor), each sending the gateway's non-stream request to the fake
upstream and reading the reply. Rounds interleave the clients, so a noisy neighbour hits them all;
medians are printed. This process runs on the gateway core, the fake upstream on the bench core.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import SimpleNamespace

import aiohttp
import httpx
import orjson
import uvloop

from api.providers.clients import Upstream
from api.providers.transport import AiohttpTransport
from bench import processes

BODY = orjson.dumps({"model": "gpt-4o", "max_tokens": 256, "messages": [{"role": "user", "content": "Say hello."}]})
HEADERS = {"content-type": "application/json", "authorization": "Bearer sk-bench", "accept-encoding": "gzip, deflate"}
CONCURRENCY = 16


async def _cpu_us_per_request(send: Callable[[], Awaitable[None]], count: int) -> float:
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one() -> None:
        async with gate:
            await send()

    await asyncio.gather(*(one() for _ in range(200)))  # warm the pool
    started = time.process_time()
    await asyncio.gather(*(one() for _ in range(count)))
    return (time.process_time() - started) / count * 1e6


async def measure(url: str, rounds: int, count: int) -> dict[str, float]:
    timeout = httpx.Timeout(30.0)
    plain = httpx.AsyncClient(timeout=timeout, limits=httpx.Limits(max_connections=100))
    transport = AiohttpTransport(max_connections=100, keepalive_expiry=60)
    over_aiohttp = httpx.AsyncClient(timeout=timeout, transport=transport)
    upstream = Upstream(SimpleNamespace(connect_timeout=30.0, read_timeout=30.0))
    session = aiohttp.ClientSession(auto_decompress=False)

    async def via_client(client: httpx.AsyncClient) -> None:
        response = await client.send(client.build_request("POST", url, content=BODY, headers=HEADERS), stream=True)
        await response.aread()
        await response.aclose()

    async def via_upstream() -> None:
        response = await upstream.send(upstream.request("POST", url, content=BODY, headers=HEADERS))
        await response.aread()
        await response.aclose()

    async def via_aiohttp() -> None:
        async with session.post(url, data=BODY, headers=HEADERS) as response:
            await response.read()

    ways = {
        "httpx.AsyncClient (httpcore)": lambda: via_client(plain),
        "httpx.AsyncClient over AiohttpTransport": lambda: via_client(over_aiohttp),
        "Upstream (the gateway's)": via_upstream,
        "aiohttp alone": via_aiohttp,
    }
    samples: dict[str, list[float]] = {name: [] for name in ways}
    try:
        for _ in range(rounds):
            for name, send in ways.items():
                samples[name].append(await _cpu_us_per_request(send, count))
    finally:
        for closer in (plain.aclose, over_aiohttp.aclose, upstream.aclose, session.close):
            await closer()
    return {name: statistics.median(values) for name, values in samples.items()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.client_cost", description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=3000)
    args = parser.parse_args(argv)
    pinning = processes.detect_pinning()
    with tempfile.TemporaryDirectory() as tmp, processes.fake_upstream(pinning, Path(tmp) / "fake.log") as (_, port):
        if pinning.works:
            os.sched_setaffinity(0, {processes.GATEWAY_CORE})
        url = f"http://127.0.0.1:{port}/v1/chat/completions"
        results = uvloop.run(measure(url, args.rounds, args.requests))
    print(f"pinning: {pinning.reason}")
    print(f"median of {args.rounds} rounds x {args.requests} requests, concurrency {CONCURRENCY}")
    for name, us in results.items():
        print(f"{us:8.1f} us CPU/request  {name}")


if __name__ == "__main__":
    main()
