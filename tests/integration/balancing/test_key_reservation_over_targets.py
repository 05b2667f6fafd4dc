"""A key's reservation covers the most output any target of the route may give: a cap on the first
deployment's provider does not let a request walk past the budget on the second."""

from __future__ import annotations

import json

import httpx
import pytest
from asgiref.sync import sync_to_async

from routing.models import Provider
from tests.factories import make_key, make_provider
from tests.integration.conftest import UPSTREAM, completion, messages_body

SECOND = "http://second.test/v1"


@pytest.fixture
def capped_first_uncapped_second(gateway):
    """The gateway's route: first target on a provider capping output at 100, second on an uncapped one."""
    Provider.objects.filter(pk=gateway["provider"].pk).update(max_output_tokens=100)
    second = make_provider(name="second", base_url=SECOND)
    gateway["route"].targets.create(provider=second, model="gpt-4o", position=1)
    return gateway


async def test_a_budget_reservation_counts_the_uncapped_targets_max_tokens(
    capped_first_uncapped_second, upstream, async_client
):
    gateway = capped_first_uncapped_second
    for base in (UPSTREAM, SECOND):
        upstream.post(f"{base}/chat/completions").mock(
            return_value=httpx.Response(200, json=completion({"content": "ok"}))
        )
    _, secret = await sync_to_async(make_key)(gateway["key"].user, budget_tokens=500, budget_period="month")
    response = await async_client.post(
        "/v1/messages",
        data=json.dumps(messages_body(max_tokens=1000)),
        content_type="application/json",
        headers={"x-api-key": secret},
    )
    assert response.status_code == 429 and "budget" in response.json()["error"]["message"]
    assert not upstream.calls
