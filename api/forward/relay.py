"""The OpenAI-compatible path: translate the request, call the provider, translate the answer back."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import httpx
from django.conf import settings
from django.http import HttpResponse, StreamingHttpResponse

from api.accounting import metrics
from api.accounting.costs import add_cost_header
from api.accounting.exchange import Exchange
from api.admission.auth import Caller
from api.forward.attempts import with_retries
from api.forward.balance import Demand
from api.forward.dialects import Dialect, Translator, dialect_for
from api.forward.sse import PING, encode_events, ping_frame, with_pings
from api.http import lifecycle
from api.http.errors import GatewayError
from api.http.responses import json_response
from api.providers import openai
from api.providers.clients import client_for
from api.translate.caching import prompt_cache_key
from api.translate.errors import ApiError, timeout_error
from api.translate.mapping import UpstreamFormatError, find_usage
from api.translate.profiles import profile_for
from api.translate.types import JSON, Context
from routing.resolve import RouteInfo

log = logging.getLogger("api.forward.relay")


def translate_request(body: JSON, route: RouteInfo, body_size: int, caller: Caller) -> tuple[JSON, Context, Dialect]:
    """The upstream body in the route's provider's dialect (Chat Completions or the Responses API)."""
    dialect = dialect_for(route.provider.kind)
    profile = profile_for(route.provider.profile, route.target_model)
    caller_name = f"key:{caller.key.id}" if caller.key else "anonymous"
    cache_key = prompt_cache_key(caller_name, body) if profile.prompt_cache_key else None  # only where it is sent
    upstream, ctx = dialect.to_upstream(
        body, upstream_model=route.target_model, profile=profile, max_tokens_cap=route.max_tokens, cache_key=cache_key
    )
    ctx.input_tokens_estimate = body_size // 4  # cheap; the upstream's usage replaces it
    return upstream, ctx, dialect


async def relay(ex: Exchange, caller: Caller, body: JSON, route: RouteInfo, body_size: int) -> HttpResponse:
    """Translate, call (balanced over the route's targets, with retries and fallbacks before any byte is
    sent), translate back."""
    demand = Demand.of(caller.key.id if caller.key else None, body, body_size)
    if body.get("stream"):

        async def open_stream(r: RouteInfo) -> tuple[httpx.Response, Translator]:
            upstream, ctx, dialect = translate_request(body, r, body_size, caller)
            opened = await openai.open_response(client_for(r.provider), r.provider, upstream, dialect.path)
            return opened, dialect.stream_translator(ctx)

        _, (response, translator) = await with_retries(ex, route, caller, open_stream, demand)
        return StreamingHttpResponse(
            _stream(ex, response, translator),
            content_type="text/event-stream",
            headers={"cache-control": "no-cache", "request-id": ex.request_id, "x-accel-buffering": "no"},
        )

    async def complete(r: RouteInfo) -> tuple[JSON, Context, Dialect]:
        upstream, ctx, dialect = translate_request(body, r, body_size, caller)
        return await openai.complete(client_for(r.provider), r.provider, upstream, dialect.path), ctx, dialect

    _, (completion, ctx, dialect) = await with_retries(ex, route, caller, complete, demand)
    try:
        message = dialect.message(completion, ctx)
    except UpstreamFormatError as exc:
        raise GatewayError(exc.to_api_error()) from None
    ex.set_usage(message["usage"], estimated=find_usage(completion) is None)
    response = json_response(message, request_id=ex.request_id)
    ex.response_body = response.content
    ex.finish()
    add_cost_header(response, ex.record)
    return response


RESTARTING = ApiError(529, "overloaded_error", "The gateway is restarting; please retry the request.")


def check_deadlines(ex: Exchange) -> None:
    """Between chunks: a shutdown's grace period, and the wait for the upstream's first chunk."""
    if lifecycle.expired():
        raise GatewayError(RESTARTING)
    limit = ex.first_byte_timeout
    if limit and ex.record.ttft_ms is None and ex.elapsed_ms() > limit * 1000:
        raise GatewayError(timeout_error("waiting for the first token"))


async def _stream(ex: Exchange, response: httpx.Response, translator: Translator) -> AsyncIterator[bytes]:
    """The SSE body. Every exit (end, upstream failure, client gone) closes the upstream and logs once."""
    gone = False
    metrics.INFLIGHT_STREAMS.inc()
    try:
        yield encode_events(translator.start())
        ending: list[dict] = []
        done = False
        async with contextlib.aclosing(with_pings(openai.iter_chunks(response), settings.PING_INTERVAL)) as items:
            async for item in items:
                if item is PING:
                    check_deadlines(ex)
                    yield ping_frame()
                elif item is openai.DONE:
                    done = True
                    break
                elif events := translator.feed(item):
                    if events[-1]["type"] in ("message_stop", "error"):
                        ending = events  # sent below, once the row is journaled
                        break  # the message has ended: stop reading (and paying for) the upstream
                    ex.observe(events)
                    yield encode_events(events)
                    if ex.progress_due():
                        usage, estimated = translator.usage()
                        ex.progress(usage, estimated=estimated)
        events = ending + translator.finish(done=done)
    except GatewayError as exc:
        events = translator.error(exc.error.error_type, exc.error.message)
    except (asyncio.CancelledError, GeneratorExit):
        gone = True
        ex.cancelled()
        raise
    except Exception:  # a bug of ours must still end the stream with an error event, not a torn body
        log.exception("stream translation failed (request %s)", ex.request_id)
        events = translator.error("api_error", "Internal error in the gateway while streaming.")
    finally:
        metrics.INFLIGHT_STREAMS.dec()
        with contextlib.suppress(Exception):
            await response.aclose()
        usage, estimated = translator.usage()
        ex.set_usage(usage, estimated=estimated)
        if gone:
            ex.finish()
    ex.observe(events)
    ex.finish()
    yield encode_events(events)
