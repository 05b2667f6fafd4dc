"""Budget alerts: each alert_at threshold of a user's or team's budget alerts once per period, to a
local webhook receiver and by email, also when another worker sees the same crossing; a failing webhook
is retried off the request path and never touches a request."""

import json
from datetime import UTC, date, datetime
from decimal import Decimal

import httpx
import pytest
import time_machine
from asgiref.sync import sync_to_async

from api.accounting import alerts as alerts_module
from api.accounting.alerts import AlertQueue, alerts
from routing.models import BudgetAlert, Price, UserBudget
from routing.snapshot import keys
from tests.fakes.webhook_receiver import webhook_receiver
from tests.integration.conftest import UPSTREAM, completion, messages_body, usage_rows

USAGE = {"prompt_tokens": 6000, "completion_tokens": 3, "total_tokens": 6003}  # $1.203 each
MARCH = datetime(2027, 3, 10, 12, tzinfo=UTC)

LONG_AGO = date(2020, 1, 1)  # the price is in force whatever day the test runs (or fakes)


@pytest.fixture(autouse=True)
def priced_upstream(gateway, upstream, settings, monkeypatch):
    settings.ALERT_RETRIES = 3
    monkeypatch.setattr(alerts_module, "RETRY_PAUSE", 0.01)
    Price.objects.create(
        provider=gateway["provider"], model="gpt-4o", input="200", output="1000", effective_from=LONG_AGO
    )
    user = gateway["key"].user
    user.email = "alice@example.com"
    user.save()
    UserBudget.objects.create(user=user, usd=Decimal("5.00"), period="month", alert_at=[0.2, 0.4])
    return upstream.post(f"{UPSTREAM}/chat/completions").mock(
        return_value=httpx.Response(200, json=completion({"content": "ok"}, usage=USAGE))
    )


async def _statuses(async_client, secret: str, n: int) -> list[int]:
    body = json.dumps(messages_body(max_tokens=40))
    statuses = []
    for _ in range(n):
        response = await async_client.post(
            "/v1/messages", data=body, content_type="application/json", headers={"x-api-key": secret}
        )
        statuses.append(response.status_code)
        assert await sync_to_async(alerts.flush)()
    return statuses


async def test_each_threshold_alerts_once_per_period(gateway, async_client, settings, mailoutbox):
    settings.EMAIL_HOST = "smtp.test"
    with webhook_receiver() as receiver:
        settings.ALERT_WEBHOOK_URL = receiver.url
        with time_machine.travel(MARCH, tick=False):
            assert await _statuses(async_client, gateway["secret"], 3) == [200, 200, 200]  # 24%, 48%, 72%
        assert [(a["threshold"], a["used"], a["limit"]) for a in receiver.received] == [
            (0.2, "1.203000", "5.000000"),
            (0.4, "2.406000", "5.000000"),
        ]
        first = receiver.received[0]
        assert first["scope"] == "user" and first["owner"] == "alice" and first["unit"] == "usd"
        assert first["text"].startswith("Budget alert: user 'alice' has used $1.20 of its budget of $5.00 per month")
        assert [m.to for m in mailoutbox] == [["alice@example.com"], ["alice@example.com"]]

        with time_machine.travel(datetime(2027, 4, 1, 0, 5, tzinfo=UTC), tick=False):  # a new month
            assert await _statuses(async_client, gateway["secret"], 1) == [200]
        assert [a["threshold"] for a in receiver.received] == [0.2, 0.4, 0.2]
        assert receiver.received[-1]["period_start"] == "2027-04-01T00:00:00+00:00"
    delivered = await sync_to_async(list)(BudgetAlert.objects.values_list("period", "threshold", "delivered_at"))
    assert len(delivered) == 3 and all(when is not None for _, _, when in delivered)


async def test_another_worker_seeing_the_same_crossing_sends_nothing(gateway, async_client, settings):
    with webhook_receiver() as receiver:
        settings.ALERT_WEBHOOK_URL = receiver.url
        with time_machine.travel(MARCH, tick=False):
            assert await _statuses(async_client, gateway["secret"], 1) == [200]
            budgets = (await keys.get(gateway["key"].secret_hash)).budgets
            other_worker = AlertQueue()
            other_worker.after_request(budgets)
            assert await sync_to_async(other_worker.flush)()
        assert [a["threshold"] for a in receiver.received] == [0.2]


async def test_a_failing_webhook_is_retried_and_never_touches_a_request(gateway, async_client, settings):
    with webhook_receiver(status=500) as receiver:
        settings.ALERT_WEBHOOK_URL = receiver.url
        with time_machine.travel(MARCH, tick=False):
            assert await _statuses(async_client, gateway["secret"], 3) == [200, 200, 200]
        assert [a["threshold"] for a in receiver.received] == [0.2, 0.2, 0.2, 0.4, 0.4, 0.4]  # 3 tries each
    rows = await usage_rows()
    assert [r.status for r in rows] == [200, 200, 200]
    undelivered = await sync_to_async(list)(BudgetAlert.objects.values_list("threshold", "delivered_at"))
    assert sorted(undelivered) == [(Decimal("0.2"), None), (Decimal("0.4"), None)]


async def test_an_unreachable_webhook_never_touches_a_request(gateway, async_client, settings):
    with webhook_receiver() as receiver:
        unreachable = receiver.url
    settings.ALERT_WEBHOOK_URL = unreachable  # its server is gone: connections are refused
    with time_machine.travel(MARCH, tick=False):
        assert await _statuses(async_client, gateway["secret"], 2) == [200, 200]
    assert await sync_to_async(BudgetAlert.objects.count)() == 2
