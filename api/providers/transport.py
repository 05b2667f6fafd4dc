"""An httpx transport on aiohttp's connection pool and C HTTP parser.

httpcore spent about half of the gateway's CPU per small request (py-spy; `python -m
bench.client_cost` and README "Performance"); aiohttp does the same HTTP/1.1 work for a fraction
of it. Callers keep httpx: requests, responses, timeouts and exceptions are httpx's, so nothing
above `clients.py` knows what carries the bytes, and tests mock upstreams at this transport with
respx (tests/respx_aiohttp.py).

Bodies are relayed undecoded (`auto_decompress=False`): httpx decodes `content-encoding` itself,
and pass-through forwards the raw bytes with their headers, as with httpx's own transport.
"""

from __future__ import annotations

import functools
import ssl
from collections.abc import AsyncIterator

import aiohttp
import certifi
import httpx
from yarl import URL

MAX_HEADER_LINE = 64 * 1024


class AiohttpTransport(httpx.AsyncBaseTransport):
    """One aiohttp session (one pool) per transport, made on first use on the running loop."""

    def __init__(self, *, max_connections: int, keepalive_expiry: float, ca_bundle: str = "") -> None:
        self._max_connections = max_connections
        self._keepalive_expiry = keepalive_expiry
        self._ca_bundle = ca_bundle or certifi.where()  # certifi: the CAs httpx verifies with
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            limit=self._max_connections,
            limit_per_host=0,
            keepalive_timeout=self._keepalive_expiry,
            ssl=ssl.create_default_context(cafile=self._ca_bundle),
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            auto_decompress=False,
            trust_env=False,
            timeout=aiohttp.ClientTimeout(total=None),
            max_line_size=MAX_HEADER_LINE,
            max_field_size=MAX_HEADER_LINE,
        )
        return self._session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        session = self._session or self._open()
        t = request.extensions.get("timeout") or {}
        try:
            response = await session.request(
                request.method,
                _yarl_url(str(request.url)),
                headers=request.headers.multi_items(),
                data=request.content or None,
                allow_redirects=False,
                timeout=_client_timeout(t.get("pool"), t.get("connect"), t.get("read")),
            )
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise to_httpx_error(exc, request) from exc
        return httpx.Response(
            response.status,
            headers=response.raw_headers,
            stream=_Body(response, request),
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": (response.reason or "").encode()},
        )

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


@functools.lru_cache(maxsize=256)
def _yarl_url(raw: str) -> URL:
    return URL(raw, encoded=True)  # httpx has already percent-encoded it


@functools.lru_cache(maxsize=64)
def _client_timeout(pool: float | None, connect: float | None, read: float | None) -> aiohttp.ClientTimeout:
    # aiohttp's `connect` covers waiting for a pooled connection too: httpx's pool timeout.
    return aiohttp.ClientTimeout(total=None, connect=pool, sock_connect=connect, sock_read=read)


class _Body(httpx.AsyncByteStream):
    """The response body as it arrives; closing it half-read drops the connection instead of pooling it."""

    def __init__(self, response: aiohttp.ClientResponse, request: httpx.Request) -> None:
        self._response = response
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._response.content.iter_any():
                yield chunk
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise to_httpx_error(exc, self._request) from exc

    async def aclose(self) -> None:
        self._response.release()  # pools the connection only if the reply was read to its end


def to_httpx_error(exc: BaseException, request: httpx.Request) -> httpx.TransportError:
    """The httpx exception httpx's own transport raises for the same failure."""
    message = str(exc) or type(exc).__name__
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        kind: type[httpx.TransportError] = httpx.ConnectTimeout
    elif isinstance(exc, TimeoutError):
        kind = httpx.ReadTimeout
    elif isinstance(exc, aiohttp.ClientConnectorError):
        kind = httpx.ConnectError
    elif isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError | aiohttp.ClientResponseError):
        kind = httpx.RemoteProtocolError
    elif isinstance(exc, aiohttp.ClientOSError):
        kind = httpx.ReadError  # e.g. reset by the peer
    else:
        kind = httpx.TransportError
    return kind(message, request=request)
