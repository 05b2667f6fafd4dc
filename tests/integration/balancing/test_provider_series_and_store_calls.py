"""What an operator scrapes per provider (attempts by outcome, circuit state), and the hot path's promise:
a balanced route that meets no failure and no provider limit makes no counters-store call per request."""

from __future__ import annotations

import re
import time

from api.admission.counters import LocalCounters
from tests.integration.balancing.conftest import deploy, post
from tests.integration.conftest import usage_rows


def value(text: str, series: str) -> float:
    found = re.search(rf"^{re.escape(series)} (\S+)$", text, re.M)
    assert found, f"{series} not in the scrape"
    return float(found[1])


async def test_a_scrape_counts_attempts_per_provider_and_shows_each_circuit(
    gateway, deployments, async_client, settings
):
    settings.METRICS_TOKEN = "scrape-me"
    east, west, north = deployments
    await deploy(gateway["route"], [east, west, north], [1, 1, 1], circuit_failures=1)
    west.stop()
    for n in range(20):
        assert (await post(async_client, gateway["secret"], f"session-{n}")).status_code == 200
    await usage_rows()
    scrape = (await async_client.get("/metrics", headers={"authorization": "Bearer scrape-me"})).content.decode()
    assert value(scrape, 'gateway_provider_attempts_total{outcome="api_error",provider="west"}') == 1
    served = [
        value(scrape, f'gateway_provider_attempts_total{{outcome="ok",provider="{name}"}}')
        for name in ("east", "north")
    ]
    assert sum(served) == 20
    assert value(scrape, 'gateway_provider_circuit_state{provider="west"}') == 2
    assert value(scrape, 'gateway_provider_circuit_state{provider="east"}') == 0


async def test_a_healthy_two_target_route_reads_the_store_at_most_once_a_second(
    gateway, deployments, async_client, monkeypatch
):
    east, west, _ = deployments
    await deploy(gateway["route"], [east, west], [1, 1])
    calls = []
    for name in ("circuits", "swap_circuit", "reserve"):
        original = getattr(LocalCounters, name)
        monkeypatch.setattr(
            LocalCounters, name, lambda self, *a, _o=original, _n=name: calls.append(_n) or _o(self, *a)
        )
    started = time.monotonic()
    for n in range(50):
        assert (await post(async_client, gateway["secret"], f"session-{n}")).status_code == 200
    elapsed = time.monotonic() - started
    assert east.served and west.served
    assert set(calls) <= {"circuits"}, calls
    assert len(calls) <= elapsed + 1, (len(calls), elapsed)  # once a second (READ_EVERY), not per request
