"""GET /v1/models lists what the caller may ask for, in Anthropic's shape: plain-name routes that apply to
them and direct `provider,model` entries, each as the key's allowlist would let a request through."""

import pytest
from asgiref.sync import sync_to_async

from tests.factories import make_key, make_provider, make_route, make_user
from tests.integration.conftest import asgi_request


@pytest.fixture
def listed(gateway):
    """The fixture's `*` route (a glob: not listed), two plain names, one scoped to bob, a direct provider."""
    provider = gateway["provider"]
    make_route(provider, pattern="claude-sonnet-4-5", target_model="gpt-4o", priority=10)
    make_route(provider, pattern="claude-haiku-4-5", target_model="gpt-4o-mini", priority=20)
    bob = make_user(username="bob")
    make_route(provider, pattern="team-special", target_model="gpt-5", priority=30).users.add(bob)
    direct = make_provider(name="openrouter", base_url="http://open.test/v1", allow_direct=True)
    make_route(direct, pattern="*deepseek*", target_model="deepseek/deepseek-chat", priority=40)
    return {"bob": bob}


async def _list(secret, query=""):
    return await asgi_request("/v1/models", method="GET", query=query, x_api_key=secret)


async def test_it_lists_plain_names_and_direct_entries_the_caller_may_use(gateway, listed):
    reply = await _list(gateway["secret"])
    assert reply.status_code == 200
    assert reply.json() == {
        "data": [
            {"type": "model", "id": name, "display_name": name, "created_at": "1970-01-01T00:00:00Z"}
            for name in ("claude-haiku-4-5", "claude-sonnet-4-5", "openrouter,deepseek/deepseek-chat")
        ],
        "has_more": False,
        "first_id": "claude-haiku-4-5",
        "last_id": "openrouter,deepseek/deepseek-chat",
    }


async def test_a_scoped_route_is_listed_only_for_its_users(gateway, listed):
    _, secret = await sync_to_async(make_key)(listed["bob"])
    ids = [m["id"] for m in (await _list(secret)).json()["data"]]
    assert "team-special" in ids
    assert "team-special" not in [m["id"] for m in (await _list(gateway["secret"])).json()["data"]]


async def test_the_keys_allowlist_filters_the_list(gateway, listed):
    _, secret = await sync_to_async(make_key)(gateway["key"].user, allowed_models="*haiku*")
    assert [m["id"] for m in (await _list(secret)).json()["data"]] == ["claude-haiku-4-5"]


async def test_it_pages_with_limit_and_after_id(gateway, listed):
    first = (await _list(gateway["secret"], "limit=2")).json()
    assert [m["id"] for m in first["data"]] == ["claude-haiku-4-5", "claude-sonnet-4-5"] and first["has_more"]
    rest = (await _list(gateway["secret"], f"limit=2&after_id={first['last_id']}")).json()
    assert [m["id"] for m in rest["data"]] == ["openrouter,deepseek/deepseek-chat"] and not rest["has_more"]


async def test_it_needs_a_key(gateway, listed):
    reply = await _list("sk-wrong")
    assert reply.status_code == 401
    assert reply.json()["type"] == "error" and reply.json()["error"]["type"] == "authentication_error"


async def test_a_bad_limit_is_a_bad_request(gateway, listed):
    reply = await _list(gateway["secret"], "limit=0")
    assert reply.status_code == 400 and reply.json()["error"]["type"] == "invalid_request_error"
