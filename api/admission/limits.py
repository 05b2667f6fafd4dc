"""Per-key limits, checked before any upstream call and held across every worker.

- The allowlist is checked against the requested name *and* what it resolves to (`check_route_allowed`):
  a key allowed `*haiku*` cannot reach an opus route by asking for `claude-opus-4-haiku`.
- Requests and tokens per minute are sliding windows; budgets are counted per period kind and start.
- A request reserves what it can cost at admission (`reserve`): its estimated input plus the most output
  it may be given (max_tokens under the caps of the routes it may reach). It is refused when that does not
  fit; when it ends, the reservation is settled to the tokens it really used (`settle`). Concurrent
  requests therefore cannot walk through a budget: overshoot comes only from input tokens above the
  estimate (see `api.translate.tokens.input_bound`) and from an upstream ignoring max_tokens.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Sequence

from asgiref.sync import sync_to_async
from django.db.models import Sum
from django.db.models.functions import Coalesce

from api.admission.auth import Caller
from api.admission.counters import Check, Outcome, store
from api.http.errors import GatewayError
from api.translate.errors import ApiError
from api.translate.tokens import input_bound
from api.translate.types import JSON
from routing.periods import Period, period_of
from routing.resolve import RouteInfo, reachable_routes
from routing.snapshot import KeyInfo, usable_connection

log = logging.getLogger("api.admission.limits")
WINDOW = 60
TOTAL_BUDGET_REFRESH = 24 * 3600
"""A total budget's counter is reloaded from the usage log once a day (other periods: when they end)."""


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
    """Whether a request for `model` may be served by `route`. A pattern that matches the route's
    upstream model allows it outright. Otherwise some pattern matching `model` must either name `route`
    (match its upstream model or its own pattern read as a name: `*haiku*` names a `*haiku*` or a
    `claude-3-haiku-*` route) or name no route at all (`claude-*`: a filter on names only). So a key
    allowed `*haiku*` cannot reach the `*opus*` route by asking for `claude-opus-4-haiku`."""
    if key is None or not key.model_patterns:
        return True
    if _allows(key, route.target_model):
        return True
    wanted = model.lower()
    for pattern in key.model_patterns:
        if pattern.match(wanted):
            named = [r for r in routes if _names(pattern, r)]
            if not named or route in named:
                return True
    return False


def _names(pattern: re.Pattern[str], route: RouteInfo) -> bool:
    return bool(pattern.match(route.target_model.lower()) or pattern.match(route.pattern.strip().lower()))


def check_route_allowed(caller: Caller, model: str, route: RouteInfo, routes: Sequence[RouteInfo]) -> None:
    if not permits(caller.key, model, route, routes):
        message = f"This API key may not use model {model!r}: it is served by {route.target_model!r}."
        raise _refuse(403, "permission_error", message, retry=False)


def output_bound(body: JSON, routes: list[RouteInfo]) -> int:
    """The most output tokens the request can be given on any route it may reach."""
    wanted = int(body.get("max_tokens") or 0)
    return max(min(wanted, r.max_tokens) if r.max_tokens else wanted for r in routes)


def _budget(key: KeyInfo, now: float) -> tuple[Period, str, int]:
    period = period_of(key.budget_period)
    ttl = int(period.end.timestamp() - now) + 3600 if period.end else TOTAL_BUDGET_REFRESH
    return period, f"budget:key:{key.id}:{period.label}", ttl


def _checks(key: KeyInfo, amount: int, now: float) -> list[Check]:
    checks = []
    if key.rpm_limit:
        checks.append(Check(f"rpm:key:{key.id}", key.rpm_limit, 1, window=WINDOW, settles=False))
    if key.tpm_limit:
        checks.append(Check(f"tpm:key:{key.id}", key.tpm_limit, amount, window=WINDOW))
    if key.budget_tokens:
        _, name, _ = _budget(key, now)
        checks.append(Check(name, key.budget_tokens, amount))
    return checks


async def reserve(
    caller: Caller, body: JSON, route: RouteInfo, routes: Sequence[RouteInfo], body_size: int, hold_id: str
) -> str | None:
    """Reserve the request's cost on every limit of its key; its hold id, or None when nothing limits it.
    Raises the 429 of the first limit the reservation does not fit."""
    key = caller.key
    if key is None or not (key.rpm_limit or key.tpm_limit or key.budget_tokens):
        return None
    reachable = [t for r in reachable_routes(route, routes, caller.user_id, caller.group_ids) for t in r.bound]
    amount = input_bound(body, body_size) + output_bound(body, reachable)
    now = time.time()
    checks = _checks(key, amount, now)
    outcome = await _run(store().reserve, hold_id, checks, now)
    if outcome.missing:
        await _seed_budget(key, now)
        outcome = await _run(store().reserve, hold_id, checks, now)
    if not outcome.admitted:
        raise _refusal(key, outcome, amount)
    return hold_id


def settle(hold_id: str, tokens: int) -> None:
    """The request has ended: its reservation becomes the tokens it used. Never raises; on Redis it
    runs off the event loop."""
    if store().blocking and _running_loop():
        asyncio.get_running_loop().run_in_executor(None, _settle_quietly, hold_id, tokens)
    else:
        _settle_quietly(hold_id, tokens)


def _settle_quietly(hold_id: str, tokens: int) -> None:
    try:
        store().settle(hold_id, tokens)
    except Exception:  # the counters' store is down: the reservation stays (conservative), the request ends
        log.exception("settling the limits of request %s failed", hold_id)


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


async def _seed_budget(key: KeyInfo, now: float) -> None:
    period, name, ttl = _budget(key, now)
    used = await sync_to_async(budget_used_from_db)(key.id, period)
    await _run(store().seed, name, used, ttl, now)


@usable_connection
def budget_used_from_db(key_id: int, period: Period) -> int:
    from routing.models import UsageLog

    rows = UsageLog.objects.filter(key_id=key_id)
    if period.start is not None:
        rows = rows.filter(created_at__gte=period.start)
    total = rows.aggregate(
        n=Coalesce(Sum("input_tokens"), 0)
        + Coalesce(Sum("output_tokens"), 0)
        + Coalesce(Sum("cache_read_tokens"), 0)
        + Coalesce(Sum("cache_creation_tokens"), 0)
    )
    return int(total["n"])


def _refusal(key: KeyInfo, outcome: Outcome, amount: int) -> GatewayError:
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
    return _refuse(429, "rate_limit_error", _budget_message(key, outcome.used, amount), retry=False)


def _budget_message(key: KeyInfo, used: int, amount: int) -> str:
    period = period_of(key.budget_period)
    per = "in total" if period.start is None else f"per {period.kind}"
    resets = "" if period.end is None else f" It resets at {period.end.isoformat()}."
    if used >= (key.budget_tokens or 0):
        return f"This API key has used its budget of {key.budget_tokens} tokens {per}.{resets}"
    return (
        f"This API key has {key.budget_tokens - used} tokens left of its budget of {key.budget_tokens} tokens {per};"
        f" this request may use up to {amount} (its input and max_tokens): lower max_tokens.{resets}"
    )
