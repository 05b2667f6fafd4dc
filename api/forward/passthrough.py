"""Anthropic-compatible upstreams: the body (lightly rewritten) and allowed headers go through,
the provider's key replaces the client's, and the answer's bytes come back unchanged, except known
secrets in error bodies, `error` events and relayed headers (api/http/scrub.py)."""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import logging
import time
from collections.abc import AsyncIterator

import httpx
import orjson
from django.conf import settings
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse

from api.accounting.costs import add_cost_header
from api.accounting.exchange import Exchange
from api.forward.attempts import Cooling, overloaded, try_route
from api.forward.balance import Demand
from api.forward.sse import encode_events
from api.http.scrub import ErrorEventScrubber, scrub, scrub_bytes
from api.providers.clients import Upstream, client_for
from api.providers.errors import RETRYABLE_STATUSES, ProviderError, from_httpx, from_status, read_whole
from api.translate.errors import from_upstream
from api.translate.mapping import tokens_for_chars
from api.translate.passthrough import prepare_body
from api.translate.sse import SSEDecoder
from api.translate.types import JSON
from routing.resolve import ProviderInfo, RouteInfo

log = logging.getLogger("api.forward.passthrough")
FORWARDED_REQUEST_HEADERS = ("anthropic-version", "anthropic-beta", "user-agent", "x-app", "x-claude-code-session-id")
FORWARDED_RESPONSE_HEADERS = ("retry-after", "retry-after-ms", "x-should-retry")


def upstream_url(provider: ProviderInfo, endpoint: str, query: str) -> str:
    base = provider.base_url if provider.base_url.endswith("/v1") else provider.base_url + "/v1"
    return f"{base}/{endpoint}" + (f"?{query}" if query else "")


def upstream_headers(request: HttpRequest | None, provider: ProviderInfo) -> dict[str, str]:
    """The client's allowed headers (none without a request), with the provider's key in place of the client's."""
    headers = {}
    if request is not None:
        headers = {name: request.headers[name] for name in FORWARDED_REQUEST_HEADERS if name in request.headers}
        headers.update((k, v) for k, v in request.headers.items() if k.lower().startswith("x-stainless-"))
    headers.setdefault("anthropic-version", "2023-06-01")
    headers.update({"content-type": "application/json", "accept-encoding": "identity", **provider.extra_headers})
    if provider.api_key:
        headers["x-api-key"] = provider.api_key
    return headers


def _copy_headers(source: httpx.Headers, target: HttpResponse, ex: Exchange) -> None:
    for name in FORWARDED_RESPONSE_HEADERS:
        if name in source:
            target[name] = scrub(source[name])
    for name, value in source.items():
        if name.startswith("anthropic-ratelimit-"):
            target[name] = scrub(value)
    if "request-id" in source:
        target["upstream-request-id"] = scrub(source["request-id"])
    target["request-id"] = ex.request_id


async def forward(ex: Exchange, request: HttpRequest, body: JSON, route: RouteInfo, endpoint: str) -> HttpResponse:
    upstream = await _send(ex, request, body, route, endpoint)
    streaming = upstream.headers.get("content-type", "").startswith("text/event-stream")
    if upstream.status_code == 200 and streaming:
        response = StreamingHttpResponse(
            _relay(ex, upstream), content_type="text/event-stream", headers={"cache-control": "no-cache"}
        )
        _copy_headers(upstream.headers, response, ex)
        return response
    raw = await read_whole(upstream)
    if upstream.status_code // 100 != 2:
        raw = scrub_bytes(raw)  # an error body may quote the key; a JSON shape survives the redaction
    ex.response_body = raw
    _record_reply(ex, upstream.status_code, raw, upstream.headers, endpoint)
    response = HttpResponse(
        raw, status=upstream.status_code, content_type=upstream.headers.get("content-type", "application/json")
    )
    _copy_headers(upstream.headers, response, ex)
    add_cost_header(response, ex.record)
    return response


class _Answered(ProviderError):
    """A retryable upstream answer, its body read: relayed as it came when no other try succeeds."""

    def __init__(self, error: ProviderError, upstream: httpx.Response) -> None:
        super().__init__(error.error, retryable=error.retryable)
        self.upstream = upstream


async def _send(ex: Exchange, request: HttpRequest, body: JSON, route: RouteInfo, endpoint: str) -> httpx.Response:
    """Send over the route's targets, balanced and retried as on the OpenAI path (attempts.py) while
    nothing has reached the client: connect errors, timeouts and retryable statuses. The last answer,
    error or not, goes back as it came."""
    query = request.META.get("QUERY_STRING", "")

    async def attempt(target: RouteInfo) -> httpx.Response:
        provider = target.provider
        payload = prepare_body(body, target_model=target.target_model, max_tokens_cap=target.max_tokens)
        client = client_for(provider)
        http_request = client.request(
            "POST",
            upstream_url(provider, endpoint, query),
            content=orjson.dumps(payload),
            headers=upstream_headers(request, provider),
        )
        upstream, error = await _attempt(client, http_request)
        if error is None:
            return upstream
        if upstream is None:
            raise error
        raise _Answered(error, upstream)  # its body is read; the caller's `aread()` returns it

    demand = Demand.of(ex.record.key_id, body, len(request.body))
    deadline = time.monotonic() + settings.RETRY_DEADLINE
    try:
        _, upstream = await try_route(ex, route, demand, attempt, deadline)
    except _Answered as answered:
        return answered.upstream
    except Cooling:
        raise overloaded([route]) from None
    return upstream


