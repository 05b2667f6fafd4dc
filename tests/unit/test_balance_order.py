"""The order in which a route's targets are tried, per strategy, at the balancer (no HTTP: fast enough for
the thousand requests a split needs). The live-upstream tests are in tests/integration/test_balancing.py."""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter

import pytest

from api.accounting.exchange import Exchange
from api.accounting.usage import UsageRecord
from api.forward import balance, health
from api.forward.balance import Demand
from api.providers.errors import ProviderError
from api.translate.errors import ApiError
from routing.resolve import ProviderInfo, RouteInfo, TargetInfo

NOW = 1_800_000_000.0


def route(*weights: int, strategy: str = "weighted", **provider_fields) -> RouteInfo:
    """Targets 100, 101, ... on providers 1, 2, ... with these weights."""
    targets = [
        TargetInfo(id=100 + i, provider=_provider(i + 1, **provider_fields), model=f"model-{i + 1}", weight=w)
        for i, w in enumerate(weights)
    ]
    return RouteInfo.over(targets, id=1, priority=0, pattern="*", strategy=strategy)


def _provider(n: int, **fields) -> ProviderInfo:
    return ProviderInfo(id=n, name=f"p{n}", kind="openai", base_url=f"http://p{n}.test", api_key="", **fields)


def caller(user: str | None, key_id: int | None = 5) -> Demand:
    body = {"model": "m", "max_tokens": 100, "messages": [], **({"metadata": {"user_id": user}} if user else {})}
    return Demand.of(key_id, body, 200)


async def first(r: RouteInfo, demand: Demand) -> int:
    return (await balance.order(r, demand, NOW))[0].target_id


async def test_weights_3_to_1_split_a_thousand_callers_75_25_within_5_points():
    r = route(3, 1)
    served = Counter([await first(r, caller(f"session-{n}")) for n in range(1000)])
    assert 700 <= served[100] <= 800 and served[100] + served[101] == 1000, served


async def test_weights_3_to_1_split_anonymous_requests_75_25_within_5_points():
    random.seed(13)
    r = route(3, 1)
    served = Counter([await first(r, caller(None, key_id=None)) for _ in range(1000)])
    assert 700 <= served[100] <= 800, served


async def test_one_conversation_stays_on_one_target_while_conversations_spread():
    r = route(1, 1, 1)
    assert len({await first(r, caller("session-a")) for _ in range(50)}) == 1
    assert set(Counter([await first(r, caller(f"session-{n}")) for n in range(300)])) == {100, 101, 102}


async def test_a_caller_whose_target_cools_down_moves_and_comes_back_when_it_closes():
    r = route(1, 1, 1)
    home = await first(r, caller("session-a"))
    provider = next(b.provider for b in r.bound if b.target_id == home)
    for i in range(3):
        await health.failed(provider, ProviderError(ApiError(503, "api_error", "down")), NOW - 1 + i * 0.1)
    assert await first(r, caller("session-a")) != home
    await health.succeeded(provider, NOW + 60)
    assert await first(r, caller("session-a")) == home


async def test_a_zero_weight_target_is_tried_last():
    r = route(0, 1)
    assert [b.target_id for b in await balance.order(r, caller("x"), NOW)] == [101, 100]


async def test_ordered_tries_targets_by_position_skipping_a_cooling_one():
    r = route(1, 5, 1, strategy="ordered")
    assert [b.target_id for b in await balance.order(r, caller("x"), NOW)] == [100, 101, 102]
    await health.failed(r.bound[0].provider, ProviderError(ApiError(429, "rate_limit_error", "", retry_after="9")), NOW)
    assert [b.target_id for b in await balance.order(r, caller("x"), NOW)] == [101, 102]


async def test_least_busy_sends_a_new_request_to_the_target_with_fewer_open():
    r = route(1, 1, strategy="least_busy")
    balance.inflight.update({100: 2, 101: 1})
    assert {await first(r, caller(f"s{n}")) for n in range(40)} == {101}


async def test_least_busy_keeps_a_caller_on_its_target_while_loads_are_even():
    r = route(1, 1, 1, strategy="least_busy")
    assert len({await first(r, caller("session-a")) for _ in range(30)}) == 1


async def test_lowest_latency_prefers_the_fastest_moving_average():
    r = route(1, 1, strategy="lowest_latency")
    for seconds in (0.1, 0.1, 2.0):  # one slow answer does not outweigh a fast history
        balance.measured(r.bound[0], seconds)
    for seconds in (0.9, 0.8):
        balance.measured(r.bound[1], seconds)
    assert await first(r, caller("x")) == 100
    balance.measured(r.bound[0], 3.0)
    assert await first(r, caller("x")) == 101


async def test_a_provider_at_its_rpm_limit_is_skipped_not_refused():
    r = route(1, strategy="ordered", rpm_limit=10)
    places = []
    for n in range(12):
        ex = Exchange(request_id=f"req-{n}", record=UsageRecord(request_id=f"req-{n}"))
        places.append(await balance.claim(ex, r.bound[0], caller("x"), time.time()))
    assert sum(p is not None for p in places) == 10 and places[10] is None and places[11] is None


async def test_a_provider_at_its_tpm_limit_is_skipped_and_settling_frees_it():
    r = route(1, strategy="ordered", tpm_limit=500)
    ex = Exchange(request_id="req-1", record=UsageRecord(request_id="req-1"))
    demand = Demand.of(5, {"model": "m", "max_tokens": 300, "messages": []}, 100)  # ~325 tokens reserved
    place = await balance.claim(ex, r.bound[0], demand, time.time())
    assert place is not None and balance.inflight[100] == 1
    assert await balance.claim(ex, r.bound[0], demand, time.time()) is None
    place.end(20)  # it used 20
    assert balance.inflight[100] == 0
    assert await _claimed_within_a_second(ex, r.bound[0], demand)


async def _claimed_within_a_second(ex, target, demand) -> bool:
    """On Redis a settlement runs on a thread once the request ends: the next claim may wait for it."""
    for _ in range(50):
        if await balance.claim(ex, target, demand, time.time()) is not None:
            return True
        await asyncio.sleep(0.02)
    return False


@pytest.mark.parametrize("strategy", ["weighted", "ordered", "least_busy", "lowest_latency"])
async def test_every_strategy_leaves_out_a_cooling_provider(strategy):
    r = route(1, 1, strategy=strategy)
    for i in range(3):
        await health.failed(r.bound[1].provider, ProviderError(ApiError(502, "api_error", "refused")), NOW + i * 0.1)
    assert {b.target_id for b in await balance.order(r, caller("x"), NOW + 1)} == {100}
