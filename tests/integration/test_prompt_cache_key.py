"""OpenAI's `prompt_cache_key` on the wire: one per caller key and Claude Code session, never the secrets."""

from __future__ import annotations

import json

import httpx
import pytest
from asgiref.sync import sync_to_async

from tests.factories import make_key, make_provider, make_route, make_user
from tests.integration.conftest import UPSTREAM, completion, messages_body

SESSION_A, SESSION_B = "3f0c3d1e-6a55-4b8e-9d7e-111111111111", "3f0c3d1e-6a55-4b8e-9d7e-222222222222"


def claude_code_body(session: str) -> dict:
    """Claude Code 2.x's metadata: `user_id` is a JSON object sent as a string."""
    user_id = json.dumps({"device_id": "d" * 64, "account_uuid": "", "session_id": session})
    return messages_body(metadata={"user_id": user_id})


async def bobs_secret() -> str:
    return (await sync_to_async(lambda: make_key(make_user(username="bob")))())[1]


async def cache_key_sent(async_client, route, secret: str, body: dict) -> str | None:
    response = await async_client.post(
        "/v1/messages", data=json.dumps(body), content_type="application/json", headers={"x-api-key": secret}
    )
    assert response.status_code == 200, response.content
    return json.loads(route.calls.last.request.content).get("prompt_cache_key")


@pytest.fixture
def chat_route(upstream):
    return upstream.post(f"{UPSTREAM}/chat/completions").mock(
        return_value=httpx.Response(200, json=completion({"content": "ok"}))
    )


async def test_each_key_and_session_gets_its_own_stable_cache_key(gateway, chat_route, async_client):
    other_secret = await bobs_secret()
    mine = gateway["secret"]

    first = await cache_key_sent(async_client, chat_route, mine, claude_code_body(SESSION_A))
    again = await cache_key_sent(async_client, chat_route, mine, claude_code_body(SESSION_A))
    other_session = await cache_key_sent(async_client, chat_route, mine, claude_code_body(SESSION_B))
    other_key = await cache_key_sent(async_client, chat_route, other_secret, claude_code_body(SESSION_A))

    assert first is not None and first.startswith("gw-") and len(first) == 43
    assert first == again
    assert len({first, other_session, other_key}) == 3
    for sent in (first, other_session, other_key):
        assert SESSION_A not in sent and mine[-12:] not in sent and other_secret[-12:] not in sent


async def test_a_client_cannot_choose_the_cache_key_of_another_caller(gateway, chat_route, async_client):
    mine = await cache_key_sent(async_client, chat_route, gateway["secret"], claude_code_body(SESSION_A))
    other_secret = await bobs_secret()
    forged = claude_code_body(SESSION_A) | {"prompt_cache_key": mine}

    response = await async_client.post(
        "/v1/messages", data=json.dumps(forged), content_type="application/json", headers={"x-api-key": other_secret}
    )

    assert response.status_code == 200
    assert json.loads(chat_route.calls.last.request.content)["prompt_cache_key"] != mine


async def test_the_responses_api_gets_the_key_and_a_profile_without_it_does_not(gateway, upstream, async_client):
    responses = await sync_to_async(make_provider)(
        name="responses", kind="openai-responses", base_url="https://resp.test/v1", profile="openai"
    )
    generic = await sync_to_async(make_provider)(name="local", base_url="https://local.test/v1", profile="vllm")
    await sync_to_async(make_route)(responses, pattern="*sonnet*", target_model="gpt-5", priority=1)
    await sync_to_async(make_route)(generic, pattern="*haiku*", target_model="qwen3", priority=1)
    resp_route = upstream.post("https://resp.test/v1/responses").mock(
        return_value=httpx.Response(
            200, json={"status": "completed", "output": [], "usage": {"input_tokens": 3, "output_tokens": 1}}
        )
    )
    local_route = upstream.post("https://local.test/v1/chat/completions").mock(
        return_value=httpx.Response(200, json=completion({"content": "ok"}))
    )
    body = claude_code_body(SESSION_A)

    via_responses = await cache_key_sent(
        async_client, resp_route, gateway["secret"], body | {"model": "claude-sonnet-4-5"}
    )
    via_vllm = await cache_key_sent(async_client, local_route, gateway["secret"], body | {"model": "claude-haiku-4-5"})

    assert via_responses is not None and via_responses.startswith("gw-")
    assert via_vllm is None
