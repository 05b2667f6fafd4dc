"""`rebuild_usage_rollups` after an import of history: the budget counters already loaded are dropped
and reloaded from the rebuilt rollups, so the imported usage counts toward budgets at once."""

import json
from datetime import UTC, datetime

import httpx
import pytest
import time_machine
from asgiref.sync import sync_to_async
from django.core.management import call_command

from api.accounting.usage import writer
from api.admission.counters import store
from routing.models import UsageLog
from routing.periods import period_of
from tests.factories import make_key
from tests.integration.conftest import UPSTREAM, completion, messages_body

NOW = datetime(2027, 3, 10, 10, 0, tzinfo=UTC)
USAGE = {"prompt_tokens": 10, "completion_tokens": 40, "total_tokens": 50}


@pytest.fixture(autouse=True)
def ok_upstream(upstream):
    return upstream.post(f"{UPSTREAM}/chat/completions").mock(
        return_value=httpx.Response(200, json=completion({"content": "ok"}, usage=USAGE))
    )


async def status_of(async_client, secret) -> int:
    body = json.dumps(messages_body(max_tokens=40))
    response = await async_client.post(
        "/v1/messages", data=body, content_type="application/json", headers={"x-api-key": secret}
    )
    return response.status_code


def import_history(key) -> None:
    """Rows written straight into the log (as an import would), without their rollups."""
    UsageLog.objects.bulk_create(
        UsageLog(request_id=f"req_import{n}", key=key, user=key.user, created_at=NOW.replace(day=1), input_tokens=500)
        for n in range(2)
    )


async def test_imported_history_counts_toward_a_budget_once_the_rollups_are_rebuilt(gateway, async_client):
    key, secret = await sync_to_async(make_key)(gateway["key"].user, budget_tokens=400, budget_period="month")
    with time_machine.travel(NOW, tick=False):
        counter = f"budget:key:{key.id}:{period_of('month').label}"
        assert await status_of(async_client, secret) == 200
        assert store().peek(counter, NOW.timestamp()) == 50, "the counter is loaded and holds the first request"

        assert await sync_to_async(writer.flush)(10.0)  # the first request's row is in the log
        await sync_to_async(import_history)(key)
        await sync_to_async(call_command)("rebuild_usage_rollups")
        assert store().peek(counter, NOW.timestamp()) is None

        assert await status_of(async_client, secret) == 429
        assert store().peek(counter, NOW.timestamp()) == 1050
