"""Retries and fallbacks, all before the first byte reaches the client.

A retryable failure (connect error, timeout, 408, 429, 5xx, 529) is retried on the same route with
jittered exponential backoff that honours `retry-after`, up to the provider's `max_retries`, within
one overall deadline. Then the route's ordered fallbacks are tried; a context-length error goes to a
route marked for long context instead. Bytes already sent are never retried: streams call this only
to open the upstream response.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from django.conf import settings

from api.accounting.exchange import Exchange
from api.admission.auth import Caller
from api.admission.limits import permits
from api.providers.errors import ProviderError
from api.translate.errors import ApiError
from routing import snapshot
from routing.resolve import RouteInfo, fallbacks_of

T = TypeVar("T")
log = logging.getLogger("api.forward.attempts")

# The upstream refused the provider itself (credentials, model missing): another provider may serve.
_FALLBACK_STATUSES = frozenset({401, 403, 404})


def is_context_length(error: ApiError) -> bool:
    return error.status == 400 and error.message.startswith(("prompt is too long", "input length and"))


def backoff(attempt: int, error: ApiError) -> float:
    """0.5 s doubling to 8 s with jitter, or what the upstream asked for if that is longer."""
    delay = min(0.5 * 2**attempt, 8.0) * random.uniform(0.5, 1.0)
    asked = _retry_after_seconds(error)
    return max(delay, asked) if asked is not None else delay


def _retry_after_seconds(error: ApiError) -> float | None:
    try:
        if error.retry_after_ms:
            return float(error.retry_after_ms) / 1000
        if error.retry_after:
            return float(error.retry_after)
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff
    return None


def retry_delay(exc: ProviderError, attempt: int, max_retries: int, deadline: float) -> float | None:
    """Seconds to wait before retrying after `exc` (attempt 0 was the first), or None: do not retry."""
    delay = backoff(attempt, exc.error)
    if (
        not exc.retryable
        or attempt >= max_retries
        or delay > settings.RETRY_MAX_WAIT
        or time.monotonic() + delay > deadline
    ):
        return None
    return delay


async def candidates(
    route: RouteInfo, caller: Caller, model: str, error: ProviderError | None = None
) -> list[RouteInfo]:
    """The routes to try after `route`: its fallbacks, or long-context routes after a context-length error;
    only those the caller's key may reach with `model` (its allowlist holds for fallbacks too)."""
    every = await snapshot.routes.get()
    routes = [r for r in every if permits(caller.key, model, r, every)]
    chain = fallbacks_of(route, routes)
    if error is not None and is_context_length(error.error):
        long = [r for r in chain if r.long_context] or [
            r for r in routes if r.long_context and r.id != route.id and r.applies_to(caller.user_id, caller.group_ids)
        ]
        return long[:1]
    return chain


async def with_retries(
    ex: Exchange, route: RouteInfo, caller: Caller, attempt: Callable[[RouteInfo], Awaitable[T]]
) -> tuple[RouteInfo, T]:
    """The first successful `attempt(route)` over the route, its retries and its fallbacks."""
    deadline = time.monotonic() + settings.RETRY_DEADLINE
    queue, tried = [route], {route.id}
    last: ProviderError | None = None
    while queue:
        current = queue.pop(0)
        ex.routed(current)
        for n in range(current.provider.max_retries + 1):
            ex.record.attempts += 1
            try:
                return current, await attempt(current)
            except ProviderError as exc:
                last = exc
                delay = retry_delay(exc, n, current.provider.max_retries, deadline)
                if delay is None:
                    break
                log.info("retrying %s in %.2fs after %s", current.provider.name, delay, exc.error.status)
                await asyncio.sleep(delay)
        if not (last.retryable or last.error.status in _FALLBACK_STATUSES or is_context_length(last.error)):
            break
        if time.monotonic() >= deadline:
            break
        queue += [r for r in await candidates(current, caller, ex.record.requested_model, last) if r.id not in tried]
        tried.update(r.id for r in queue)
    assert last is not None
    raise last