async def _attempt(client: Upstream, http_request: httpx.Request) -> tuple[httpx.Response | None, ProviderError | None]:
    """One try: the response (its body read when the status is retryable) and the error to retry on."""
    try:
        upstream = await client.send(http_request)
    except httpx.HTTPError as exc:
        return None, from_httpx(exc, "waiting for the upstream response")
    if upstream.status_code not in RETRYABLE_STATUSES:
        return upstream, None
    try:
        raw = await upstream.aread()
    except httpx.HTTPError as exc:
        await upstream.aclose()
        return None, from_httpx(exc, "reading the upstream response")
    return upstream, from_status(upstream.status_code, raw, upstream.headers)


def _record_reply(ex: Exchange, status: int, raw: bytes, headers: httpx.Headers, endpoint: str) -> None:
    if status // 100 != 2:
        error = from_upstream(status, raw, headers)
        ex.failed(status, error.error_type, error.message)
    else:
        with contextlib.suppress(orjson.JSONDecodeError, TypeError, AttributeError):
            data = orjson.loads(raw)
            if endpoint == "messages":
                ex.set_usage(data.get("usage") or {})
            else:
                ex.record.input_tokens = int(data.get("input_tokens") or 0)
    ex.finish()


async def _relay(ex: Exchange, upstream: httpx.Response) -> AsyncIterator[bytes]:
    """Bytes go out as they came, a whole frame at a time, `error` events scrubbed; usage and errors are
    read from a side decoder for the log. The frame that ends the message goes out after the row is
    journaled."""
    decoder = SSEDecoder()
    text = codecs.getincrementaldecoder("utf-8")(errors="replace")
    scrubber = ErrorEventScrubber()
    seen = _Seen()
    try:
        async for chunk in upstream.aiter_raw():
            for data in decoder.feed(text.decode(chunk)):
                _read_event(data, seen, ex)
            if seen.ended:
                ex.set_usage(seen.usage)
                ex.finish()
            elif ex.progress_due():
                ex.progress(seen.so_far(), estimated=True)
            if out := scrubber.feed(chunk):
                yield out
        if out := scrubber.flush():
            yield out
    except httpx.HTTPError as exc:
        error = from_httpx(exc, "reading the upstream stream").error
        ex.failed(error.status, error.error_type, error.message)
        ex.set_usage(seen.usage)
        ex.finish()
        # The torn last frame is dropped (never flushed): glued to the error event, neither would parse.
        yield encode_events([{"type": "error", "error": {"type": error.error_type, "message": error.message}}])
    except (asyncio.CancelledError, GeneratorExit):
        ex.cancelled()
        raise
    finally:
        await upstream.aclose()
        ex.set_usage(seen.usage)
        ex.finish()


_DELTA_ENVELOPE = len('{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":""}}')
"""What a content delta's data carries besides its text: subtracted to estimate the text's length."""


class _Seen:
    """What the side decoder has read so far: the upstream's usage, the delta text's length, the end."""

    __slots__ = ("delta_chars", "ended", "usage")

    def __init__(self) -> None:
        self.usage: dict = {}
        self.delta_chars = 0
        self.ended = False

    def so_far(self) -> dict:
        """Usage for a progress line: input as reported, output at least the streamed text's estimate."""
        output = max(int(self.usage.get("output_tokens") or 0), tokens_for_chars(self.delta_chars))
        return {**self.usage, "output_tokens": output}


def _read_event(data: str, seen: _Seen, ex: Exchange) -> None:
    if '"content_block_delta"' in data:
        seen.delta_chars += max(len(data) - _DELTA_ENVELOPE, 0)
        return
    if '"message_start"' not in data and '"message_delta"' not in data and '"error"' not in data:
        seen.ended = seen.ended or '"message_stop"' in data
        return
    with contextlib.suppress(orjson.JSONDecodeError):
        event = orjson.loads(data)
        if not isinstance(event, dict):
            return
        if event.get("type") == "message_start":
            seen.usage.update((event.get("message") or {}).get("usage") or {})
        elif event.get("type") == "message_delta":
            seen.usage.update({k: v for k, v in (event.get("usage") or {}).items() if v is not None})
        elif event.get("type") == "error":
            ex.observe([event])
            seen.ended = True
