"""Budget periods keyed by kind and start, with the clock frozen where periods meet: a Monday that is
the 1st (day, week and month all start together) and a time zone's midnight."""

import json
from datetime import UTC, datetime

import httpx
import pytest
import time_machine
from asgiref.sync import sync_to_async

from api.admission.counters import store
from tests.factories import make_key, make_usage
from tests.integration.conftest import UPSTREAM, completion, messages_body, usage_rows

MONDAY_THE_FIRST = datetime(2027, 3, 1, 10, 0, tzinfo=UTC)
# Each request reserves its input estimate + max_tokens 40 (under 75) and uses 50.
USAGE = {"prompt_tokens": 10, "completion_tokens": 40, "total_tokens": 50}


@pytest.fixture(autouse=True)
def ok_upstream(upstream):
    return upstream.post(f"{UPSTREAM}/chat/completions").mock(
        return_value=httpx.Response(200, json=completion({"content": "ok"}, usage=USAGE))
    )


async def _statuses(async_client, secret, n: int) -> list[int]:
    body = json.dumps(messages_body(max_tokens=40))
    headers = {"x-api-key": secret}
    post = async_client.post
    return [
        (await post("/v1/messages", data=body, content_type="application/json", headers=headers)).status_code
        for _ in range(n)
    ]


@pytest.mark.parametrize("period", ["day", "week", "month"])
async def test_on_a_monday_the_first_a_budget_is_charged_once(gateway, async_client, period):
    with time_machine.travel(MONDAY_THE_FIRST, tick=False):
        _, secret = await sync_to_async(make_key)(gateway["key"].user, budget_tokens=150, budget_period=period)
        assert await _statuses(async_client, secret, 3) == [200, 200, 429]
        rows = await usage_rows()
    assert sum(r.total_tokens for r in rows) == 100


async def test_a_month_budget_does_not_count_last_month(gateway, async_client):
    key, secret = await sync_to_async(make_key)(gateway["key"].user, budget_tokens=150, budget_period="month")
    await sync_to_async(make_usage)(
        request_id="req_february", key=key, created_at=datetime(2027, 2, 28, 23, 59, tzinfo=UTC), input_tokens=10_000
    )
    with time_machine.travel(MONDAY_THE_FIRST, tick=False):
        assert await _statuses(async_client, secret, 3) == [200, 200, 429]


async def test_a_daily_budget_resets_at_the_servers_midnight_not_utcs(gateway, async_client, settings):
    settings.TIME_ZONE = "America/New_York"  # UTC-5 in early March
    _, secret = await sync_to_async(make_key)(gateway["key"].user, budget_tokens=150, budget_period="day")
    with time_machine.travel(datetime(2027, 3, 2, 4, 59, 0, tzinfo=UTC), tick=False):  # 23:59 on the 1st
        assert await _statuses(async_client, secret, 3) == [200, 200, 429]
        await usage_rows()
        store().clear()  # as after a restart that lost the counters: the day's use is read back from the log
        assert await _statuses(async_client, secret, 1) == [429]
    with time_machine.travel(datetime(2027, 3, 2, 5, 0, 30, tzinfo=UTC), tick=False):  # 00:00:30 on the 2nd
        assert await _statuses(async_client, secret, 3) == [200, 200, 429]
        await usage_rows()
        store().clear()
        assert await _statuses(async_client, secret, 1) == [429]  # today's 100 from the log, not yesterday's
