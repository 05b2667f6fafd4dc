"""The price in force: the admin's latest from a date on, each empty field from the bundled catalogue
(read offline), and nothing at all for a model neither knows."""

import json
import socket
from datetime import UTC, date, datetime
from decimal import Decimal

import httpx
import time_machine
from asgiref.sync import sync_to_async

from routing.catalogue import catalogue_rates
from routing.models import Price
from routing.prices import Rates, load_price_table
from tests.factories import make_provider
from tests.integration.conftest import UPSTREAM, completion, messages_body, usage_rows

OPENAI = "https://api.openai.com/v1"
JUNE_1 = datetime(2027, 6, 1, 12, tzinfo=UTC)


def test_the_catalogue_prices_a_known_model_without_the_network(monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("the price catalogue tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    rates = catalogue_rates(OPENAI, "gpt-4o", JUNE_1)
    assert rates == {
        "input": Decimal("2.5"),
        "output": Decimal("10"),
        "cache_read": Decimal("1.25"),
        "cache_write": Decimal("0"),
    }


def test_a_provider_the_catalogue_does_not_know_gets_no_catalogue_price():
    assert catalogue_rates("http://127.0.0.1:11434/v1", "gpt-4o", JUNE_1) is None


def test_fields_the_admin_left_empty_come_from_the_catalogue(db):
    provider = make_provider(name="openai", base_url=OPENAI)
    Price.objects.create(provider=provider, model="gpt-4o", output="12", effective_from=date(2027, 1, 1))
    rates = load_price_table().rates(provider.id, "gpt-4o", JUNE_1)
    assert rates == Rates(Decimal("2.5"), Decimal("12"), Decimal("1.25"), Decimal("0"))


def test_a_model_neither_the_admin_nor_the_catalogue_prices_is_unpriced(db):
    provider = make_provider(base_url="http://10.0.0.5/v1")
    table = load_price_table()
    assert table.rates(provider.id, "my-llama", JUNE_1) is None and not table.is_priced(provider.id, "my-llama")


def test_a_price_applies_from_its_date_in_the_servers_time_zone(db, settings):
    settings.TIME_ZONE = "Asia/Tokyo"
    provider = make_provider(base_url="http://10.0.0.5/v1")
    Price.objects.create(provider=provider, model="m", input="1", output="1", effective_from=date(2027, 6, 1))
    Price.objects.create(provider=provider, model="m", input="2", output="2", effective_from=date(2027, 6, 2))
    table = load_price_table()
    # 15:30 UTC on June 1st is 00:30 on June 2nd in Tokyo: the new price.
    assert table.rates(provider.id, "m", datetime(2027, 6, 1, 15, 30, tzinfo=UTC)).input == Decimal(2)
    assert table.rates(provider.id, "m", datetime(2027, 6, 1, 14, 59, tzinfo=UTC)).input == Decimal(1)
    assert table.rates(provider.id, "m", datetime(2027, 5, 31, 12, tzinfo=UTC)) is None


async def test_a_price_change_leaves_the_cost_of_older_rows(gateway, upstream, async_client):
    provider = gateway["provider"]
    await sync_to_async(Price.objects.create)(
        provider=provider, model="gpt-4o", input="1", output="10", effective_from=date(2027, 6, 1)
    )
    upstream.post(f"{UPSTREAM}/chat/completions").mock(
        return_value=httpx.Response(200, json=completion({"content": "ok"}))  # 11 in, 3 out
    )
    body = json.dumps(messages_body())
    headers = {"x-api-key": gateway["secret"]}
    with time_machine.travel(JUNE_1, tick=False):
        await async_client.post("/v1/messages", data=body, content_type="application/json", headers=headers)
        await sync_to_async(Price.objects.create)(
            provider=provider, model="gpt-4o", input="100", output="1000", effective_from=date(2027, 6, 2)
        )
    with time_machine.travel(datetime(2027, 6, 2, 12, tzinfo=UTC), tick=False):
        await async_client.post("/v1/messages", data=body, content_type="application/json", headers=headers)
    first, second = await usage_rows()
    assert first.cost_usd == Decimal("0.000041")  # 11 x $1 + 3 x $10 per million
    assert second.cost_usd == Decimal("0.004100")
