"""One pooled `httpx.AsyncClient` per provider: made lazily, rebuilt when the row changes, closed at shutdown.

Each client runs on `AiohttpTransport` (transport.py says why); timeouts stay httpx's, per provider.
"""

from __future__ import annotations

import asyncio

import httpx

from api.providers.transport import AiohttpTransport
from routing.resolve import ProviderInfo

_clients: dict[int, tuple[str, asyncio.AbstractEventLoop, httpx.AsyncClient]] = {}
_retired: list[httpx.AsyncClient] = []


def client_for(provider: ProviderInfo) -> httpx.AsyncClient:
    loop = asyncio.get_running_loop()
    entry = _clients.get(provider.id)
    if entry and entry[0] == provider.version and entry[1] is loop:
        return entry[2]
    if entry and entry[1] is loop:
        _retired.append(entry[2])  # in-flight calls may still use it; closed at shutdown
    client = httpx.AsyncClient(
        timeout=httpx.Timeout(
            connect=provider.connect_timeout,
            read=provider.read_timeout,
            write=provider.read_timeout,
            pool=provider.read_timeout,
        ),
        transport=AiohttpTransport(max_connections=2000, keepalive_expiry=60),
        follow_redirects=False,
        trust_env=False,
    )
    _clients[provider.id] = (provider.version, loop, client)
    return client


async def close_all() -> None:
    loop = asyncio.get_running_loop()
    mine = [c for _, lp, c in _clients.values() if lp is loop] + _retired
    for key in [k for k, (_, lp, _c) in _clients.items() if lp is loop]:
        del _clients[key]
    _retired.clear()
    for client in mine:
        await client.aclose()
