"""Each usage row costs its tokens at the price in force: input, output, cache read and cache write each
at its own price, to the micro-dollar, with the cost in a response header when it is known."""

import json
from datetime import date
from decimal import Decimal

import httpx
import pytest
from asgiref.sync import sync_to_async

from api.accounting.usage import writer
from routing.models import Price
from tests.factories import make_key, make_provider, make_route
from tests.integration.conftest import UPSTREAM, completion, messages_body, usage_rows
from tests.integration.test_passthrough import SSE_BODY

ANTHROPIC = "http://anthropic.test"
RATES = {"input": "3.123457", "output": "15.5", "cache_read": "0.31", "cache_write": "3.75"}
USAGE_KEYS = {
    "input": "input_tokens",
    "output": "output_tokens",
    "cache_read": "cache_read_input_tokens",
    "cache_write": "cache_creation_input_tokens",
}


def expected_cost(tokens: dict[str, int]) -> Decimal:
    total = sum(Decimal(n) * Decimal(RATES[kind]) for kind, n in tokens.items())
    return (total / 1_000_000).quantize(Decimal("0.000001"))


@pytest.fixture
def priced_claude(transactional_db, settings):
    settings.AUTH_MODE = "keys"
    provider = make_provider(name="claude", kind="anthropic", base_url=ANTHROPIC, api_key="sk-ant-provider-key")
    make_route(provider, pattern="claude-*", target_model="claude-x")
    Price.objects.create(provider=provider, model="claude-x", effective_from=date(2020, 1, 1), **RATES)
    _, secret = make_key()
    yield secret
    assert writer.flush(10.0)


async def _call(async_client, secret, **body):
    return await async_client.post(
        "/v1/messages",
        data=json.dumps(messages_body(**body)),
        content_type="application/json",
        headers={"x-api-key": secret},
    )


def _message(usage: dict) -> dict:
    return {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-x",
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "content": [{"type": "text", "text": "ok"}],
        "usage": usage,
    }


@pytest.mark.parametrize(
    "tokens",
    [
        pytest.param({"input": 1_234_567}, id="input"),
        pytest.param({"output": 98_765}, id="output"),
        pytest.param({"cache_read": 8_901}, id="cache-read"),
        pytest.param({"cache_write": 2_345}, id="cache-write"),
        pytest.param({"input": 1, "output": 3, "cache_read": 7, "cache_write": 11}, id="all-four"),
    ],
)
async def test_each_kind_of_token_is_charged_at_its_own_price(priced_claude, upstream, async_client, tokens):
    usage = {USAGE_KEYS[kind]: tokens.get(kind, 0) for kind in USAGE_KEYS}
    upstream.post(f"{ANTHROPIC}/v1/messages").mock(return_value=httpx.Response(200, json=_message(usage)))
    response = await _call(async_client, priced_claude)
    assert response.status_code == 200
    [row] = await usage_rows()
    assert row.cost_usd == expected_cost(tokens) and row.cost_estimated is False
    assert response["x-gateway-cost-usd"] == str(expected_cost(tokens))


async def test_a_stream_has_its_cost_on_the_row(priced_claude, upstream, async_client):
    upstream.post(f"{ANTHROPIC}/v1/messages").mock(
        return_value=httpx.Response(200, content=SSE_BODY, headers={"content-type": "text/event-stream"})
    )
    response = await _call(async_client, priced_claude, stream=True)
    assert b"message_stop" in b"".join([part async for part in response.streaming_content])
    [row] = await usage_rows()
    assert (row.input_tokens, row.output_tokens) == (25, 9)
    assert row.cost_usd == expected_cost({"input": 25, "output": 9})
    assert "x-gateway-cost-usd" not in response


@pytest.fixture
def openai_gateway(transactional_db, settings):
    settings.AUTH_MODE = "keys"
    provider = make_provider(base_url=UPSTREAM, profile="openai")
    make_route(provider, pattern="*", target_model="gpt-4o")
    _, secret = make_key()
    yield provider, secret
    assert writer.flush(10.0)


async def test_a_model_without_a_price_has_no_cost_not_a_zero(openai_gateway, upstream, async_client):
    _, secret = openai_gateway
    upstream.post(f"{UPSTREAM}/chat/completions").mock(
        return_value=httpx.Response(200, json=completion({"content": "ok"}))
    )
    response = await _call(async_client, secret)
    assert response.status_code == 200 and "x-gateway-cost-usd" not in response
    [row] = await usage_rows()
    assert row.input_tokens == 11 and row.cost_usd is None


async def test_tokens_counted_locally_give_an_estimated_cost(openai_gateway, upstream, async_client):
    provider, secret = openai_gateway
    await sync_to_async(Price.objects.create)(provider=provider, model="gpt-4o", input="1", output="2")
    reply = completion({"content": "ok"})
    del reply["usage"]
    upstream.post(f"{UPSTREAM}/chat/completions").mock(return_value=httpx.Response(200, json=reply))
    response = await _call(async_client, secret)
    [row] = await usage_rows()
    assert row.estimated and row.cost_estimated and row.input_tokens > 0
    expected = (Decimal(row.input_tokens) * 1 + Decimal(row.output_tokens) * 2) / 1_000_000
    assert row.cost_usd == expected.quantize(Decimal("0.000001"))
    assert response["x-gateway-cost-usd"] == str(row.cost_usd)
