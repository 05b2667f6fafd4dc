"""A bug of ours inside a view: the client still gets an Anthropic-shaped 500, and the request its usage row."""

import json

import pytest

from tests.integration.conftest import messages_body, usage_rows


def _boom(*args, **kwargs):
    raise RuntimeError("a bug in the gateway")


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_an_unexpected_exception_is_a_500_api_error_with_one_usage_row(
    gateway, async_client, monkeypatch, stream
):
    monkeypatch.setattr("api.forward.relay.translate_request", _boom)

    response = await async_client.post(
        "/v1/messages",
        data=json.dumps(messages_body(stream=stream)),
        content_type="application/json",
        headers={"x-api-key": gateway["secret"]},
    )

    body = response.json()
    assert response.status_code == 500 and response["content-type"] == "application/json"
    assert body == {
        "type": "error",
        "error": {"type": "api_error", "message": "Internal error in the gateway."},
        "request_id": response["request-id"],
    }
    [row] = await usage_rows()
    assert (row.request_id, row.status, row.error_type, row.stream) == (body["request_id"], 500, "api_error", stream)


async def test_an_unexpected_exception_in_count_tokens_leaves_its_usage_row_too(gateway, async_client, monkeypatch):
    monkeypatch.setattr("api.views.count_locally", _boom)

    response = await async_client.post(
        "/v1/messages/count_tokens",
        data=json.dumps(messages_body()),
        content_type="application/json",
        headers={"x-api-key": gateway["secret"]},
    )

    assert response.status_code == 500 and response.json()["error"]["type"] == "api_error"
    [row] = await usage_rows()
    assert (row.endpoint, row.status, row.error_type) == ("count_tokens", 500, "api_error")
