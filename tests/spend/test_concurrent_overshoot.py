"""Concurrent streams against a USD budget: each reserves its input estimate plus max_tokens at the
route's price before its upstream call, so those in flight together can overshoot the budget by no more
than what they used beyond their reservations (README, "Spend and budgets"): nothing when the upstream
keeps to the estimate and max_tokens; at most the sum of the excesses when it does not."""

import asyncio
import json
from datetime import date
from decimal import Decimal

import httpx
import pytest

from api.translate.tokens import input_bound
from routing.models import Price, UserBudget
from routing.prices import Rates
from tests.integration.conftest import UPSTREAM, SlowStream, chunk, messages_body, sse, usage_rows

STREAMS = 12
MAX_TOKENS = 100
RATES = Rates(Decimal(1000), Decimal(2000), Decimal(0), Decimal(0))
BODY = json.dumps(messages_body(max_tokens=MAX_TOKENS, stream=True))
ESTIMATE = input_bound(json.loads(BODY), len(BODY))
RESERVED = RATES.cost(ESTIMATE, MAX_TOKENS)
BUDGET = (RESERVED * Decimal("3.5")).quantize(Decimal("0.01"))

LONG_AGO = date(2020, 1, 1)  # the price is in force whatever day the test runs (or fakes)


def _upstream(upstream, input_tokens: int, output_tokens: int):
    usage = {
        "prompt_tokens": input_tokens,
        "completion_tokens": output_tokens,
        "total_tokens": input_tokens + output_tokens,
    }

    def reply(request):
        frames = sse(
            chunk({"content": "ok"}), chunk(finish="stop"), chunk(choices=False, usage=usage), "data: [DONE]\n\n"
        )
        return httpx.Response(200, stream=SlowStream([(0.3, frames)]), headers={"content-type": "text/event-stream"})

    return upstream.post(f"{UPSTREAM}/chat/completions").mock(side_effect=reply)


async def _all_at_once(async_client, secret: str) -> list[int]:
    async def one():
        response = await async_client.post(
            "/v1/messages", data=BODY, content_type="application/json", headers={"x-api-key": secret}
        )
        if response.status_code == 200:
            b"".join([part async for part in response.streaming_content])
        return response.status_code

    return list(await asyncio.gather(*(one() for _ in range(STREAMS))))


@pytest.fixture
def budgeted(gateway):
    Price.objects.create(
        provider=gateway["provider"], model="gpt-4o", input=RATES.input, output=RATES.output, effective_from=LONG_AGO
    )
    UserBudget.objects.create(user=gateway["key"].user, usd=BUDGET, period="total")
    return gateway["secret"]


async def test_streams_that_keep_to_their_reservation_never_overshoot(budgeted, upstream, async_client):
    calls = _upstream(upstream, ESTIMATE, MAX_TOKENS)
    statuses = await _all_at_once(async_client, budgeted)
    assert statuses.count(200) == 3 and statuses.count(429) == STREAMS - 3 and calls.call_count == 3
    spent = sum(r.cost_usd for r in await usage_rows() if r.status == 200)
    assert spent == 3 * RESERVED <= BUDGET


async def test_streams_that_use_more_than_reserved_overshoot_by_at_most_their_excess(budgeted, upstream, async_client):
    actual = RATES.cost(ESTIMATE * 10, MAX_TOKENS)  # the upstream counts ten times the estimated input
    _upstream(upstream, ESTIMATE * 10, MAX_TOKENS)
    statuses = await _all_at_once(async_client, budgeted)
    admitted = statuses.count(200)
    spent = sum(r.cost_usd for r in await usage_rows() if r.status == 200)
    assert admitted == 3 and spent == admitted * actual
    assert BUDGET < spent <= BUDGET + admitted * (actual - RESERVED)
