"""Per-key limits, checked before any upstream call: model allowlist, requests and tokens per minute, budget.

Counters live in Django's cache, so they hold across workers once a shared cache (Redis) is
configured; with the default in-process cache they hold per process. Tokens are charged by the
usage writer after each row is written (`charge`), so a minute's token count lags by about a second.
"""

from __future__ import annotations

import contextlib
import time

from asgiref.sync import sync_to_async
from django.core.cache import cache, caches
from django.core.cache.backends.locmem import LocMemCache
from django.db.models import Sum
from django.db.models.functions import Coalesce

from api.admission.auth import Caller
from api.http.errors import GatewayError
from api.translate.errors import ApiError
from routing.models import budget_period_start
from routing.snapshot import KeyInfo, usable_connection

WINDOW = 60
BUDGET_CACHE_SECONDS = 24 * 3600


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


def check_model_allowed(caller: Caller, model: str) -> None:
    """403 when the key names allowed model patterns and none matches."""
    key = caller.key
    if key is None or not key.model_patterns:
        return
    wanted = model.lower()
    if not any(p.match(wanted) for p in key.model_patterns):
        raise _refuse(403, "permission_error", f"This API key may not use model {model!r}.", retry=False)


async def _cache(method: str, *args):
    """A call to the default cache. Django's async cache methods hop to a thread for every backend;
    in-process (LocMem) the work is a locked dict update, so it runs here; on Redis it runs off the
    event loop. `incr` is atomic on both (`aincr` is a racy get then set)."""
    backend = caches["default"]
    if isinstance(backend, LocMemCache):
        return getattr(backend, method)(*args)
    return await sync_to_async(getattr(backend, method), thread_sensitive=False)(*args)


def _minute() -> tuple[int, int]:
    now = int(time.time())
    return now // WINDOW, WINDOW - now % WINDOW


async def check_rates(caller: Caller) -> None:
    """429 when this minute's requests or tokens are used up, with the seconds until the next minute."""
    key = caller.key
    if key is None or not (key.rpm_limit or key.tpm_limit or key.budget_tokens):
        return
    minute, left = _minute()
    if key.rpm_limit:
        name = f"limit:rpm:{key.id}:{minute}"
        await _cache("add", name, 0, WINDOW * 2)
        if await _cache("incr", name) > key.rpm_limit:
            raise _refuse(
                429,
                "rate_limit_error",
                f"This API key is limited to {key.rpm_limit} requests per minute.",
                retry_after=left,
            )
    if key.tpm_limit and (await _cache("get", f"limit:tpm:{key.id}:{minute}") or 0) >= key.tpm_limit:
        raise _refuse(
            429, "rate_limit_error", f"This API key is limited to {key.tpm_limit} tokens per minute.", retry_after=left
        )
    if key.budget_tokens:
        used = await _budget_used(key)
        if used >= key.budget_tokens:
            period = "in total" if key.budget_period == "total" else f"per {key.budget_period}"
            raise _refuse(
                429,
                "rate_limit_error",
                f"This API key has used its budget of {key.budget_tokens} tokens {period}.",
                retry=False,
            )


def _budget_name(key_id: int, period: str, now=None) -> str:
    start = budget_period_start(period, now)
    return f"limit:budget:{key_id}:{start.date().isoformat() if start else 'total'}"


@usable_connection
def budget_used_from_db(key_id: int, period: str) -> int:
    from routing.models import UsageLog

    rows = UsageLog.objects.filter(key_id=key_id)
    start = budget_period_start(period)
    if start is not None:
        rows = rows.filter(created_at__gte=start)
    total = rows.aggregate(
        n=Coalesce(Sum("input_tokens"), 0)
        + Coalesce(Sum("output_tokens"), 0)
        + Coalesce(Sum("cache_read_tokens"), 0)
        + Coalesce(Sum("cache_creation_tokens"), 0)
    )
    return int(total["n"])


async def _budget_used(key: KeyInfo) -> int:
    name = _budget_name(key.id, key.budget_period)
    used = await _cache("get", name)
    if used is None:
        used = await sync_to_async(budget_used_from_db)(key.id, key.budget_period)
        await _cache("add", name, used, BUDGET_CACHE_SECONDS)
    return used


def charge(records) -> None:
    """Add written rows' tokens to their key's minute and budget counters (usage writer thread)."""
    for record in records:
        tokens = record.input_tokens + record.output_tokens + record.cache_read_tokens + record.cache_creation_tokens
        if record.key_id is None or not tokens:
            continue
        minute = int(record.created_at.timestamp()) // WINDOW
        name = f"limit:tpm:{record.key_id}:{minute}"
        cache.add(name, 0, WINDOW * 2)
        cache.incr(name, tokens)
        for period in ("day", "week", "month", "total"):
            # Not cached yet (ValueError): the next check loads the sum from the database.
            with contextlib.suppress(ValueError):
                cache.incr(_budget_name(record.key_id, period, record.created_at), tokens)
