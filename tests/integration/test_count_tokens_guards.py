"""count_tokens answered locally is bounded: its body size, its calls per minute (per key, or per address
without one), and it runs off the event loop, so a large count does not stall the worker's other requests."""

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from asgiref.sync import sync_to_async

from tests.factories import make_key
from tests.integration.conftest import messages_body, usage_rows

START = datetime(2031, 3, 4, 5, 6, 30, tzinfo=UTC)


def encoded(text: str) -> bytes:
    return json.dumps(messages_body(messages=[{"role": "user", "content": text}])).encode()


async def count(async_client, key: str, text: str = "hello there", *, raw: bytes = b""):
    return await async_client.post(
        "/v1/messages/count_tokens",
        data=raw or encoded(text),
        content_type="application/json",
        headers={"x-api-key": key},
    )


@pytest.fixture
def frozen():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


async def test_a_body_over_count_tokens_max_bytes_is_a_413(gateway, async_client, settings):
    settings.COUNT_TOKENS_MAX_BYTES = 2000

    small = await count(async_client, gateway["secret"])
    large = await count(async_client, gateway["secret"], "x" * 2000)

    assert small.status_code == 200 and small.json()["input_tokens"] > 0
    assert large.status_code == 413, large.content
    assert large.json()["error"]["type"] == "request_too_large" and "2000 bytes" in large.json()["error"]["message"]
    rows = await usage_rows()
    assert [(r.endpoint, r.status) for r in rows] == [("count_tokens", 200), ("count_tokens", 413)]


async def test_calls_past_the_minute_limit_get_a_429_until_a_minute_has_passed(gateway, async_client, settings, frozen):
    settings.COUNT_TOKENS_PER_MINUTE = 3
    _, other_secret = await sync_to_async(make_key)(gateway["key"].user, name="second")

    statuses = [(await count(async_client, gateway["secret"])).status_code for _ in range(4)]
    refused = await count(async_client, gateway["secret"])

    assert statuses == [200, 200, 200, 429]
    assert refused.json()["error"]["type"] == "rate_limit_error" and refused["retry-after"] == "61"
    assert (await count(async_client, other_secret)).status_code == 200, "another key has its own count"
    frozen.shift(timedelta(seconds=60))  # a sliding minute: the next clock minute is not enough
    assert (await count(async_client, gateway["secret"])).status_code == 429
    frozen.shift(timedelta(seconds=1))
    assert (await count(async_client, gateway["secret"])).status_code == 200


async def test_without_a_key_of_its_own_each_address_has_its_own_count(gateway, async_client, settings, frozen):
    settings.COUNT_TOKENS_PER_MINUTE = 2
    settings.ANTHROPIC_API_KEY = "team-shared-key"

    statuses = [(await count(async_client, "team-shared-key")).status_code for _ in range(3)]

    assert statuses == [200, 200, 429]
    [row] = [r for r in await usage_rows() if r.status == 429]
    assert (row.key_id, row.client_ip) == (None, "127.0.0.1")


async def test_a_large_count_does_not_stall_the_event_loop(gateway, async_client, settings):
    settings.COUNT_TOKENS_MAX_BYTES = settings.MAX_BODY_BYTES
    raw = encoded(" ".join(f"word{n % 5000}" for n in range(600_000)))  # 5 MB: a few tenths of a second to count
    stalls: list[float] = []
    assert (await count(async_client, gateway["secret"])).status_code == 200  # loads the encoding, once a process

    async def tick() -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(0.005)
            stalls.append(time.perf_counter() - before)

    ticker = asyncio.create_task(tick())
    started = time.perf_counter()
    response = await count(async_client, gateway["secret"], raw=raw)
    took = time.perf_counter() - started
    ticker.cancel()

    assert response.status_code == 200 and response.json()["input_tokens"] > 600_000
    assert max(stalls) < took / 2, f"the loop stalled {max(stalls):.3f} s of the {took:.3f} s the count took"
