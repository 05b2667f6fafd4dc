"""Cheap refusals per client address: repeated wrong keys, and count_tokens calls.

After AUTH_FAILURES_PER_MINUTE wrong keys (none of ours: a revoked, expired or missing key is a client
to fix, not a guess) from one address, that address gets a 429 for AUTH_FAILURE_COOLDOWN seconds,
before any key is looked at (so no database query, no guess of the shared key). The failures are
counted on the limit counters every worker shares (a sliding minute, api/admission/counters.py); the
block itself is remembered in each process, so a blocked address costs a dictionary lookup: another
worker blocks it on that worker's first wrong key from it (at most one more guess per worker).

IPv6 clients are counted per /64, the block a single host is usually given.
"""

from __future__ import annotations

import ipaddress
import math
import time

from django.conf import settings

from api.admission.counters import within_rate
from api.http.errors import GatewayError
from api.translate.errors import ApiError
from routing.snapshot import KeyInfo

MAX_BLOCKED = 10_000
_blocked: dict[str, float] = {}
"""Address -> the time.time() its cool-down ends, in this process."""


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
    if await within_rate(f"auth-failures:{address}", settings.AUTH_FAILURES_PER_MINUTE - 1) is not None:
        if len(_blocked) >= MAX_BLOCKED:
            _blocked.clear()
        _blocked[address] = time.time() + settings.AUTH_FAILURE_COOLDOWN


async def check_count_tokens_rate(request, key: KeyInfo | None) -> None:
    """429 past COUNT_TOKENS_PER_MINUTE calls in a minute with `key` (or from this address without one)."""
    limit = settings.COUNT_TOKENS_PER_MINUTE
    if not limit:
        return
    who = f"key:{key.id}" if key else client_address(request)
    wait = await within_rate(f"count-tokens:{who}", limit)
    if wait is not None:
        message = f"count_tokens is limited to {limit} calls per minute."
        raise GatewayError(ApiError(429, "rate_limit_error", message, retry_after=str(wait)))
