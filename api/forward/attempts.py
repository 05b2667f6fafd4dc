"""Retries, failover between a route's targets, and fallbacks, all before the first byte reaches the client.

A route's targets are tried in the balancer's order (balance.py), skipping those cooling down or at their
provider's own limits. A failure of the provider (connect error, timeout, 408, 429, 5xx, 529) moves on
to the next target at once and counts towards its circuit (health.py). Once every target has been tried,
a retryable failure is retried with jittered exponential backoff that honours `retry-after`, up to the
provider's `max_retries` passes, within one overall deadline. Then the route's ordered fallbacks are
tried; a context-length error goes to a route marked for long context instead. When every target of every
route is cooling down, the client gets a 529 `overloaded_error` with `retry-after`. Bytes already sent
are never retried: streams call this only to open the upstream response.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from django.conf import settings

from api.accounting import metrics
from api.accounting.exchange import Exchange
from api.admission.auth import Caller
from api.admission.limits import permits
from api.forward import balance, health
from api.forward.balance import Demand
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
    asked = health.retry_after_seconds(error)
    return max(delay, asked) if asked is not None else delay


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


class Cooling(Exception):
    """Every target of the route is cooling down or at its provider's limits: nothing was tried."""


def overloaded(routes: list[RouteInfo]) -> ProviderError:
    """The 529 a client gets when no target it could reach may be tried (cooling down, or at its limits)."""
    wait = math.ceil(health.soonest_end([t.provider.id for r in routes for t in r.targets], time.time()))
    message = f"Every upstream for this model is cooling down or at its rate limit; retry in {wait} s."
    return ProviderError(ApiError(529, "overloaded_error", message, retry_after=str(wait)))


async def try_route(
    ex: Exchange, route: RouteInfo, demand: Demand, attempt: Callable[[RouteInfo], Awaitable[T]], deadline: float
) -> tuple[RouteInfo, T]:
    """The first successful `attempt` over the route's targets, passes repeated with backoff as retries allow.
    Raises the last failure, or `Cooling` when no target could be tried."""
    last: ProviderError | None = None
    for n in range(route.provider.max_retries + 1):
        for target in await balance.order(route, demand, time.time()):
            if last is not None and time.monotonic() >= deadline:
                raise last
            place = await balance.claim(ex, target, demand, time.time())
            if place is None:
                continue
            try:
                return target, await _attempt_on(ex, place, attempt)
            except ProviderError as exc:
                last = exc
                if not health.trips_circuit(exc):
                    raise
        if last is None:
            raise Cooling
        delay = retry_delay(last, n, route.provider.max_retries, deadline)
        if delay is None:
            raise last
        log.info("retrying %s in %.2fs after %s", route.name or route.pattern, delay, last.error.status)
        await asyncio.sleep(delay)
    raise last or Cooling()


async def _attempt_on(ex: Exchange, place: balance.Place, attempt: Callable[[RouteInfo], Awaitable[T]]) -> T:
    """One attempt on the place's target: the usage row names it, its health and latency learn the outcome."""
    target = place.target
    ex.routed(target)
    ex.record.attempts += 1
    started = time.perf_counter()
    try:
        result = await attempt(target)
    except ProviderError as exc:
        place.end(0)
        metrics.attempted(target.provider.name, exc.error.error_type)
        if health.trips_circuit(exc):
            await health.failed(target.provider, exc, time.time())
        raise
    except BaseException:  # a bug, or the client gone: the place is given back all the same
        place.end(0)
        raise
    balance.measured(target, time.perf_counter() - started)
    metrics.attempted(target.provider.name, "ok")
    ex.on_finish.append(place.end)
    await health.succeeded(target.provider, time.time())
    return result


async def with_retries(
    ex: Exchange, route: RouteInfo, caller: Caller, attempt: Callable[[RouteInfo], Awaitable[T]], demand: Demand
) -> tuple[RouteInfo, T]:
    """The first successful `attempt(route)` over the route's targets, their retries and the fallbacks."""
    deadline = time.monotonic() + settings.RETRY_DEADLINE
    queue, tried, cooled = [route], {route.id}, []
    last: ProviderError | None = None
    while queue:
        current = queue.pop(0)
        try:
            return await try_route(ex, current, demand, attempt, deadline)
        except Cooling:
            cooled.append(current)  # nothing tried here: on to the fallbacks
        except ProviderError as exc:
            last = exc
            if not (exc.retryable or exc.error.status in _FALLBACK_STATUSES or is_context_length(exc.error)):
                break
        if time.monotonic() >= deadline:
            break
        queue += [r for r in await candidates(current, caller, ex.record.requested_model, last) if r.id not in tried]
        tried.update(r.id for r in queue)
    raise last or overloaded(cooled)
