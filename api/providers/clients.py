"""One pooled `Upstream` per provider: made lazily, rebuilt when the row changes, closed at shutdown."""

from __future__ import annotations

import asyncio
import functools

import httpx
from django.conf import settings

from api.providers.transport import AiohttpTransport
from routing.resolve import ProviderInfo


class Upstream:
    """A provider's connection pool: httpx requests in, httpx responses out, over `AiohttpTransport`.

    Deliberately not an `httpx.AsyncClient`: its per-request work (merging default headers, the
    cookie jar, auth and redirect flows, event hooks) cost ~115 us of CPU per request (`python -m
    bench.client_cost`), and a gateway wants none of it: upstream cookies must not be kept and
    replayed for other users, redirects are not followed. Errors are httpx's, as from a client;
    timeouts are the provider's.
    """

    def __init__(self, provider: ProviderInfo) -> None:
        self._transport = AiohttpTransport(
            max_connections=2000, keepalive_expiry=60, ca_bundle=settings.UPSTREAM_CA_BUNDLE
        )
        read = provider.read_timeout
        self._timeout = {"connect": provider.connect_timeout, "read": read, "write": read, "pool": read}

    def request(self, method: str, url: str, *, headers: dict[str, str], content: bytes | None = None) -> httpx.Request:
        extensions = {"timeout": self._timeout}
        return httpx.Request(method, _parsed(url), headers=headers, content=content, extensions=extensions)

    async def send(self, request: httpx.Request) -> httpx.Response:
        """The response with its body unread: stream it or `aread()` it, then `aclose()` it."""
        response = await self._transport.handle_async_request(request)
        response.request = request
        return response

    async def aclose(self) -> None:
        await self._transport.aclose()


@functools.lru_cache(maxsize=256)
def _parsed(url: str) -> httpx.URL:
    return httpx.URL(url)  # parsing is a third of building a request: keep the few URLs providers use


_upstreams: dict[int, tuple[str, asyncio.AbstractEventLoop, Upstream]] = {}
_retired: list[Upstream] = []


def client_for(provider: ProviderInfo) -> Upstream:
    loop = asyncio.get_running_loop()
    entry = _upstreams.get(provider.id)
    if entry and entry[0] == provider.version and entry[1] is loop:
        return entry[2]
    if entry and entry[1] is loop:
        _retired.append(entry[2])  # in-flight calls may still use it; closed at shutdown
    upstream = Upstream(provider)
    _upstreams[provider.id] = (provider.version, loop, upstream)
    return upstream


async def close_all() -> None:
    loop = asyncio.get_running_loop()
    mine = [u for _, lp, u in _upstreams.values() if lp is loop] + _retired
    for key in [k for k, (_, lp, _u) in _upstreams.items() if lp is loop]:
        del _upstreams[key]
    _retired.clear()
    for upstream in mine:
        await upstream.aclose()
