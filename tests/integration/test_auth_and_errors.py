"""Who may call, and the error shape of every refusal: 401, 403, 404, 400 naming the path."""

import json
from datetime import timedelta

import httpx
import pytest
from django.utils import timezone

from tests.integration.conftest import UPSTREAM, completion, messages_body, usage_rows


async def _post(async_client, body, **headers):
    raw = body if isinstance(body, str | bytes) else json.dumps(body)
    return await async_client.post("/v1/messages", data=raw, content_type="application/json", headers=headers)


def _error(response, status, error_type):
    assert response.status_code == status, response.content
    body = response.json()
    assert body["type"] == "error" and body["error"]["type"] == error_type
    assert body["request_id"] == response["request-id"]
    return body["error"]["message"]


@pytest.fixture
def ok_upstream(upstream):
    return upstream.post(f"{UPSTREAM}/chat/completions").mock(
        return_value=httpx.Response(200, json=completion({"content": "ok"}))
    )


async def test_a_missing_key_is_401(gateway, ok_upstream, async_client):
    _error(await _post(async_client, messages_body()), 401, "authentication_error")
    assert not ok_upstream.called


async def test_an_unknown_key_is_401_and_the_message_never_echoes_it(gateway, ok_upstream, async_client):
    response = await _post(async_client, messages_body(), **{"x-api-key": "sk-proxy-wrong-but-long-enough-123"})
    assert "sk-proxy-wrong" not in _error(response, 401, "authentication_error")
    [row] = await usage_rows()
    assert (row.status, row.error_type, row.user_id) == (401, "authentication_error", None)


async def test_a_revoked_key_is_refused_at_once_in_the_process_that_revoked_it(gateway, ok_upstream, async_client):
    secret = gateway["secret"]
    assert (await _post(async_client, messages_body(), **{"x-api-key": secret})).status_code == 200
    key = gateway["key"]
    key.revoked_at = timezone.now()
    await key.asave()
    assert "revoked" in _error(
        await _post(async_client, messages_body(), **{"x-api-key": secret}), 401, "authentication_error"
    )


async def test_an_expired_key_is_401(gateway, ok_upstream, async_client):
    key = gateway["key"]
    key.expires_at = timezone.now() - timedelta(minutes=1)
    await key.asave()
    response = await _post(async_client, messages_body(), **{"x-api-key": gateway["secret"]})
    assert "expired" in _error(response, 401, "authentication_error")


async def test_a_bearer_token_and_the_anthropic_api_key_both_authenticate(gateway, ok_upstream, async_client, settings):
    response = await _post(async_client, messages_body(), authorization=f"Bearer {gateway['secret']}")
    assert response.status_code == 200
    settings.ANTHROPIC_API_KEY = "shared-team-key"
    assert (await _post(async_client, messages_body(), **{"x-api-key": "shared-team-key"})).status_code == 200


async def test_open_mode_needs_no_key(gateway, ok_upstream, async_client, settings):
    settings.AUTH_MODE = "open"
    assert (await _post(async_client, messages_body())).status_code == 200


async def test_a_model_outside_the_keys_allowlist_is_403(gateway, ok_upstream, async_client):
    key = gateway["key"]
    key.allowed_models = "*haiku*"
    await key.asave()
    response = await _post(async_client, messages_body(), **{"x-api-key": gateway["secret"]})
    _error(response, 403, "permission_error")
    assert not ok_upstream.called


async def test_a_model_no_route_serves_is_404(gateway, ok_upstream, async_client):
    route = gateway["route"]
    route.pattern = "*haiku*"
    await route.asave()
    response = await _post(async_client, messages_body(), **{"x-api-key": gateway["secret"]})
    assert "claude-opus-4-8" in _error(response, 404, "not_found_error")


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        pytest.param("{not json", "not valid JSON", id="invalid-json"),
        pytest.param(
            json.dumps({"model": "m", "messages": [{"role": "user", "content": "x"}]}),
            "max_tokens",
            id="missing-max-tokens",
        ),
        pytest.param(
            json.dumps(messages_body(messages=[{"role": "user", "content": [{"type": "hologram"}]}])),
            "messages.0.content.0",
            id="unknown-block-type",
        ),
        pytest.param(json.dumps(messages_body(messages=[])), "messages", id="empty-messages"),
    ],
)
async def test_bad_input_is_a_400_naming_the_problem(gateway, ok_upstream, async_client, body, needle):
    response = await _post(async_client, body, **{"x-api-key": gateway["secret"]})
    assert needle in _error(response, 400, "invalid_request_error")
    assert response["x-should-retry"] == "false"
    assert not ok_upstream.called


async def test_an_upstream_connect_failure_is_502_and_a_timeout_504(gateway, upstream, async_client):
    upstream.post(f"{UPSTREAM}/chat/completions").mock(side_effect=httpx.ConnectError("refused"))
    _error(await _post(async_client, messages_body(), **{"x-api-key": gateway["secret"]}), 502, "api_error")
    upstream.post(f"{UPSTREAM}/chat/completions").mock(side_effect=httpx.ReadTimeout("slow"))
    _error(await _post(async_client, messages_body(), **{"x-api-key": gateway["secret"]}), 504, "timeout_error")


async def test_an_upstream_503_is_529_overloaded_and_html_never_leaks(gateway, upstream, async_client):
    upstream.post(f"{UPSTREAM}/chat/completions").mock(
        return_value=httpx.Response(
            503,
            text="<html><body><h1>503 Service Unavailable</h1></body></html>",
            headers={"content-type": "text/html"},
        )
    )
    response = await _post(async_client, messages_body(), **{"x-api-key": gateway["secret"]})
    assert "<html" not in _error(response, 529, "overloaded_error")


async def test_context_length_errors_use_anthropic_wording(gateway, upstream, async_client):
    upstream.post(f"{UPSTREAM}/chat/completions").mock(
        return_value=httpx.Response(
            400,
            json={
                "error": {
                    "message": "This model's maximum context length is 128000 tokens. "
                    "However, your messages resulted in 130000 tokens.",
                    "type": "invalid_request_error",
                    "code": "context_length_exceeded",
                }
            },
        )
    )
    response = await _post(async_client, messages_body(), **{"x-api-key": gateway["secret"]})
    assert _error(response, 400, "invalid_request_error").startswith("prompt is too long")


async def test_count_tokens_is_counted_locally(gateway, ok_upstream, async_client):
    body = {
        "model": "claude-opus-4-8",
        "messages": [{"role": "user", "content": "hello there"}],
        "system": "Be brief.",
        "tools": [{"name": "Bash", "input_schema": {"type": "object"}}],
    }
    headers = {"x-api-key": gateway["secret"]}
    first = await async_client.post(
        "/v1/messages/count_tokens?beta=true", data=json.dumps(body), content_type="application/json", headers=headers
    )
    body["messages"] += [{"role": "assistant", "content": "hi"}, {"role": "user", "content": "more words here"}]
    second = await async_client.post(
        "/v1/messages/count_tokens", data=json.dumps(body), content_type="application/json", headers=headers
    )
    assert first.status_code == 200 and 0 < first.json()["input_tokens"] < second.json()["input_tokens"]
    assert not ok_upstream.called
