"""The pass-through path balances and fails over like the OpenAI path: a 529 from one Anthropic-compatible
deployment is answered by the other before the client sees a byte."""

from __future__ import annotations

import json

import httpx
import pytest

from api.accounting.usage import writer
from routing.models import RouteTarget
from tests.factories import make_key, make_provider, make_route
from tests.integration.conftest import messages_body, usage_rows

EAST, WEST = "http://east.anthropic.test", "http://west.anthropic.test"
MESSAGE = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-5",
    "content": [{"type": "text", "text": "hi"}],
    "stop_reason": "end_turn",
    "usage": {"input_tokens": 5, "output_tokens": 2},
}


@pytest.fixture
def two_deployments(transactional_db, settings):
    settings.AUTH_MODE = "keys"
    east = make_provider(name="east", kind="anthropic", base_url=EAST, api_key="sk-ant-east")
    west = make_provider(name="west", kind="anthropic", base_url=WEST, api_key="sk-ant-west")
    route = make_route(east, pattern="claude-*", target_model="claude-sonnet-4-5", strategy="ordered")
    route.targets.create(provider=west, model="claude-sonnet-4-5-west", position=1)
    _, secret = make_key()
    yield secret
    assert writer.flush(10.0)


async def test_a_529_from_one_deployment_is_answered_by_the_other(two_deployments, upstream, async_client):
    east = upstream.post(f"{EAST}/v1/messages").mock(
        return_value=httpx.Response(529, json={"type": "error", "error": {"type": "overloaded_error", "message": "x"}})
    )
    west = upstream.post(f"{WEST}/v1/messages").mock(return_value=httpx.Response(200, json=MESSAGE))
    response = await async_client.post(
        "/v1/messages",
        data=json.dumps(messages_body(model="claude-sonnet-4-5")),
        content_type="application/json",
        headers={"x-api-key": two_deployments},
    )
    assert response.status_code == 200 and response.json()["content"][0]["text"] == "hi"
    assert east.call_count == 1 and west.call_count == 1
    assert json.loads(west.calls[0].request.content)["model"] == "claude-sonnet-4-5-west"
    assert west.calls[0].request.headers["x-api-key"] == "sk-ant-west"
    [row] = await usage_rows()
    served_by = await RouteTarget.objects.select_related("provider").aget(id=row.target_id)
    assert (row.status, row.attempts, served_by.provider.name, row.provider_name) == (200, 2, "west", "west")
