"""A respx mocker for the gateway's `AiohttpTransport`: `respx.mock(using="aiohttp_transport")`.

Routes see the httpx request the transport was handed; a mocked reply comes back unread, as it
would from a socket (respx's own `using="httpx"` returns bodies already read, which the
pass-through's raw relay cannot take). The transport itself is tested against real sockets in
tests/unit/test_transport.py and tests/faults/.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
from respx.mocks import AbstractRequestMocker


class _Unread(httpx.AsyncByteStream):
    def __init__(self, body: bytes) -> None:
        self._body = body

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self._body


class AiohttpTransportMocker(AbstractRequestMocker):
    name = "aiohttp_transport"
    targets = ["api.providers.transport.AiohttpTransport"]
    target_methods = ["handle_async_request"]

    @classmethod
    def to_httpx_request(cls, **kwargs) -> httpx.Request:
        return kwargs["request"]

    @classmethod
    async def from_async_httpx_response(cls, httpx_response: httpx.Response, target, **kwargs) -> httpx.Response:
        if not httpx_response.is_stream_consumed:
            return httpx_response  # a streamed mock (slow or endless bodies) stays as the test made it
        return httpx.Response(
            httpx_response.status_code,
            headers=httpx_response.headers.raw,
            stream=_Unread(httpx_response.content),
            extensions=httpx_response.extensions,
        )
