"""Per-key limits and the budgets of the key, its user and its teams (budgets.py), checked before any
upstream call and held across every worker.

- The allowlist is checked against the requested name *and* what it resolves to (`check_route_allowed`):
  a key allowed `*haiku*` cannot reach an opus route by asking for `claude-opus-4-haiku`.
- Requests and tokens per minute are sliding windows; budgets are counted per period kind and start.
- A request reserves what it can cost at admission (`reserve`): its estimated input plus the most output
  it may be given (max_tokens under the caps of the routes it may reach). It is refused when that does not
  fit; when it ends, the reservation is settled to the tokens it really used (`settle`) and, on USD
  budgets (reserved at the dearest reachable price), to the row's cost. Concurrent
  requests therefore cannot walk through a budget: overshoot comes only from input tokens above the
  estimate (see `api.translate.tokens.input_bound`) and from an upstream ignoring max_tokens.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable, Sequence

from asgiref.sync import sync_to_async

from api.admission.auth import Caller
from api.admission.budgets import BudgetCheck, budget_checks, most_costly, refusal_message, ttl_of
from api.admission.counters import Check, Outcome, store
from api.http.errors import GatewayError
from api.translate.errors import ApiError
from api.translate.tokens import input_bound
from api.translate.types import JSON
from routing.periods import period_of
from routing.prices import PriceTable
from routing.resolve import RouteInfo, reachable_routes
from routing.snapshot import KeyInfo
from routing.spend_stats import used_in_period

log = logging.getLogger("api.admission.limits")
WINDOW = 60


def _refuse(status: int, error_type, message: str, *, retry_after: int | None = None, retry: bool | None = None):
    return GatewayError(
        ApiError(
            status,
            error_type,
            message,
            should_retry=retry,
            retry_after=str(retry_after) if retry_after is not None else None,
        )
    )


def _allows(key: KeyInfo, name: str) -> bool:
    wanted = name.lower()
    return any(p.match(wanted) for p in key.model_patterns)


def check_model_allowed(caller: Caller, model: str) -> None:
    """403 when the key names allowed model patterns and the requested name matches none."""
    key = caller.key
    if key is not None and key.model_patterns and not _allows(key, model):
        raise _refuse(403, "permission_error", f"This API key may not use model {model!r}.", retry=False)


def permits(key: KeyInfo | None, model: str, route: RouteInfo, routes: Sequence[RouteInfo]) -> bool:
    """Whether a request for `model` may be served by `route`. Patterns that match every upstream model
    of the route's targets (balancing may pick any) allow it outright. Otherwise some pattern matching
    `model` must either name `route` (match all its upstream models, or its own pattern read as a name:
    `*haiku*` names a `*haiku*` or a `claude-3-haiku-*` route) or name no route at all (`claude-*`: a
    filter on names only). So a key allowed `*haiku*` cannot reach the `*opus*` route by asking for
    `claude-opus-4-haiku`."""
    if key is None or not key.model_patterns:
        return True
    if all(_allows(key, m) for m in _upstream_models(route)):
        return True
    wanted = model.lower()
    for pattern in key.model_patterns:
        if pattern.match(wanted):
            named = [r for r in routes if _names(pattern, r)]
            if not named or route in named:
                return True
    return False


def _names(pattern: re.Pattern[str], route: RouteInfo) -> bool:
    every_model = all(pattern.match(m.lower()) for m in _upstream_models(route))
    return every_model or bool(pattern.match(route.pattern.strip().lower()))


def _upstream_models(route: RouteInfo) -> tuple[str, ...]:
    return tuple(t.model for t in route.targets) or (route.target_model,)


def check_route_allowed(caller: Caller, model: str, route: RouteInfo, routes: Sequence[RouteInfo]) -> None:
    if not permits(caller.key, model, route, routes):
        message = f"This API key may not use model {model!r}: it is served by {route.target_model!r}."
        raise _refuse(403, "permission_error", message, retry=False)


def output_bound(body: JSON, routes: list[RouteInfo]) -> int:
    """The most output tokens the request can be given on any route it may reach."""
    wanted = int(body.get("max_tokens") or 0)
    return max(min(wanted, r.max_tokens) if r.max_tokens else wanted for r in routes)


def _window_checks(key: KeyInfo, amount: int) -> list[Check]:
    checks = []
    if key.rpm_limit:
        checks.append(Check(f"rpm:key:{key.id}", key.rpm_limit, 1, window=WINDOW, settles=False))
    if key.tpm_limit:
        checks.append(Check(f"tpm:key:{key.id}", key.tpm_limit, amount, window=WINDOW))
    return checks


async def reserve(
    caller: Caller,
    body: JSON,
    route: RouteInfo,
    routes: Sequence[RouteInfo],
    body_size: int,
    hold_id: str,
    prices: PriceTable | None = None,
) -> str | None:
    """Reserve the request's cost on every limit and budget of its key; its hold id, or None when nothing
    limits it. Raises the 429 of the first limit the reservation does not fit."""
    key = caller.key
    if key is None or not (key.rpm_limit or key.tpm_limit or key.budgets):
        return None
    reached = reachable_routes(route, routes, caller.user_id, caller.group_ids)
    deployments = [t for r in reached for t in r.bound]  # every target: balancing may pick any of them
    input_tokens, output_tokens = input_bound(body, body_size), output_bound(body, deployments)
    amount = input_tokens + output_tokens
    cost = _cost_bound(key, reached, prices, input_tokens, output_tokens)
    found = budget_checks(key.budgets, amount, cost)
    checks = _window_checks(key, amount) + [b.check for b in found]
    now = time.time()
    outcome = await _run(store().reserve, hold_id, checks, now)
    if outcome.missing:
        await _seed_budgets([b for b in found if b.check.name in outcome.missing], now)
        outcome = await _run(store().reserve, hold_id, checks, now)
    if not outcome.admitted:
        raise _refusal(key, outcome, amount, found)
    return hold_id


def _cost_bound(key: KeyInfo, reachable, prices: PriceTable | None, input_tokens: int, output_tokens: int) -> int:
    """The most micro-dollars the request may cost; 0 when no USD budget applies. A USD budget cannot
    bound a model without a price: such a request is refused (the admin sees the model as unpriced)."""
    if not any(b.usd_micros is not None for b in key.budgets):
        return 0
    cost = None if prices is None else most_costly(reachable, prices, input_tokens, output_tokens)
    if cost is None:
        message = "A budget in USD applies to this API key, and a model this request may reach has no price yet."
        raise _refuse(403, "permission_error", message, retry=False)
    return cost


def settle(hold_id: str, tokens: int, micros: int = 0, then: Callable[[], None] | None = None) -> None:
    """The request has ended: its reservation becomes the tokens it used (and on USD budgets its cost in
    micro-dollars), and then `then` runs (budget alerts read the settled counters). Never raises; on
    Redis it runs off the event loop."""
    if store().blocking and _running_loop():
        future = asyncio.get_running_loop().run_in_executor(None, _settle_quietly, hold_id, tokens, micros, then)
        _settling.add(future)
        future.add_done_callback(_settling.discard)
    else:
        _settle_quietly(hold_id, tokens, micros, then)


_settling: set[asyncio.Future] = set()
"""Settlements running off the event loop (Redis): held here until done, and counted by `settling`."""


def settling() -> int:
    """How many settlements (and what runs after them) are still under way."""
    return len(_settling)


def _settle_quietly(hold_id: str, tokens: int, micros: int, then: Callable[[], None] | None) -> None:
    try:
        store().settle(hold_id, tokens, micros)
    except Exception:  # the counters' store is down: the reservation stays (conservative), the request ends
        log.exception("settling the limits of request %s failed", hold_id)
    if then is not None:
        then()


def _running_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


async def _run(method, *args):
    if store().blocking:
        return await sync_to_async(method, thread_sensitive=False)(*args)
    return method(*args)


async def _seed_budgets(found: list[BudgetCheck], now: float) -> None:
    # Off Django's one sync thread: many budgets' first requests (after a restart or a cache flush) read
    # at once instead of queueing behind each other and behind other requests' queries.
    for b in found:
        period = period_of(b.budget.period)
        used = await sync_to_async(used_in_period, thread_sensitive=False)(
            b.budget.scope, b.budget.owner_id, period, b.money
        )
        await _run(store().seed, b.check.name, used, ttl_of(period, now), now)


def _refusal(key: KeyInfo, outcome: Outcome, amount: int, found: list[BudgetCheck]) -> GatewayError:
    check = outcome.refused
    if check is None:  # still missing after seeding: only if the store lost it again at once
        return _refuse(503, "overloaded_error", "The gateway's limit counters are unavailable; retry shortly.")
    if check.name.startswith("rpm:"):
        message = f"This API key is limited to {key.rpm_limit} requests per minute."
        return _refuse(429, "rate_limit_error", message, retry_after=outcome.retry_after)
    if check.name.startswith("tpm:"):
        if amount > check.limit:
            message = (
                f"This request may use up to {amount} tokens (its input and max_tokens), more than this API key's"
                f" limit of {check.limit} tokens per minute: lower max_tokens."
            )
            return _refuse(429, "rate_limit_error", message, retry=False)
        message = f"This API key is limited to {check.limit} tokens per minute."
        return _refuse(429, "rate_limit_error", message, retry_after=outcome.retry_after)
    budget = next(b for b in found if b.check.name == check.name)
    message = refusal_message(budget, outcome.used, check.amount)
    return _refuse(429, "rate_limit_error", message, retry=False)
