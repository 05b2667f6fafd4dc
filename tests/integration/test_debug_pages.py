"""Under DEBUG, Django's debug pages (settings, URL patterns, stack traces with local variables) never
reach a connection that arrived from the network: it gets a 403 on every path. DEBUG binds loopback by
default (tests/test_safe_defaults.py); this holds when HOST says otherwise, or when uvicorn is run by hand."""

import pytest
from django.urls import path

from proxy_site.urls import urlpatterns as served
from tests.integration.conftest import asgi_request

NETWORK = ("192.0.2.2", 8082)  # the address a connection from the LAN was accepted on
LOOPBACK = ("127.0.0.1", 8082)


def boom(request):
    raise RuntimeError("a bug, with SECRET-LOOKING local state")


urlpatterns = [path("boom", boom), *served]


@pytest.fixture
def debug(settings, transactional_db):
    settings.DEBUG = True
    settings.ROOT_URLCONF = __name__


async def get(path: str, server: tuple[str, int] | None):
    return await asgi_request(path, method="GET", host="gateway.example", server=server)


@pytest.mark.parametrize("server", [NETWORK, None], ids=["network", "unix-socket-of-a-proxy"])
@pytest.mark.parametrize("path", ["/no-such-page", "/boom", "/v1/no-such-endpoint", "/health"])
async def test_under_debug_a_connection_from_the_network_gets_a_403_and_no_page(debug, path, server):
    reply = await get(path, server)

    assert reply.status_code == 403, reply.content[:300]
    assert reply.json()["error"]["type"] == "permission_error" and "DEBUG" in reply.json()["error"]["message"]
    assert b"<html" not in reply.content.lower() and b"SECRET-LOOKING" not in reply.content


@pytest.mark.parametrize("server", [LOOPBACK, ("::1", 8082), ("127.0.0.2", 8082)], ids=["v4", "v6", "127/8"])
async def test_under_debug_loopback_still_gets_the_debug_pages(debug, server):
    """The control: the pages the guard keeps from the network are there."""
    missing, broken = await get("/no-such-page", server), await get("/boom", server)

    assert missing.status_code == 404 and b"Django tried these URL patterns" in missing.content
    assert broken.status_code == 500 and b"SECRET-LOOKING" in broken.content


async def test_without_debug_the_network_gets_plain_pages(debug, settings):
    settings.DEBUG = False

    missing, broken = await get("/no-such-page", NETWORK), await get("/boom", NETWORK)

    assert missing.status_code == 404 and b"Django tried" not in missing.content
    assert broken.status_code == 500 and b"SECRET-LOOKING" not in broken.content
