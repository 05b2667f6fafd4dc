"""USD budgets per period with the clock frozen where periods meet: a Monday that is the 1st (day, week
and month start together) and a time zone's midnight, also once the counters reload from the log."""

import json
from datetime import UTC, date, datetime
from decimal import Decimal

import httpx
import pytest
import time_machine
from asgiref.sync import sync_to_async
from django.contrib.auth.models import Group

from api.admission.counters import store
from routing.models import Price, TeamBudget, UserBudget
from tests.integration.conftest import UPSTREAM, completion, messages_body, usage_rows

MONDAY_THE_FIRST = datetime(2027, 3, 1, 10, 0, tzinfo=UTC)
USAGE = {"prompt_tokens": 6000, "completion_tokens": 3, "total_tokens": 6003}  # $1.203 each

LONG_AGO = date(2020, 1, 1)  # the price is in force whatever day the test runs (or fakes)


@pytest.fixture(autouse=True)
def priced_upstream(gateway, upstream):
    Price.objects.create(
        provider=gateway["provider"], model="gpt-4o", input="200", output="1000", effective_from=LONG_AGO
    )
    upstream.post(f"{UPSTREAM}/chat/completions").mock(
        return_value=httpx.Response(200, json=completion({"content": "ok"}, usage=USAGE))
    )


async def _statuses(async_client, secret: str, n: int) -> list[int]:
    body = json.dumps(messages_body(max_tokens=40))
    post = async_client.post
    return [
        (
            await post("/v1/messages", data=body, content_type="application/json", headers={"x-api-key": secret})
        ).status_code
        for _ in range(n)
    ]


@pytest.mark.parametrize("period", ["day", "week", "month"])
async def test_on_a_monday_the_first_a_user_budget_is_charged_once(gateway, async_client, period):
    await sync_to_async(UserBudget.objects.create)(user=gateway["key"].user, usd=Decimal("2.00"), period=period)
    with time_machine.travel(MONDAY_THE_FIRST, tick=False):
        assert await _statuses(async_client, gateway["secret"], 3) == [200, 200, 429]
        rows = await usage_rows()
    assert sum(r.cost_usd for r in rows) == Decimal("2.406")


async def test_a_daily_team_budget_resets_at_the_servers_midnight_not_utcs(gateway, async_client, settings):
    settings.TIME_ZONE = "America/New_York"  # UTC-5 in early March
    team = await sync_to_async(Group.objects.create)(name="team-blue")
    await sync_to_async(gateway["key"].user.groups.add)(team)
    await sync_to_async(TeamBudget.objects.create)(group=team, usd=Decimal("1.00"), period="day")
    secret = gateway["secret"]
    with time_machine.travel(datetime(2027, 3, 2, 4, 59, 0, tzinfo=UTC), tick=False):  # 23:59 on the 1st
        assert await _statuses(async_client, secret, 2) == [200, 429]
        await usage_rows()
        store().clear()  # the day's spend is read back from the log
        assert await _statuses(async_client, secret, 1) == [429]
    with time_machine.travel(datetime(2027, 3, 2, 5, 0, 30, tzinfo=UTC), tick=False):  # 00:00:30 on the 2nd
        assert await _statuses(async_client, secret, 2) == [200, 429]
        await usage_rows()
        store().clear()
        assert await _statuses(async_client, secret, 1) == [429]  # today's $1.203 from the log, not yesterday's
