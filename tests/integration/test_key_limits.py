"""Per-key limits through the real view: allowlist, requests and tokens per minute, budgets."""

import json
from datetime import UTC, datetime

import httpx
import pytest
import time_machine
from asgiref.sync import sync_to_async

from tests.factories import make_key, make_usage
from tests.integration.conftest import UPSTREAM, completion, messages_body, usage_rows

USAGE = {"prompt_tokens": 10, "completion_tokens": 40, "total_tokens": 50}


@pytest.fixture(autouse=True)
def _frozen_clock():
    """No test may straddle a window's or a period's edge, whatever the day it runs: noon on a Monday
    the 1st, where the day, week and month budgets start together."""
    with time_machine.travel(datetime(2027, 3, 1, 12, 0, 30, tzinfo=UTC), tick=False):
        yield


@pytest.fixture
def ok_upstream(upstream):
    return upstream.post(f"{UPSTREAM}/chat/completions").mock(
        return_value=httpx.Response(200, json=completion({"content": "ok"}, usage=USAGE))
    )


async def _post(async_client, secret, max_tokens=40):
    body = json.dumps(messages_body(max_tokens=max_tokens))
    return await async_client.post(
        "/v1/messages", data=body, content_type="application/json", headers={"x-api-key": secret}
    )


async def _limited_key(user, **limits):
    return await sync_to_async(make_key)(user, **limits)


async def test_requests_per_minute_are_limited_with_retry_after(gateway, ok_upstream, async_client):
    _, secret = await _limited_key(gateway["key"].user, rpm_limit=2)
    assert [(await _post(async_client, secret)).status_code for _ in range(2)] == [200, 200]
    refused = await _post(async_client, secret)
    assert refused.status_code == 429
    body = refused.json()
    assert body["error"]["type"] == "rate_limit_error" and "2 requests per minute" in body["error"]["message"]
    assert 1 <= int(refused["retry-after"]) <= 61  # one-second buckets: the oldest leaves within 61 s
    assert ok_upstream.call_count == 2
    rows = await usage_rows()
    assert [r.status for r in rows] == [200, 200, 429]


async def test_tokens_per_minute_count_each_request_once_it_ends(gateway, ok_upstream, async_client):
    # Each request reserves its input estimate + max_tokens (40) and is settled to the 50 it used.
    _, secret = await _limited_key(gateway["key"].user, tpm_limit=150)
    assert (await _post(async_client, secret)).status_code == 200
    assert (await _post(async_client, secret)).status_code == 200
    refused = await _post(async_client, secret)  # 100 used + its reservation > 150
    assert refused.status_code == 429 and "150 tokens per minute" in refused.json()["error"]["message"]
    assert 1 <= int(refused["retry-after"]) <= 61
    assert ok_upstream.call_count == 2


async def test_a_request_that_can_never_fit_the_tokens_per_minute_is_told_to_lower_max_tokens(
    gateway, ok_upstream, async_client
):
    _, secret = await _limited_key(gateway["key"].user, tpm_limit=500)
    refused = await _post(async_client, secret, max_tokens=1000)
    assert refused.status_code == 429 and refused["x-should-retry"] == "false"
    assert "lower max_tokens" in refused.json()["error"]["message"] and ok_upstream.call_count == 0


@pytest.mark.parametrize("period", ["day", "week", "month", "total"])
async def test_a_budget_holds_with_requests_one_at_a_time(gateway, ok_upstream, async_client, period):
    _, secret = await _limited_key(gateway["key"].user, budget_tokens=150, budget_period=period)
    assert [(await _post(async_client, secret)).status_code for _ in range(3)] == [200, 200, 429]
    refused = await _post(async_client, secret)
    assert refused.status_code == 429 and refused["x-should-retry"] == "false"
    message = refused.json()["error"]["message"]
    assert "50 tokens left of its budget of 150 tokens" in message and "lower max_tokens" in message
    assert sum(r.total_tokens for r in await usage_rows()) == 100 <= 150


async def test_a_budget_counts_usage_already_in_the_database(gateway, ok_upstream, async_client):
    key, secret = await _limited_key(gateway["key"].user, budget_tokens=150, budget_period="month")
    await sync_to_async(make_usage)(request_id="req_old", key=key, user=key.user, input_tokens=100, output_tokens=60)
    refused = await _post(async_client, secret)
    assert refused.status_code == 429 and ok_upstream.call_count == 0
