"""Cheap refusals per client address: repeated wrong keys, and count_tokens calls.

After AUTH_FAILURES_PER_MINUTE wrong keys (none of ours: a revoked, expired or missing key is a client
to fix, not a guess) from one address, that address gets a 429 for AUTH_FAILURE_COOLDOWN seconds,
before any key is looked at (so no database query, no guess of the shared key). The counter is shared
by the workers when the cache is (Redis); the block itself is remembered in each process, so a blocked
address costs a dictionary lookup: another worker blocks it on that worker's first wrong key from it
(at most one more guess per worker).

IPv6 clients are counted per /64, the block a single host is usually given.
"""

from __future__ import annotations

import contextlib
import ipaddress
import math
import time

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.cache import cache

from api.http.errors import GatewayError
from api.translate.errors import ApiError
from routing.snapshot import KeyInfo

WINDOW = 60
MAX_BLOCKED = 10_000
_blocked: dict[str, float] = {}
"""Address -> the time.time() its cool-down ends, in this process."""


def _hit(name: str, window: int) -> int:
    cache.add(name, 0, window)
    with contextlib.suppress(ValueError):  # expired between add and incr: start again
        return cache.incr(name)
    cache.add(name, 1, window)
    return 1


async def count(name: str, window: int = WINDOW) -> int:
    """Add one to counter `name`, which lives `window` seconds from its first hit, and return it.

    The one place these counters are kept: Django's cache (per process, or shared with Redis)."""
    return await sync_to_async(_hit, thread_sensitive=False)(name, window)


def client_address(request) -> str:
    """The caller's address as the throttle counts it: IPv4 as is, IPv6 by its /64."""
    address = request.META.get("REMOTE_ADDR") or ""
    if ":" not in address:
        return address
    try:
        ip = ipaddress.IPv6Address(address)
    except ValueError:
        return address
    if ip.ipv4_mapped:
        return str(ip.ipv4_mapped)
    return str(ipaddress.IPv6Network(f"{ip}/64", strict=False))


def refuse_if_blocked(address: str) -> None:
    """429 while `address` is cooling down after too many wrong keys."""
    until = _blocked.get(address)
    if until is None:
        return
    left = until - time.time()
    if left <= 0:
        _blocked.pop(address, None)
        return
    raise GatewayError(
        ApiError(
            429,
            "rate_limit_error",
            "Too many requests with a wrong API key from this address.",
            retry_after=str(math.ceil(left)),
        )
    )


async def note_failed_authentication(address: str) -> None:
    if not settings.AUTH_FAILURES_PER_MINUTE:
        return
    if await count(f"throttle:auth:{address}") >= settings.AUTH_FAILURES_PER_MINUTE:
        if len(_blocked) >= MAX_BLOCKED:
            _blocked.clear()
        _blocked[address] = time.time() + settings.AUTH_FAILURE_COOLDOWN


async def check_count_tokens_rate(request, key: KeyInfo | None) -> None:
    """429 past COUNT_TOKENS_PER_MINUTE calls this minute with `key` (or from this address without one)."""
    limit = settings.COUNT_TOKENS_PER_MINUTE
    if not limit:
        return
    who = f"key:{key.id}" if key else client_address(request)
    now = int(time.time())
    if await count(f"throttle:count_tokens:{who}:{now // WINDOW}", WINDOW * 2) > limit:
        raise GatewayError(
            ApiError(
                429,
                "rate_limit_error",
                f"count_tokens is limited to {limit} calls per minute.",
                retry_after=str(WINDOW - now % WINDOW),
            )
        )
