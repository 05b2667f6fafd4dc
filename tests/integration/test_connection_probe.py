"""GET /test-connection: a minimal real call per provider, reported without credentials."""

import json

import httpx
import pytest
from asgiref.sync import sync_to_async

from routing.models import ProxyKey
from tests.factories import make_provider, make_route
from tests.integration.conftest import UPSTREAM, completion


@pytest.fixture(autouse=True)
async def _key_may_test(gateway):
    """The gateway's key may test connections (tests/integration/test_connection_access.py: who may)."""
    await ProxyKey.objects.filter(pk=gateway["key"].pk).aupdate(may_test_connection=True)


async def test_each_enabled_provider_is_probed_and_reported(gateway, upstream, async_client):
    other = await sync_to_async(make_provider)(
        name="broken", base_url="http://broken.test/v1", api_key="sk-broken-secret-9999"
    )
    await sync_to_async(make_route)(other, pattern="*haiku*", target_model="small", priority=1)
    ok = upstream.post(f"{UPSTREAM}/chat/completions").mock(
        return_value=httpx.Response(200, json=completion({"content": "pong"}))
    )
    upstream.post("http://broken.test/v1/chat/completions").mock(
        return_value=httpx.Response(401, json={"error": {"message": "Incorrect API key provided: sk-brok****9999"}})
    )
    response = await async_client.get("/test-connection", headers={"x-api-key": gateway["secret"]})
    assert response.status_code == 502
    report = {p["provider"]: p for p in response.json()["providers"]}
    assert report["openai-main"]["status"] == "ok" and report["openai-main"]["model"] == "gpt-4o"
    assert report["broken"]["status"] == "failed" and "upstream provider rejected" in report["broken"]["error"]
    assert "sk-broken-secret" not in response.content.decode() and "sk-upstream-secret" not in response.content.decode()
    assert json.loads(ok.calls.last.request.content)["max_tokens"] == 8


async def test_one_provider_can_be_named_and_auth_is_required(gateway, upstream, async_client):
    upstream.post(f"{UPSTREAM}/chat/completions").mock(
        return_value=httpx.Response(200, json=completion({"content": "pong"}))
    )
    assert (await async_client.get("/test-connection")).status_code == 401
    named = await async_client.get("/test-connection?provider=openai-main", headers={"x-api-key": gateway["secret"]})
    assert named.status_code == 200 and [p["provider"] for p in named.json()["providers"]] == ["openai-main"]
    missing = await async_client.get("/test-connection?provider=nope", headers={"x-api-key": gateway["secret"]})
    assert missing.status_code == 404


async def test_azure_gets_its_api_key_header_and_api_version(gateway, upstream, async_client):
    provider = gateway["provider"]
    provider.profile, provider.api_version = "azure", "2024-10-21"
    provider.base_url = "https://team.openai.azure.com/openai/deployments/gpt4o"
    provider.api_key = "sk-upstream-secret-1234"  # a new host needs the key entered again
    await provider.asave()
    route = upstream.post("https://team.openai.azure.com/openai/deployments/gpt4o/chat/completions").mock(
        return_value=httpx.Response(200, json=completion({"content": "hi"}))
    )
    response = await async_client.post(
        "/v1/messages",
        content_type="application/json",
        data=json.dumps(
            {"model": "claude-sonnet-4-5", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}
        ),
        headers={"x-api-key": gateway["secret"]},
    )
    assert response.status_code == 200
    sent = route.calls.last.request
    assert sent.url.params["api-version"] == "2024-10-21"
    assert sent.headers["api-key"] == "sk-upstream-secret-1234" and "authorization" not in sent.headers


async def test_a_responses_provider_is_probed_on_its_responses_endpoint(gateway, upstream, async_client):
    provider = await sync_to_async(make_provider)(
        name="responses", kind="openai-responses", base_url="https://resp.test/v1", profile="openai"
    )
    await sync_to_async(make_route)(provider, pattern="*haiku*", target_model="gpt-5", priority=1)
    chat = upstream.post("https://resp.test/v1/chat/completions").mock(return_value=httpx.Response(404))
    responses = upstream.post("https://resp.test/v1/responses").mock(
        return_value=httpx.Response(200, json={"id": "resp_1", "status": "completed", "output": []})
    )
    response = await async_client.get("/test-connection?provider=responses", headers={"x-api-key": gateway["secret"]})
    assert response.status_code == 200
    [report] = response.json()["providers"]
    assert (report["provider"], report["kind"], report["status"]) == ("responses", "openai-responses", "ok")
    assert json.loads(responses.calls.last.request.content) == {
        "model": "gpt-5",
        "input": "ping",
        "max_output_tokens": 16,
        "store": False,
    }
    assert not chat.called
