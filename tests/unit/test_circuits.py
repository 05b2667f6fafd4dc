"""Provider circuits on the shared store (the SQLite file every local worker opens, and Redis): when they
open, how long they cool down, the one probe, and that another worker process sees the same state.
Time is passed in, never read."""

from __future__ import annotations

import asyncio
import multiprocessing
import os

import pytest

from api.admission.counters import store
from api.forward import health
from api.providers.errors import ProviderError
from api.translate.errors import ApiError
from routing.resolve import ProviderInfo

NOW = 1_800_000_000.0


def provider(**overrides) -> ProviderInfo:
    fields = {"circuit_failures": 3, "circuit_window": 60, "circuit_cooldown": 30, **overrides}
    return ProviderInfo(id=7, name="east", kind="openai", base_url="http://east.test/v1", api_key="", **fields)


def failure(status: int = 503, message: str = "upstream down", retry_after: str | None = None) -> ProviderError:
    return ProviderError(ApiError(status, "api_error", message, retry_after=retry_after), retryable=True)


@pytest.fixture(params=["sqlite", "redis"])
def shared_store(request, settings):
    if request.param == "redis":
        from tests.scale import services as svc

        settings.CACHE_URL = svc.with_path(svc.services().cache_url, "/10")
    store().clear()
    health.forget()
    yield store()
    store().clear()
    health.forget()


async def fail(p: ProviderInfo, times: int, at: float, error: ProviderError | None = None) -> None:
    for i in range(times):
        await health.failed(p, error or failure(), at + i * 0.1)


async def test_failures_below_the_threshold_keep_the_provider_in_use(shared_store):
    p = provider()
    await fail(p, 2, NOW)
    assert await health.admit(p, NOW + 1)
    assert health.read_all()[p.id].state(NOW + 1) == "closed"


async def test_the_nth_failure_in_the_window_opens_the_circuit_for_the_cooldown(shared_store):
    p = provider()
    await fail(p, 3, NOW)
    assert not await health.admit(p, NOW + 1)
    assert not await health.admit(p, NOW + 30.1)
    circuit = health.read_all()[p.id]
    assert (circuit.state(NOW + 1), circuit.until, circuit.error) == ("open", NOW + 0.2 + 30, "upstream down")


async def test_a_provider_with_circuit_failures_0_has_no_circuit(shared_store):
    p = provider(circuit_failures=0)
    await fail(p, 10, NOW)
    await health.failed(p, failure(429, "slow down", retry_after="30"), NOW + 2)
    assert health.read_all() == {}
    assert await health.admit(p, NOW + 3)


async def test_failures_further_apart_than_the_window_never_add_up(shared_store):
    p = provider()
    for i in range(5):
        await health.failed(p, failure(), NOW + i * 61)
    assert await health.admit(p, NOW + 5 * 61)


async def test_after_the_cooldown_one_request_probes_and_its_success_closes_the_circuit(shared_store):
    p = provider()
    await fail(p, 3, NOW)
    later = NOW + 31
    assert await health.admit(p, later)  # the probe
    assert not await health.admit(p, later + 0.5)  # everyone else waits for its answer
    await health.succeeded(p, later + 1)
    assert health.read_all() == {}
    assert await health.admit(p, later + 1.1)


async def test_a_failed_probe_opens_the_circuit_again_for_twice_as_long(shared_store):
    p = provider()
    await fail(p, 3, NOW)
    probe_at = NOW + 31
    assert await health.admit(p, probe_at)
    await health.failed(p, failure(), probe_at)
    assert health.read_all()[p.id].until == probe_at + 60
    assert not await health.admit(p, probe_at + 59)


async def test_the_cooldown_doubles_to_ten_minutes_at_most(shared_store):
    p = provider(circuit_cooldown=200)
    await fail(p, 3, NOW)
    at = NOW
    for _ in range(4):
        at = health.read_all()[p.id].until + 1
        assert await health.admit(p, at)
        await health.failed(p, failure(), at)
    assert health.read_all()[p.id].until == at + health.MAX_COOLDOWN


async def test_a_429_with_retry_after_cools_that_provider_exactly_that_long(shared_store):
    p = provider()
    await health.failed(p, failure(429, "slow down", retry_after="5"), NOW)
    assert not await health.admit(p, NOW + 4.9)
    assert await health.admit(p, NOW + 5.0)


@pytest.mark.parametrize("asked", ["999999999", "inf", "nan", "-5"])
async def test_an_upstreams_retry_after_cannot_cool_a_provider_past_ten_minutes_nor_confuse_it(shared_store, asked):
    p = provider()
    await health.failed(p, failure(429, "slow down", retry_after=asked), NOW)
    circuit = health.read_all()[p.id]
    assert circuit.until in (0, NOW + health.MAX_COOLDOWN)
    assert await health.admit(p, NOW + health.MAX_COOLDOWN)


async def test_a_probe_lost_with_its_worker_is_given_to_another_request_later(shared_store):
    p = provider()
    await fail(p, 3, NOW)
    assert await health.admit(p, NOW + 31)
    assert not await health.admit(p, NOW + 31 + health.PROBE_TIMEOUT - 1)
    assert await health.admit(p, NOW + 31 + health.PROBE_TIMEOUT + 0.1)


@pytest.mark.parametrize(
    ("status", "message", "trips"),
    [
        pytest.param(400, "bad request", False, id="400"),
        pytest.param(400, "prompt is too long: 300000 tokens", False, id="context-length"),
        pytest.param(401, "invalid key", False, id="401"),
        pytest.param(404, "no such model", False, id="404"),
        pytest.param(429, "rate limited", True, id="429"),
        pytest.param(500, "oops", True, id="500"),
        pytest.param(502, "Could not connect to the upstream", True, id="connect-error"),
        pytest.param(504, "timed out", True, id="timeout"),
        pytest.param(529, "overloaded", True, id="529"),
    ],
)
def test_only_failures_of_the_provider_trip_a_circuit(status, message, trips):
    assert health.trips_circuit(failure(status, message)) is trips


def _fail_in_another_process(state_dir: str, cache_url: str, prefix: str, now: float, queue) -> None:
    """Another worker on this test's shared store: STATE_DIR's file, or Redis under this run's key prefix."""
    os.environ.update({"DJANGO_SETTINGS_MODULE": "proxy_site.settings", "STATE_DIR": state_dir, "CACHE_URL": cache_url})
    import django
    from django.conf import settings

    django.setup()
    settings.CACHES["default"]["KEY_PREFIX"] = prefix
    from api.forward import health as worker_health

    async def work() -> bool:
        for i in range(3):
            await worker_health.failed(provider(), failure(), now + i * 0.1)
        return await worker_health.admit(provider(), now + 31)  # and it takes the probe

    queue.put(asyncio.run(work()))


async def test_a_circuit_opened_by_another_worker_process_holds_in_this_one(settings):
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    args = (str(settings.STATE_DIR), settings.CACHE_URL, settings.CACHES["default"]["KEY_PREFIX"], NOW, queue)
    worker = ctx.Process(target=_fail_in_another_process, args=args)
    worker.start()
    assert queue.get(timeout=60) is True
    worker.join(timeout=30)
    health.forget()
    assert not await health.admit(provider(), NOW + 1)  # opened there
    assert not await health.admit(provider(), NOW + 31.5)  # and the other worker holds the one probe
