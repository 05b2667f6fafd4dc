"""An upstream that quotes the provider's key back never gets it to the client, the usage log or the log.

Every shape in `tests.fakes.echo_upstream.SHAPES`, on both paths (OpenAI translated and Anthropic
pass-through), from a respx mock and from a real local server.
"""

from __future__ import annotations

import json
import logging
from urllib.parse import quote

import httpx
import pytest
import respx
from asgiref.sync import sync_to_async

from api.accounting.usage import writer
from api.providers import clients
from tests.factories import make_key, make_provider, make_route
from tests.fakes.echo_upstream import SHAPES, EchoUpstream, echo_reply, sent_key
from tests.integration.conftest import SlowStream, messages_body, usage_rows
from tests.respx_aiohttp import AiohttpTransportMocker

KEY = "AIzaSyB7qLmN0pQr+StUvWxYz-w3x8Rk5dE1"
"""A Google-style key with a `+`, which URL-encoding changes and retry headers let through."""
LEAKS = (KEY, quote(KEY, safe=""), KEY[:8], KEY[-8:])
"""The key, as an upstream may write it back, and its 8-character head and tail."""


def assert_no_leak(text: str) -> None:
    for form in LEAKS:
        assert form not in text, f"{form!r} leaked"


def _respx_echo(request: httpx.Request) -> httpx.Response:
    model = json.loads(request.content)["model"]
    echo = echo_reply(model, sent_key(request.headers), request.url.path.endswith("/v1/messages"))
    return httpx.Response(echo.status, headers=echo.headers, stream=SlowStream([(0, part) for part in echo.parts]))


@pytest.fixture(scope="module")
def echo_server():
    with EchoUpstream().running() as server:
        yield server


@pytest.fixture(params=["respx", "server"])
def echo_base_url(request):
    """Where the echoing upstream answers: a respx mock, or a real local server."""
    if request.param == "server":
        yield request.getfixturevalue("echo_server").base_url.removesuffix("/v1")
        return
    with respx.mock(using=AiohttpTransportMocker.name) as mock:
        mock.route(host="echo.test").mock(side_effect=_respx_echo)
        yield "http://echo.test"


@pytest.fixture(autouse=True)
async def _close_upstream_pools():
    """Pools to the real server belong to this test's event loop: close them with it."""
    yield
    await clients.close_all()


@pytest.fixture(params=["openai", "anthropic"])
def echo_gateway(request, echo_base_url, transactional_db, settings):
    """A provider holding KEY in front of the echoing upstream, and a client key."""
    settings.AUTH_MODE, settings.ANTHROPIC_API_KEY = "keys", ""
    base_url = echo_base_url + "/v1" if request.param == "openai" else echo_base_url
    provider = make_provider(name="echoing", kind=request.param, base_url=base_url, api_key=KEY)
    _, secret = make_key(may_test_connection=True)  # a key allowed to run /test-connection
    yield provider, secret
    assert writer.flush(10.0), "usage rows were still queued at the end of the test"


async def _post(async_client, secret: str, shape: str):
    body = messages_body(stream=shape == "stream-error")
    response = await async_client.post(
        "/v1/messages", data=json.dumps(body), content_type="application/json", headers={"x-api-key": secret}
    )
    content = b"".join([p async for p in response.streaming_content]) if response.streaming else response.content
    return response, content.decode()


@pytest.mark.parametrize("shape", SHAPES)
async def test_an_echoed_key_reaches_no_client_usage_row_or_log_line(
    echo_gateway, shape, async_client, settings, caplog
):
    provider, secret = echo_gateway
    settings.LOG_BODIES = "all"
    caplog.set_level(logging.DEBUG)
    await sync_to_async(make_route)(provider, target_model=shape)

    response, content = await _post(async_client, secret, shape)

    headers = json.dumps(dict(response.items()))
    assert "[redacted]" in (headers if shape == "header" else content)  # the echo came, and was scrubbed
    assert_no_leak(content + headers)
    if not response.streaming:
        assert response.json()["type"] == "error" and int(response["Content-Length"]) == len(response.content)
    [row] = await usage_rows()
    assert row.status >= 400 and row.error_message
    if not response.streaming and shape != "header":
        assert "[redacted]" in row.response_body  # the logged body is the scrubbed one
    assert_no_leak(row.error_message + row.request_body + row.response_body)
    assert_no_leak(caplog.text)


@pytest.mark.parametrize("shape", ["plain", "in-token", "head"])
async def test_the_connection_test_reports_an_echoed_key_redacted(echo_gateway, shape, async_client):
    provider, secret = echo_gateway
    await sync_to_async(make_route)(provider, target_model=shape)
    response = await async_client.get("/test-connection", headers={"x-api-key": secret})
    [report] = response.json()["providers"]
    assert response.status_code == 502 and report["status"] == "failed"
    assert "[redacted]" in report["error"]
    assert_no_leak(response.content.decode())
