"""What an operator scrapes per provider (attempts by outcome, circuit state), and the hot path's promise:
a balanced route that meets no failure and no provider limit makes no counters-store call per request."""

from __future__ import annotations

import re
import time

from api.admission.counters import LocalCounters
from tests.integration.balancing.conftest import deploy, post
from tests.integration.conftest import usage_rows


def value(text: str, series: str) -> float:
    """A series' value in a scrape; 0 when absent (counters are process-wide: tests compare before and after)."""
    found = re.search(rf"^{re.escape(series)} (\S+)$", text, re.M)
    return float(found[1]) if found else 0.0


async def scrape(async_client) -> str:
    return (await async_client.get("/metrics", headers={"authorization": "Bearer scrape-me"})).content.decode()


def attempts(text: str, provider: str, outcome: str) -> float:
    return value(text, f'gateway_provider_attempts_total{{outcome="{outcome}",provider="{provider}"}}')


async def test_a_scrape_counts_attempts_per_provider_and_shows_each_circuit(
    gateway, deployments, async_client, settings
):
    settings.METRICS_TOKEN = "scrape-me"
    east, west, north = deployments
    await deploy(gateway["route"], [east, west, north], [1, 1, 1], circuit_failures=1)
    west.stop()
    before = await scrape(async_client)
    for n in range(20):
        assert (await post(async_client, gateway["secret"], f"session-{n}")).status_code == 200
    await usage_rows()
    after = await scrape(async_client)
    assert attempts(after, "west", "api_error") - attempts(before, "west", "api_error") == 1
    served = sum(attempts(after, name, "ok") - attempts(before, name, "ok") for name in ("east", "north"))
    assert served == 20
    assert value(after, 'gateway_provider_circuit_state{provider="west"}') == 2
    assert 'gateway_provider_circuit_state{provider="east"} 0.0' in after


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
