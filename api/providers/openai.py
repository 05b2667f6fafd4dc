"""OpenAI-compatible Chat Completions: send a translated body, hand back a parsed reply or chunks.

The seam between the gateway and an upstream: it receives the provider's `Upstream` (clients.py),
raises only `ProviderError`, and knows nothing of Anthropic shapes.
"""

from __future__ import annotations

import codecs
from collections.abc import AsyncIterator

import httpx
import orjson

from api.providers.clients import Upstream
from api.providers.errors import ProviderError, bad_response, from_httpx, from_status, read_whole
from api.translate.sse import SSEDecoder
from routing.resolve import ProviderInfo

MAX_ERROR_BODY = 64 * 1024
DONE = object()
"""Yielded by `iter_chunks` for `data: [DONE]`."""


CHAT_PATH = "/chat/completions"
RESPONSES_PATH = "/responses"


def chat_url(provider: ProviderInfo, path: str = CHAT_PATH) -> str:
    """The provider's endpoint for `path` (Chat Completions unless told; the Responses API shares the rest)."""
    url = provider.base_url + path
    return f"{url}?api-version={provider.api_version}" if provider.api_version else url


def upstream_headers(provider: ProviderInfo) -> dict[str, str]:
    headers = {"content-type": "application/json", "accept-encoding": "gzip, deflate"}
    headers.update(provider.extra_headers)  # filtered when the snapshot was made
    if provider.api_key:
        if provider.profile == "azure":
            headers["api-key"] = provider.api_key
        else:
            headers["authorization"] = f"Bearer {provider.api_key}"
    return headers


async def open_response(client: Upstream, provider: ProviderInfo, body: dict, path: str = CHAT_PATH) -> httpx.Response:
    """POST and wait for the status line; a non-2xx becomes a `ProviderError` with the body read."""
    request = client.request(
        "POST", chat_url(provider, path), content=orjson.dumps(body), headers=upstream_headers(provider)
    )
    try:
        response = await client.send(request)
    except httpx.HTTPError as exc:
        raise from_httpx(exc, "waiting for the upstream response") from exc
    if response.status_code // 100 != 2:
        try:
            raw = await _read_limited(response)
        finally:
            await response.aclose()
        raise from_status(response.status_code, raw, response.headers)
    if "html" in response.headers.get("content-type", "").lower():  # a proxy's or portal's page, not an answer
        await response.aclose()
        raise bad_response("the upstream answered with an HTML page")
    return response


async def complete(client: Upstream, provider: ProviderInfo, body: dict, path: str = CHAT_PATH) -> dict:
    """A non-streaming completion as a dict; HTML, truncated or non-object JSON is a 502."""
    raw = await read_whole(await open_response(client, provider, body, path))
    return _json_object(raw, "the upstream's response")


async def iter_chunks(response: httpx.Response) -> AsyncIterator[dict | object]:
    """Parsed stream chunks, then `DONE` if the upstream sent `[DONE]`; transport errors raise."""
    decoder = SSEDecoder()
    text = codecs.getincrementaldecoder("utf-8")(errors="replace")
    try:
        async for raw in response.aiter_bytes():
            for data in decoder.feed(text.decode(raw)):
                yield _parse_chunk(data)
        for data in decoder.feed(text.decode(b"", final=True)) + decoder.flush():
            yield _parse_chunk(data)
    except httpx.HTTPError as exc:
        raise from_httpx(exc, "reading the upstream stream") from exc


def _parse_chunk(data: str) -> dict | object:
    return DONE if data.strip() == "[DONE]" else _json_object(data, "a stream chunk from the upstream")


def _json_object(raw: bytes | str, what: str) -> dict:
    """HTML error pages, truncated or non-object JSON are a 502, never passed on."""
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise bad_response(f"{what} is not JSON") from None
    if not isinstance(value, dict):
        raise bad_response(f"{what} is JSON but not an object")
    return value


async def _read_limited(response: httpx.Response) -> bytes:
    body = bytearray()
    try:
        async for part in response.aiter_bytes():
            body += part
            if len(body) >= MAX_ERROR_BODY:
                break
    except httpx.HTTPError:
        pass  # the status already says what happened; a torn error body adds nothing
    return bytes(body[:MAX_ERROR_BODY])


__all__ = ["DONE", "ProviderError", "complete", "iter_chunks", "open_response"]
