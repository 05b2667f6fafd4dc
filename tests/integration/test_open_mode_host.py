"""AUTH_MODE=open answers only requests that name this machine: a web page on evil.example whose name
resolves to 127.0.0.1 (DNS rebinding) reaches the gateway with `Host: evil.example`, and gets a 403
before any upstream call. Keys are not ambient credentials, so a request carrying one is served anyway."""

import json

import httpx
import pytest

from tests.integration.conftest import UPSTREAM, asgi_request, completion, messages_body, usage_rows


@pytest.fixture
def open_mode(gateway, settings):
    settings.AUTH_MODE = "open"
    settings.ALLOWED_HOSTS = settings.LOOPBACK_HOSTS  # open mode's default (tests/test_safe_defaults.py)
    return gateway


@pytest.fixture
def ok_upstream(upstream):
    return upstream.post(f"{UPSTREAM}/chat/completions").mock(
        return_value=httpx.Response(200, json=completion({"content": "ok"}))
    )


async def post(host: str, **headers: str):
    return await asgi_request("/v1/messages", json.dumps(messages_body()).encode(), host=host, **headers)


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8082", "127.0.0.1.evil.example", "192.0.2.2:8082"])
async def test_a_host_that_is_not_this_machine_gets_a_403_and_no_answer(open_mode, ok_upstream, host):
    response = await post(host)

    assert response.status_code == 403, response.content
    body = response.json()
    assert body["error"]["type"] == "permission_error" and body["request_id"] == response["request-id"]
    assert not ok_upstream.called
    [row] = await usage_rows()
    assert (row.status, row.error_type) == (403, "permission_error")


@pytest.mark.parametrize("host", ["127.0.0.1:8082", "localhost:8082", "[::1]:8082", "localhost"])
async def test_loopback_names_are_served(open_mode, ok_upstream, host):
    assert (await post(host)).status_code == 200


async def test_a_request_with_a_key_is_served_whatever_its_host(open_mode, ok_upstream):
    assert (await post("evil.example", x_api_key=open_mode["secret"])).status_code == 200


async def test_an_operator_may_allow_other_names(open_mode, ok_upstream, settings):
    settings.ALLOWED_HOSTS = ["gateway.lan"]

    assert (await post("gateway.lan:8082")).status_code == 200
    assert (await post("127.0.0.1:8082")).status_code == 403


async def test_open_mode_does_not_open_the_connection_probe_to_a_rebound_page(open_mode, ok_upstream):
    """/test-connection is for operators with a token or a flagged key, whatever AUTH_MODE says."""
    response = await asgi_request("/test-connection", host="evil.example")

    assert response.status_code == 401 and response.json()["error"]["type"] == "authentication_error"
    assert not ok_upstream.called
