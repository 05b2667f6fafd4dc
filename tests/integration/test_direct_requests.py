"""`PROVIDER,MODEL` asks for a deployment directly: only on a provider that allows it, only with a key whose
allowlist allows MODEL; anything else is refused before any call, in Anthropic's shape."""

import json

import httpx
import pytest
from asgiref.sync import sync_to_async

from routing.models import Provider
from tests.factories import make_key, make_provider
from tests.integration.conftest import completion, messages_body, usage_rows

OPEN_UPSTREAM = "http://open.test/v1"


@pytest.fixture
def open_provider(gateway):
    return make_provider(name="openrouter", base_url=OPEN_UPSTREAM, allow_direct=True)


@pytest.fixture
def models_called(upstream):
    called = []

    def answer(request):
        called.append((request.url.host, json.loads(request.content)["model"]))
        return httpx.Response(200, json=completion({"content": "ok"}))

    upstream.post(url__regex=r".*/chat/completions").mock(side_effect=answer)
    return called


async def _post(async_client, secret, model):
    return await async_client.post(
        "/v1/messages",
        data=json.dumps(messages_body(model=model)),
        content_type="application/json",
        headers={"x-api-key": secret},
    )


async def test_a_direct_request_reaches_the_named_provider_and_model(
    gateway, open_provider, models_called, async_client
):
    response = await _post(async_client, gateway["secret"], "openrouter,deepseek/deepseek-chat")
    assert response.status_code == 200
    assert models_called == [("open.test", "deepseek/deepseek-chat")]
    [row] = await usage_rows()
    assert (row.route_id, row.provider_id, row.upstream_model) == (None, open_provider.id, "deepseek/deepseek-chat")


async def test_a_provider_without_allow_direct_is_refused_as_unknown(gateway, models_called, async_client):
    for model in ("openai-main,gpt-4o", "nosuch,gpt-4o"):  # exists but closed, and absent: one answer
        response = await _post(async_client, gateway["secret"], model)
        assert response.status_code == 404
        error = response.json()["error"]
        assert error["type"] == "not_found_error"
        assert "takes direct requests" in error["message"] and "allow direct" in error["message"]
    assert models_called == []


async def test_a_disabled_provider_takes_no_direct_requests(gateway, open_provider, models_called, async_client):
    await Provider.objects.filter(pk=open_provider.pk).aupdate(enabled=False)
    response = await _post(async_client, gateway["secret"], "openrouter,deepseek/deepseek-chat")
    assert response.status_code == 404
    assert models_called == []


@pytest.mark.parametrize(
    ("allowed", "status"),
    [
        pytest.param("claude-*", 403, id="claude-names-only"),
        pytest.param("deepseek/*", 200, id="the-model"),
        pytest.param("claude-*, deepseek/deepseek-chat", 200, id="one-of-several"),
        pytest.param("openrouter*", 403, id="the-provider-name-is-no-model"),
    ],
)
async def test_the_keys_allowlist_must_allow_the_direct_model(
    gateway, open_provider, models_called, async_client, allowed, status
):
    _, secret = await sync_to_async(make_key)(gateway["key"].user, allowed_models=allowed)
    response = await _post(async_client, secret, "openrouter,deepseek/deepseek-chat")
    assert response.status_code == status
    if status == 403:
        assert response.json()["error"]["type"] == "permission_error"
        assert models_called == []
    rows = await usage_rows()
    assert [r.status for r in rows] == [status]


@pytest.mark.parametrize("model", ["openrouter,", ",gpt-4o", " , "])
async def test_a_direct_string_missing_a_part_is_a_bad_request(gateway, open_provider, async_client, model):
    response = await _post(async_client, gateway["secret"], model)
    assert response.status_code == 400
    assert "PROVIDER,MODEL" in response.json()["error"]["message"]


async def test_a_key_refused_the_model_learns_nothing_about_the_provider(gateway, models_called, async_client):
    _, secret = await sync_to_async(make_key)(gateway["key"].user, allowed_models="claude-*")
    for model in ("openai-main,gpt-4o", "nosuch,gpt-4o"):
        response = await _post(async_client, secret, model)
        assert (response.status_code, response.json()["error"]["message"]) == (
            403,
            f"This API key may not use model {'gpt-4o'!r}.",
        )
