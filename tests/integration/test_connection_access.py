"""Who may call GET /test-connection, how often, and the log line each call leaves.

Requests go through the API paths' own handler (proxy_site/handlers.py), as in production: no
session or auth middleware, so the view authenticates management API tokens itself.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import time_machine
from asgiref.sync import sync_to_async
from django.utils import timezone
from knox.models import AuthToken

from proxy_site.handlers import ApiASGIHandler
from routing.models import ProxyKey
from tests.factories import make_key, make_staff
from tests.integration.conftest import UPSTREAM, completion

MINUTE = datetime(2030, 6, 1, 12, 0, 10, tzinfo=UTC)


@pytest.fixture
async def lean(gateway, upstream):
    """A client of the lean API handler, calling from 127.0.0.2; the upstream answers every probe."""
    upstream.post(f"{UPSTREAM}/chat/completions").mock(
        return_value=httpx.Response(200, json=completion({"content": "pong"}))
    )
    transport = httpx.ASGITransport(app=ApiASGIHandler(), client=("127.0.0.2", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def staff_token(username: str, *permissions: str, days: int = 1, **overrides) -> str:
    user = await sync_to_async(make_staff)(username, *permissions, **overrides)
    _, token = await sync_to_async(AuthToken.objects.create)(user, expiry=timedelta(days=days))
    return token


async def flagged_key(gateway) -> str:
    await ProxyKey.objects.filter(pk=gateway["key"].pk).aupdate(may_test_connection=True)
    return gateway["secret"]


def assert_error(response: httpx.Response, status: int, error_type: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["type"] == "error" and body["error"]["type"] == error_type
    assert body["request_id"] == response.headers["request-id"]
    return body["error"]["message"]


async def test_a_proxy_key_flagged_may_test_connection_is_answered(gateway, lean):
    response = await lean.get("/test-connection", headers={"x-api-key": await flagged_key(gateway)})
    assert response.status_code == 200
    assert [(p["provider"], p["status"]) for p in response.json()["providers"]] == [("openai-main", "ok")]


async def test_an_unflagged_proxy_key_is_refused_with_a_403(gateway, lean):
    response = await lean.get("/test-connection", headers={"x-api-key": gateway["secret"]})
    assert "may_test_connection" in assert_error(response, 403, "permission_error")


async def test_a_revoked_flagged_key_is_a_401(gateway, lean):
    secret = await flagged_key(gateway)
    await ProxyKey.objects.filter(pk=gateway["key"].pk).aupdate(revoked_at=timezone.now())
    response = await lean.get("/test-connection", headers={"x-api-key": secret})
    assert "revoked" in assert_error(response, 401, "authentication_error")


async def test_the_shared_anthropic_api_key_may_not_test(gateway, lean, settings):
    settings.ANTHROPIC_API_KEY = "shared-client-key"
    response = await lean.get("/test-connection", headers={"x-api-key": "shared-client-key"})
    assert_error(response, 403, "permission_error")


async def test_without_credentials_it_is_a_401_even_in_open_mode(gateway, lean, settings):
    settings.AUTH_MODE = "open"
    assert_error(await lean.get("/test-connection"), 401, "authentication_error")


async def test_a_token_of_staff_holding_test_provider_is_answered(gateway, lean):
    token = await staff_token("ops", "routing.test_provider")
    response = await lean.get("/test-connection", headers={"authorization": f"Token {token}"})
    assert response.status_code == 200 and response.json()["status"] == "ok"


@pytest.mark.parametrize(
    ("permissions", "overrides"),
    [
        pytest.param((), {}, id="staff-without-the-permission"),
        pytest.param(("routing.change_proxykey", "routing.view_provider"), {}, id="staff-with-other-permissions"),
        pytest.param(("routing.test_provider",), {"is_staff": False}, id="non-staff-with-the-permission"),
    ],
)
async def test_a_token_of_anyone_else_is_a_403(gateway, lean, permissions, overrides):
    token = await staff_token("someone", *permissions, **overrides)
    response = await lean.get("/test-connection", headers={"authorization": f"Token {token}"})
    assert "routing.test_provider" in assert_error(response, 403, "permission_error")


async def test_an_expired_or_unknown_token_is_a_401(gateway, lean):
    with time_machine.travel(MINUTE, tick=False):
        token = await staff_token("ops", "routing.test_provider", days=1)
    with time_machine.travel(MINUTE + timedelta(days=1, seconds=1), tick=False):
        expired = await lean.get("/test-connection", headers={"authorization": f"Token {token}"})
    unknown = await lean.get("/test-connection", headers={"authorization": "Token sk-mgmt-" + "0" * 64})
    assert "Invalid token" in assert_error(expired, 401, "authentication_error")
    assert "Invalid token" in assert_error(unknown, 401, "authentication_error")


async def test_each_caller_gets_three_calls_a_minute_then_a_429_until_the_minute_has_passed(gateway, lean):
    secret = await flagged_key(gateway)
    _, other_secret = await sync_to_async(make_key)(gateway["key"].user, may_test_connection=True)
    with time_machine.travel(MINUTE, tick=False):
        codes = [(await lean.get("/test-connection", headers={"x-api-key": secret})).status_code for _ in range(3)]
        limited = await lean.get("/test-connection", headers={"x-api-key": secret})
        another_caller = await lean.get("/test-connection", headers={"x-api-key": other_secret})
    with time_machine.travel(MINUTE + timedelta(seconds=60), tick=False):  # the next clock minute: still 3 within 60 s
        same_minute = await lean.get("/test-connection", headers={"x-api-key": secret})
    with time_machine.travel(MINUTE + timedelta(seconds=61), tick=False):
        next_minute = await lean.get("/test-connection", headers={"x-api-key": secret})
    assert codes == [200, 200, 200]
    assert "3 connection tests a minute" in assert_error(limited, 429, "rate_limit_error")
    assert limited.headers["retry-after"] == "61"  # one-second buckets: the calls at 12:00:10 leave at 12:01:11
    assert (another_caller.status_code, same_minute.status_code, next_minute.status_code) == (200, 429, 200)


async def test_each_call_is_logged_with_who_and_from_where(gateway, lean, caplog):
    caplog.set_level(logging.INFO, logger="api")
    token = await staff_token("ops", "routing.test_provider")
    await lean.get("/test-connection?provider=openai-main", headers={"authorization": f"Token {token}"})
    await lean.get("/test-connection", headers={"x-api-key": gateway["secret"]})
    allowed, refused = (r.getMessage() for r in caplog.records if r.name == "api")
    assert allowed == (
        f"test-connection by user ops (token {token[:15]}…) from 127.0.0.2: provider='openai-main', openai-main ok"
    )
    assert refused.startswith("test-connection refused from 127.0.0.2: 403 This key may not test connections")
    assert token not in caplog.text and gateway["secret"] not in caplog.text
