"""Health over live fake upstreams: a deployment taken offline costs the client nothing and stops getting
traffic once its circuit opens; back online, one probe closes it; a 429's retry-after keeps traffic away
that long; with every deployment cooling the fallback serves, then a 529 with retry-after. Time travels;
nothing sleeps."""

from __future__ import annotations

import time

import time_machine
from asgiref.sync import sync_to_async

from api.accounting import metrics
from api.forward import health
from routing.models import ModelRoute, Provider, RouteFallback
from tests.factories import make_route
from tests.fakes.openai_upstream import Error
from tests.integration.balancing.conftest import deploy, post
from tests.integration.conftest import usage_rows


async def test_an_offline_deployment_costs_no_client_error_and_gets_nothing_once_its_circuit_opens(
    gateway, deployments, async_client
):
    _, west, _ = deployments
    by_target = await deploy(gateway["route"], deployments, [1, 1, 1], circuit_failures=3, circuit_cooldown=30)
    west.stop()
    replies = [await post(async_client, gateway["secret"], f"session-{n}") for n in range(40)]
    assert {r.status_code for r in replies} == {200}
    rows = await usage_rows()
    assert "west" not in {by_target[row.target_id].name for row in rows}  # each row names who served it
    assert sum(row.attempts - 1 for row in rows) == 3  # west was tried three times, then left alone
    west_id = (await Provider.objects.aget(name="west")).id
    assert health.read_all()[west_id].state(time.time()) == "open"
    assert (
        'gateway_provider_circuit_state{provider="west"} 2.0'
        in (await sync_to_async(metrics.circuit_states)()).decode()
    )
    assert metrics.ATTEMPTS.labels("west", "api_error")._value.get() >= 3


async def test_back_online_a_probe_closes_the_circuit_and_traffic_returns(gateway, deployments, async_client):
    _, west, _ = deployments
    await deploy(gateway["route"], deployments, [1, 1, 1], circuit_failures=1, circuit_cooldown=30)
    west.stop()
    for n in range(10):
        assert (await post(async_client, gateway["secret"], f"session-{n}")).status_code == 200
    west.start()
    assert west.served == 0
    with time_machine.travel(time.time() + 31, tick=True):
        for n in range(40):
            assert (await post(async_client, gateway["secret"], f"later-{n}")).status_code == 200
    assert west.served >= 5  # the probe closed the circuit: it is back in the rotation
    assert health.read_all() == {}


async def test_a_429_with_retry_after_5_gets_nothing_for_5_seconds(gateway, deployments, async_client):
    east, west, _ = deployments
    await deploy(gateway["route"], [east, west], [1, 1], strategy="ordered", circuit_failures=5)
    east.fake.script(Error(429, message="slow down", headers={"retry-after": "5"}))
    start = time.time()
    with time_machine.travel(start, tick=False) as clock:
        reply = await post(async_client, gateway["secret"], "s")
        assert reply.status_code == 200 and (east.served, west.served) == (1, 1)  # moved on at once, no sleep
        for step in range(9):
            clock.move_to(start + 0.5 * (step + 1))
            assert (await post(async_client, gateway["secret"], "s")).status_code == 200
        assert (east.served, west.served) == (1, 10)
        clock.move_to(start + 5.01)
        assert (await post(async_client, gateway["secret"], "s")).status_code == 200
        assert east.served == 2  # the probe, answered: east leads the order again
    rows = await usage_rows()
    assert [row.attempts for row in rows] == [2] + [1] * 10


async def test_with_every_deployment_cooling_the_fallback_serves_then_a_529_with_retry_after(
    gateway, deployments, async_client
):
    east, west, north = deployments
    await deploy(gateway["route"], [east, west], [1, 1], circuit_failures=1, circuit_cooldown=30)
    east.stop()
    west.stop()
    failed = await post(async_client, gateway["secret"], "s")
    assert failed.status_code == 502 and failed.json()["error"]["type"] == "api_error"
    cooling = await post(async_client, gateway["secret"], "s")
    assert cooling.status_code == 529 and cooling.json()["error"]["type"] == "overloaded_error"
    assert 25 <= int(cooling["retry-after"]) <= 30
    await _fallback_to(gateway["route"], north)
    assert (await post(async_client, gateway["secret"], "s")).status_code == 200 and north.served == 1
    rows = await usage_rows()
    assert [(row.status, row.attempts) for row in rows] == [(502, 2), (529, 0), (200, 1)]


@sync_to_async
def _fallback_to(route: ModelRoute, deployment) -> None:
    from tests.factories import make_provider

    provider = make_provider(name=deployment.name, base_url=deployment.fake.base_url)
    backup = make_route(provider, pattern="no-direct-match")
    RouteFallback.objects.create(route=route, fallback=backup, position=0)
