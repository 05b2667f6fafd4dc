"""Per-key limits through the real view: allowlist, requests and tokens per minute, budgets."""

import json
from datetime import UTC, datetime

import httpx
import pytest
import time_machine
from asgiref.sync import sync_to_async

from routing.models import UsageLog
from tests.factories import make_key
from tests.integration.conftest import UPSTREAM, completion, messages_body, usage_rows

USAGE = {"prompt_tokens": 60, "completion_tokens": 40, "total_tokens": 100}
pytestmark = pytest.mark.usefixtures("fresh_cache")  # no counters of an earlier test


@pytest.fixture(autouse=True)
def _frozen_clock():
    """Counters are per minute, day, week and month: a test must not straddle a boundary, whatever the
    day it runs. Noon on a Monday the 1st, where the day, week and month budgets start together."""
    with time_machine.travel(datetime(2027, 3, 1, 12, 0, 30, tzinfo=UTC), tick=False):
        yield


@pytest.fixture
def ok_upstream(upstream):
    return upstream.post(f"{UPSTREAM}/chat/completions").mock(
        return_value=httpx.Response(200, json=completion({"content": "ok"}, usage=USAGE))
    )


async def _post(async_client, secret):
    return await async_client.post(
        "/v1/messages", data=json.dumps(messages_body()), content_type="application/json", headers={"x-api-key": secret}
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
    assert 1 <= int(refused["retry-after"]) <= 60
    assert ok_upstream.call_count == 2
    rows = await usage_rows()
    assert [r.status for r in rows] == [200, 200, 429]


async def test_tokens_per_minute_are_limited_once_used(gateway, ok_upstream, async_client):
    _, secret = await _limited_key(gateway["key"].user, tpm_limit=150)
    assert (await _post(async_client, secret)).status_code == 200
    await usage_rows()  # the writer charges tokens as it writes: 100 used
    assert (await _post(async_client, secret)).status_code == 200
    await usage_rows()  # 200 used >= 150
    refused = await _post(async_client, secret)
    assert refused.status_code == 429 and "tokens per minute" in refused.json()["error"]["message"]
    assert refused["retry-after"]


@pytest.mark.parametrize("period", ["day", "week", "month", "total"])
async def test_an_exhausted_budget_is_429_and_not_worth_retrying(gateway, ok_upstream, async_client, period):
    _, secret = await _limited_key(gateway["key"].user, budget_tokens=150, budget_period=period)
    for _ in range(2):
        assert (await _post(async_client, secret)).status_code == 200
        await usage_rows()
    refused = await _post(async_client, secret)
    assert refused.status_code == 429
    assert refused["x-should-retry"] == "false"
    assert "budget of 150 tokens" in refused.json()["error"]["message"]


async def test_a_budget_counts_usage_already_in_the_database(gateway, ok_upstream, async_client):
    key, secret = await _limited_key(gateway["key"].user, budget_tokens=150, budget_period="month")
    await sync_to_async(UsageLog.objects.create)(
        request_id="req_old", key=key, user=key.user, input_tokens=100, output_tokens=60
    )
    refused = await _post(async_client, secret)
    assert refused.status_code == 429 and ok_upstream.call_count == 0
