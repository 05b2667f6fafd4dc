"""How a route's traffic spreads over three live fake upstreams: the weight split, a conversation kept on
one deployment, least_busy by open streams, and a provider's own rpm limit. Usage rows name the target
that served each request."""

from __future__ import annotations

from collections import Counter

from tests.integration.balancing.conftest import Deployment, deploy, post, shares
from tests.integration.conftest import read_stream, usage_rows


async def test_weights_3_to_1_split_conversations_about_75_25_and_rows_name_the_target(
    gateway, deployments, async_client
):
    east, west, _ = deployments
    by_target = await deploy(gateway["route"], [east, west], [3, 1])
    replies = [await post(async_client, gateway["secret"], f"session-{n}") for n in range(200)]
    assert {r.status_code for r in replies} == {200}
    assert 0.65 <= east.served / 200 <= 0.85 and east.served + west.served == 200, shares(deployments)
    rows = await usage_rows()
    assert Counter(by_target[row.target_id].name for row in rows) == shares([east, west])
    assert {row.attempts for row in rows} == {1}


async def test_a_conversation_stays_on_one_deployment_while_others_spread(gateway, deployments, async_client):
    by_target = await deploy(gateway["route"], deployments, [1, 1, 1])
    for _ in range(8):
        assert (await post(async_client, gateway["secret"], "user_abc_account__session_1")).status_code == 200
    for n in range(40):
        assert (await post(async_client, gateway["secret"], f"user_abc_account__session_{n + 2}")).status_code == 200
    rows = await usage_rows()
    assert len({row.target_id for row in rows[:8]}) == 1
    assert {by_target[row.target_id].name for row in rows[8:]} == {"east", "west", "north"}


async def test_least_busy_sends_a_new_stream_to_the_deployment_with_fewer_open(gateway, deployments, async_client):
    east, west, _ = deployments
    await deploy(gateway["route"], [east, west], [1, 1], strategy="least_busy")
    first = await post(async_client, gateway["secret"], "conversation-1", stream=True)
    opened_first = east if east.served else west
    other = west if opened_first is east else east
    for n in range(3):  # each new stream, whoever sends it, goes where fewer are open
        second = await post(async_client, gateway["secret"], f"conversation-{n + 2}", stream=True)
        assert (opened_first.served, other.served) == (1, n + 1)
        await read_stream(second)  # closed: the two are even again until the next one opens
        if n < 2:
            assert other.served == n + 1
    await read_stream(first)
    rows = await usage_rows()
    assert [row.status for row in rows] == [200] * 4


async def test_a_provider_at_its_rpm_limit_serves_10_and_the_rest_go_elsewhere(gateway, deployments, async_client):
    east, west, _ = deployments
    await deploy(gateway["route"], [east, west], [1, 1], strategy="ordered", rpm_limit=None)
    await _limit(east, rpm=10)
    replies = [await post(async_client, gateway["secret"], f"s{n}") for n in range(25)]
    assert {r.status_code for r in replies} == {200}
    assert (east.served, west.served) == (10, 15)
    rows = await usage_rows()
    assert {row.attempts for row in rows} == {1}  # skipped, not tried and refused


async def _limit(deployment: Deployment, rpm: int) -> None:
    from routing.models import Provider

    provider = await Provider.objects.aget(name=deployment.name)
    provider.rpm_limit = rpm
    await provider.asave()
