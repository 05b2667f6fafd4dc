"""CPU per request of choosing a target: a one-target route against two- and three-target ones, side by side.

    .venv/bin/python -m bench.balance_cost            # 5 interleaved rounds x 20,000 requests

What balancing adds to a request that meets no failure: `Demand.of` (the caller's affinity key),
`balance.order` (the cached circuits, the strategy's order) and `balance.claim` then `Place.end` (the
half-open check, the in-flight count). The counters store is a fresh SQLite file, read once a second
as in the server. Rounds interleave the routes, so a noisy neighbour hits them all; medians are printed.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time

ROUNDS, REQUESTS = 5, 20_000
BODY = {"model": "m", "max_tokens": 64, "messages": [], "metadata": {"user_id": "user_x_account__session_1"}}


def _route(targets: int, strategy: str):
    from routing.resolve import ProviderInfo, RouteInfo, TargetInfo

    found = [
        TargetInfo(100 + n, ProviderInfo(n + 1, f"p{n + 1}", "openai", "http://fake.test/v1", ""), "model", 1)
        for n in range(targets)
    ]
    return RouteInfo.over(found, id=1, priority=0, pattern="*", strategy=strategy)


async def _per_request_us(route) -> float:
    from api.accounting.exchange import Exchange
    from api.accounting.usage import UsageRecord
    from api.forward import balance
    from api.forward.balance import Demand

    ex = Exchange(request_id="bench", record=UsageRecord(request_id="bench"))
    started = time.process_time()
    for _ in range(REQUESTS):
        demand = Demand.of(7, BODY, 200)
        order = await balance.order(route, demand, time.time())
        place = await balance.claim(ex, order[0], demand, time.time())
        place.end(0)
    return (time.process_time() - started) / REQUESTS * 1e6


async def main() -> None:
    routes = {
        "one target": _route(1, "weighted"),
        "two targets, weighted": _route(2, "weighted"),
        "three targets, weighted": _route(3, "weighted"),
        "two targets, least_busy": _route(2, "least_busy"),
    }
    samples: dict[str, list[float]] = {name: [] for name in routes}
    for _ in range(ROUNDS):
        for name, route in routes.items():
            samples[name].append(await _per_request_us(route))
    base = statistics.median(samples["one target"])
    for name, values in samples.items():
        median = statistics.median(values)
        print(f"{name:<26} {median:7.2f} us CPU per request ({median - base:+.2f} us over one target)")


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "proxy_site.settings")
    os.environ["STATE_DIR"] = tempfile.mkdtemp(prefix="balance-cost-")
    os.environ.pop("CACHE_URL", None)
    import django

    django.setup()
    asyncio.run(main())
