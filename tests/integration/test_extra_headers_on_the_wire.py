"""A refused extra header stored anyway (a raw update, an old row) never reaches the upstream.

A real local server records the headers exactly as they arrived on the socket.
"""

import json

import pytest

from api.accounting.usage import writer
from api.providers import clients
from routing.models import Provider
from tests.factories import make_key, make_provider, make_route
from tests.fakes.openai_upstream import FakeUpstream
from tests.integration.conftest import messages_body

PROVIDER_KEY = "sk-provider-wire-key-4321"
STORED_ANYWAY = {
    "Authorization": "Bearer sk-attacker",
    "X-Api-Key": "sk-attacker",
    "Host": "evil.test",
    "Content-Length": "5",
    "Transfer-Encoding": "chunked",
    "Proxy-Authorization": "Basic abc",
    "Cookie": "session=stolen",
    "X-Fine": "kept",
}


@pytest.fixture
def fake():
    with FakeUpstream().running() as server:
        yield server


@pytest.fixture(autouse=True)
async def _close_upstream_pools():
    yield
    await clients.close_all()


@pytest.fixture(params=["openai", "anthropic"])
def wire_gateway(request, fake, transactional_db, settings):
    settings.AUTH_MODE = "keys"
    base_url = fake.base_url if request.param == "openai" else fake.base_url.removesuffix("/v1")
    provider = make_provider(kind=request.param, base_url=base_url, api_key=PROVIDER_KEY)
    Provider.objects.filter(pk=provider.pk).update(extra_headers=STORED_ANYWAY)  # skips every validation
    make_route(provider)
    _, secret = make_key()
    yield request.param, secret
    assert writer.flush(10.0)


async def test_a_stored_bad_header_never_reaches_the_upstream(wire_gateway, fake, async_client):
    kind, secret = wire_gateway
    await async_client.post(
        "/v1/messages", data=json.dumps(messages_body()), content_type="application/json", headers={"x-api-key": secret}
    )
    [received] = fake.requests
    headers = received.headers
    assert headers["host"] == fake.base_url.split("/")[2]
    assert headers["content-length"] == str(len(received.raw)) and "transfer-encoding" not in headers
    assert "proxy-authorization" not in headers and "cookie" not in headers
    assert headers["x-fine"] == "kept"
    if kind == "openai":
        assert headers["authorization"] == f"Bearer {PROVIDER_KEY}" and "x-api-key" not in headers
    else:
        assert headers["x-api-key"] == PROVIDER_KEY and "authorization" not in headers
    assert "sk-attacker" not in json.dumps(headers)
