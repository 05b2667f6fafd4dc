"""Wrong keys are throttled per client address: after AUTH_FAILURES_PER_MINUTE of them the address gets
a 429 (Anthropic's shape, retry-after) for AUTH_FAILURE_COOLDOWN seconds, before any key is looked at,
even a valid one. A revoked, expired or missing key is a client to fix, not a guess: not counted."""

import hashlib
import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import time_machine
from asgiref.sync import sync_to_async

from api.admission import throttle
from routing import snapshot
from tests.factories import make_key
from tests.integration.conftest import UPSTREAM, asgi_request, completion, messages_body, usage_rows

START = datetime(2031, 3, 4, 5, 6, 7, tzinfo=UTC)
BAD_KEY = "not-a-key"


@pytest.fixture
def frozen():
    """The clock stopped at START, and no failure counted before it (every test starts at START)."""
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller
    throttle._blocked.clear()


@pytest.fixture
def ok_upstream(upstream):
    return upstream.post(f"{UPSTREAM}/chat/completions").mock(
        return_value=httpx.Response(200, json=completion({"content": "ok"}))
    )


async def post(async_client, key: str, address: str = "203.0.113.7"):
    return await asgi_request("/v1/messages", json.dumps(messages_body()).encode(), address=address, x_api_key=key)


async def fail(async_client, times: int, address: str = "203.0.113.7") -> None:
    for _ in range(times):
        assert (await post(async_client, BAD_KEY, address)).status_code == 401


async def test_after_twenty_failures_even_a_valid_key_gets_a_429_without_a_lookup(
    gateway, ok_upstream, async_client, frozen
):
    await fail(async_client, 20)

    response = await post(async_client, gateway["secret"])

    assert response.status_code == 429, response.content
    body = response.json()
    assert body["error"]["type"] == "rate_limit_error" and body["request_id"] == response["request-id"]
    assert response["retry-after"] == "60"
    assert hashlib.sha256(gateway["secret"].encode()).hexdigest() not in snapshot.keys._entries
    assert not ok_upstream.called
    rows = await usage_rows()
    assert [r.status for r in rows] == [401] * 20 + [429]
    assert rows[-1].client_ip == "203.0.113.7" and rows[-1].key_id is None


async def test_nineteen_failures_do_not_block(gateway, ok_upstream, async_client, frozen):
    await fail(async_client, 19)

    assert (await post(async_client, gateway["secret"])).status_code == 200


async def test_another_address_is_not_blocked(gateway, ok_upstream, async_client, frozen):
    await fail(async_client, 20)

    assert (await post(async_client, gateway["secret"], "203.0.113.8")).status_code == 200


async def test_the_block_ends_after_the_cool_down(gateway, ok_upstream, async_client, frozen):
    await fail(async_client, 20)
    frozen.shift(timedelta(seconds=59))
    blocked = await post(async_client, gateway["secret"])
    assert blocked.status_code == 429 and blocked["retry-after"] == "1"

    frozen.shift(timedelta(seconds=2))

    assert (await post(async_client, gateway["secret"])).status_code == 200


async def test_addresses_in_one_ipv6_64_share_a_block(gateway, ok_upstream, async_client, frozen):
    for host in range(1, 21):  # an attacker rotating through the /64 its host was given
        assert (await post(async_client, BAD_KEY, f"2001:db8:0:1::{host:x}")).status_code == 401

    assert (await post(async_client, gateway["secret"], "2001:db8:0:1::ffff")).status_code == 429
    assert (await post(async_client, gateway["secret"], "2001:db8:0:2::1")).status_code == 200


async def test_a_worker_that_has_not_seen_the_block_blocks_on_its_first_failure(
    gateway, ok_upstream, async_client, frozen
):
    """The failure counter is shared (the cache), the block is remembered per process."""
    await fail(async_client, 20)
    throttle._blocked.clear()  # as another worker's memory: it has seen none of these failures

    await fail(async_client, 1)

    assert (await post(async_client, gateway["secret"])).status_code == 429


async def test_zero_turns_the_throttle_off(gateway, ok_upstream, async_client, frozen, settings):
    settings.AUTH_FAILURES_PER_MINUTE = 0
    await fail(async_client, 30)

    assert (await post(async_client, gateway["secret"])).status_code == 200


async def test_a_blocked_address_cannot_keep_guessing_the_shared_key(
    gateway, ok_upstream, async_client, frozen, settings
):
    settings.ANTHROPIC_API_KEY = "team-shared-key"
    for guess in range(20):
        assert (await post(async_client, f"team-shared-key-{guess}")).status_code == 401

    assert (await post(async_client, "team-shared-key")).status_code == 429



async def test_revoked_expired_and_missing_keys_are_not_counted(gateway, ok_upstream, async_client, frozen):
    user = gateway["key"].user
    _, revoked = await sync_to_async(make_key)(user, name="revoked", revoked_at=START)
    _, expired = await sync_to_async(make_key)(user, name="expired", expires_at=START - timedelta(days=1))

    for secret in [revoked, expired, ""] * 10:
        assert (await post(async_client, secret)).status_code == 401

    assert (await post(async_client, gateway["secret"])).status_code == 200
