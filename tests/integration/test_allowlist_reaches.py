"""A key's allowlist holds for what the request reaches: its route, its upstream model and its fallbacks."""

import json

import httpx
import pytest
from asgiref.sync import sync_to_async

from routing.models import RouteFallback
from tests.factories import make_key, make_route
from tests.integration.conftest import UPSTREAM, completion, messages_body, usage_rows


@pytest.fixture
def routes(gateway):
    """`*opus*` -> gpt-expensive before `*haiku*` -> gpt-cheap, and the fixture's catch-all last."""
    provider = gateway["provider"]
    gateway["route"].priority = 1000
    gateway["route"].save()
    opus = make_route(provider, pattern="*opus*", target_model="gpt-expensive", priority=10)
    haiku = make_route(provider, pattern="*haiku*", target_model="gpt-cheap", priority=20)
    return {"opus": opus, "haiku": haiku}


@pytest.fixture
def models_called(upstream):
    called = []

    def answer(request):
        called.append(json.loads(request.content)["model"])
        return httpx.Response(200, json=completion({"content": "ok"}))

    upstream.post(f"{UPSTREAM}/chat/completions").mock(side_effect=answer)
    return called


async def _post(async_client, secret, model):
    body = json.dumps(messages_body(model=model))
    return await async_client.post(
        "/v1/messages", data=body, content_type="application/json", headers={"x-api-key": secret}
    )


async def test_a_disguised_model_name_does_not_reach_a_route_the_key_may_not_use(
    gateway, routes, models_called, async_client
):
    _, secret = await sync_to_async(make_key)(gateway["key"].user, allowed_models="*haiku*")
    refused = await _post(async_client, secret, "claude-opus-4-haiku")
    assert refused.status_code == 403
    assert (
        refused.json()["error"]["type"] == "permission_error" and "gpt-expensive" in refused.json()["error"]["message"]
    )
    assert (await _post(async_client, secret, "claude-haiku-4-5")).status_code == 200
    assert models_called == ["gpt-cheap"]
    assert [(r.requested_model, r.status) for r in await usage_rows()] == [
        ("claude-opus-4-haiku", 403),
        ("claude-haiku-4-5", 200),
    ]


async def test_a_key_allowed_an_upstream_model_may_reach_it_under_a_name_it_may_use(
    gateway, routes, models_called, async_client
):
    _, secret = await sync_to_async(make_key)(gateway["key"].user, allowed_models="*haiku*, gpt-expensive")
    assert (await _post(async_client, secret, "claude-opus-4-haiku")).status_code == 200
    assert (await _post(async_client, secret, "claude-opus-4-8")).status_code == 403  # the name is not allowed
    assert models_called == ["gpt-expensive"]


async def test_a_pattern_that_names_no_route_filters_names_only(gateway, routes, models_called, async_client):
    """`claude-*` names no route (none has it as pattern or upstream model): every Claude name may pass."""
    _, secret = await sync_to_async(make_key)(gateway["key"].user, allowed_models="claude-*")
    assert (await _post(async_client, secret, "claude-opus-4-8")).status_code == 200
    assert (await _post(async_client, secret, "claude-haiku-4-5")).status_code == 200
    assert (await _post(async_client, secret, "gpt-4o")).status_code == 403
    assert models_called == ["gpt-expensive", "gpt-cheap"]


async def test_a_fallback_the_key_may_not_use_is_skipped(gateway, routes, upstream, async_client):
    await sync_to_async(RouteFallback.objects.create)(route=routes["haiku"], fallback=routes["opus"])
    called = []

    def overloaded(request):
        called.append(json.loads(request.content)["model"])
        return httpx.Response(503, json={"error": {"message": "busy", "type": "server_error"}})

    upstream.post(f"{UPSTREAM}/chat/completions").mock(side_effect=overloaded)
    _, allowed_haiku = await sync_to_async(make_key)(gateway["key"].user, allowed_models="*haiku*")
    _, allowed_all = await sync_to_async(make_key)(gateway["key"].user)
    assert (await _post(async_client, allowed_haiku, "claude-haiku-4-5")).status_code == 529
    assert called == ["gpt-cheap"]
    assert (await _post(async_client, allowed_all, "claude-haiku-4-5")).status_code == 529
    assert called == ["gpt-cheap", "gpt-cheap", "gpt-expensive"]  # the same fallback, for a key that may


async def test_a_key_allowed_one_upstream_model_does_not_reach_a_route_whose_other_target_serves_another(
    gateway, routes, models_called, async_client
):
    """Balancing may send a request to any target: a pattern on upstream models must hold for all of them."""
    mixed = await sync_to_async(make_route)(gateway["provider"], pattern="*sonnet*", target_model="gpt-5", priority=5)
    await sync_to_async(mixed.targets.create)(provider=gateway["provider"], model="o3-pro", weight=1000)
    same = await sync_to_async(make_route)(
        gateway["provider"], pattern="*mini*", target_model="gpt-5-mini", priority=6, strategy="ordered"
    )
    await sync_to_async(same.targets.create)(provider=gateway["provider"], model="gpt-5", position=1)
    _, secret = await sync_to_async(make_key)(gateway["key"].user, allowed_models="gpt-5*")

    assert (await _post(async_client, secret, "gpt-5-sonnet")).status_code == 403
    assert (await _post(async_client, secret, "gpt-5-mini")).status_code == 200
    assert models_called == ["gpt-5-mini"]
