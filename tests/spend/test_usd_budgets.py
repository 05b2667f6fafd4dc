"""Budgets in USD for a key, a user (all their keys) and a team (all its members): the request after the
one that crossed the budget is refused with a 429 naming the budget and when it resets, on every key that
counts toward it, and still after the shared counters are lost (they reload from the usage log)."""

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
from tests.factories import make_key, make_user
from tests.integration.conftest import UPSTREAM, completion, messages_body, usage_rows

# The upstream reports far more input than the gateway estimated: one request costs $1.203 at these prices.
USAGE = {"prompt_tokens": 6000, "completion_tokens": 3, "total_tokens": 6003}
WHEN = datetime(2027, 3, 10, 12, tzinfo=UTC)

LONG_AGO = date(2020, 1, 1)  # the price is in force whatever day the test runs (or fakes)


@pytest.fixture(autouse=True)
def priced_upstream(gateway, upstream):
    Price.objects.create(
        provider=gateway["provider"], model="gpt-4o", input="200", output="1000", effective_from=LONG_AGO
    )
    return upstream.post(f"{UPSTREAM}/chat/completions").mock(
        return_value=httpx.Response(200, json=completion({"content": "ok"}, usage=USAGE))
    )


async def _post(async_client, secret: str):
    body = json.dumps(messages_body(max_tokens=40))
    return await async_client.post(
        "/v1/messages", data=body, content_type="application/json", headers={"x-api-key": secret}
    )


def _refusal(response) -> str:
    assert response.status_code == 429 and response["x-should-retry"] == "false"
    body = response.json()
    assert body["type"] == "error" and body["error"]["type"] == "rate_limit_error"
    return body["error"]["message"]


@time_machine.travel(WHEN, tick=False)
async def test_a_user_budget_refuses_the_request_after_the_one_that_crossed_it(gateway, async_client, priced_upstream):
    user = gateway["key"].user
    await sync_to_async(UserBudget.objects.create)(user=user, usd=Decimal("1.00"), period="month")
    _, second_key = await sync_to_async(make_key)(user)

    assert (await _post(async_client, gateway["secret"])).status_code == 200
    message = _refusal(await _post(async_client, second_key))
    assert message == ("Your user has used its budget of $1.00 per month. It resets at 2027-04-01T00:00:00+00:00.")
    rows = await usage_rows()
    assert [(r.status, r.cost_usd) for r in rows] == [(200, Decimal("1.203000")), (429, Decimal(0))]
    assert priced_upstream.call_count == 1


@time_machine.travel(WHEN, tick=False)
async def test_a_team_budget_holds_across_two_members(gateway, async_client, priced_upstream):
    team = await sync_to_async(Group.objects.create)(name="team-red")
    await sync_to_async(TeamBudget.objects.create)(group=team, usd=Decimal("2.00"), period="week")
    alice = gateway["key"].user
    bob = await sync_to_async(make_user)(username="bob")
    carol = await sync_to_async(make_user)(username="carol")  # not in the team: not limited by it
    for member in (alice, bob):
        await sync_to_async(member.groups.add)(team)
    bob_key = (await sync_to_async(make_key)(bob))[1]
    carol_key = (await sync_to_async(make_key)(carol))[1]

    assert (await _post(async_client, gateway["secret"])).status_code == 200  # $1.203
    assert (await _post(async_client, bob_key)).status_code == 200  # $2.406: crossed
    message = _refusal(await _post(async_client, gateway["secret"]))
    assert message.startswith("Your team 'team-red' has used its budget of $2.00 per week.")
    assert "2027-03-15T00:00:00+00:00" in message  # the next Monday
    assert (await _post(async_client, carol_key)).status_code == 200

    await usage_rows()
    store().clear()  # a restart that lost the counters: the team's spend is read back from the usage log
    _refusal(await _post(async_client, bob_key))
    assert priced_upstream.call_count == 3


@time_machine.travel(WHEN, tick=False)
async def test_a_key_budget_in_usd_names_the_key(gateway, async_client):
    _, secret = await sync_to_async(make_key)(gateway["key"].user, budget_usd=Decimal("0.50"), budget_period="day")
    assert (await _post(async_client, secret)).status_code == 200
    assert _refusal(await _post(async_client, secret)).startswith("This API key has used its budget of $0.50 per day.")


@time_machine.travel(WHEN, tick=False)
async def test_a_request_that_cannot_fit_what_is_left_is_refused_before_the_upstream(
    gateway, async_client, priced_upstream
):
    _, secret = await sync_to_async(make_key)(gateway["key"].user, budget_usd=Decimal("0.01"), budget_period="total")
    message = _refusal(await _post(async_client, secret))
    assert "has $0.01 left of its budget of $0.01 in total" in message and "lower max_tokens" in message
    assert priced_upstream.call_count == 0


async def test_a_usd_budget_refuses_a_model_without_a_price(gateway, async_client, priced_upstream):
    await sync_to_async(Price.objects.all().delete)()
    await sync_to_async(UserBudget.objects.create)(user=gateway["key"].user, usd=Decimal("5"), period="month")
    response = await _post(async_client, gateway["secret"])
    assert response.status_code == 403 and "has no price" in response.json()["error"]["message"]
    assert priced_upstream.call_count == 0
