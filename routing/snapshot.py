"""In-memory snapshots of routes and keys, so a warm request touches no database.

Each snapshot lives `CACHE_SECONDS`; a change saved in this process drops it at once (signals.py),
other processes see it within the TTL.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import DatabaseError, connection

from api.providers.headers import allowed_extra_headers
from routing import credentials
from routing.budget_info import BudgetInfo, budgets_of
from routing.conditions import parse_conditions
from routing.prices import load_price_table
from routing.resolve import ProviderInfo, RouteInfo, TargetInfo, compile_pattern
from routing.windows import target_window

T = TypeVar("T")
log = logging.getLogger("routing.snapshot")
SECRET_HEADER_NAME = re.compile(r"auth|key|token|secret|password|cookie|session|signature", re.I)
known_secrets: frozenset[str] = frozenset()
"""Every provider secret at the last two route loads (api/http/scrub.py redacts them); the previous
load's stay one load longer, for requests still in flight with a replaced key."""
_last_loaded_secrets: frozenset[str] = frozenset()


def usable_connection(query: Callable[..., T]) -> Callable[..., T]:
    """Run `query` as Django runs a request: on a connection that is not broken nor past
    `CONN_MAX_AGE`, closed afterwards when it is (with the default 0, at once). The API handler
    sends no request signals (proxy_site/handlers.py), so its cache misses do this themselves;
    inside a transaction (the admin's, a test's) the connection is left alone."""

    @functools.wraps(query)
    def wrapper(*args):
        if connection.in_atomic_block:
            return query(*args)
        connection.close_if_unusable_or_obsolete()
        try:
            return query(*args)
        finally:
            connection.close_if_unusable_or_obsolete()

    return wrapper


class Snapshot(Generic[T]):
    """A value loaded from the database and kept for a few seconds; one loader runs at a time."""

    def __init__(self, loader: Callable[[], T]) -> None:
        self._loader = loader
        self._value: T | None = None
        self._expires = 0.0
        self._loaded = False
        self._lock = threading.Lock()

    def get_sync(self) -> T:
        if time.monotonic() < self._expires:
            return self._value  # type: ignore[return-value]
        with self._lock:
            if time.monotonic() >= self._expires:
                try:
                    self._value, self._loaded = self._loader(), True
                except DatabaseError:
                    if not self._loaded:
                        raise
                    log.warning("database unavailable: serving the last known routes")
                self._expires = time.monotonic() + settings.CACHE_SECONDS
        return self._value  # type: ignore[return-value]

    async def get(self) -> T:
        if time.monotonic() < self._expires:
            return self._value  # type: ignore[return-value]
        return await sync_to_async(self.get_sync)()

    def invalidate(self) -> None:
        self._expires = 0.0


def provider_info(p) -> ProviderInfo:
    return ProviderInfo(
        id=p.id,
        name=p.name,
        kind=p.kind,
        base_url=p.base_url.rstrip("/"),
        api_key=p.api_key,
        profile=p.profile,
        api_version=p.api_version,
        extra_headers=allowed_extra_headers(p.extra_headers or {}),
        connect_timeout=p.connect_timeout,
        read_timeout=p.read_timeout,
        first_byte_timeout=p.first_byte_timeout,
        max_retries=p.max_retries,
        max_output_tokens=p.max_output_tokens,
        rpm_limit=p.rpm_limit,
        tpm_limit=p.tpm_limit,
        circuit_failures=p.circuit_failures,
        circuit_window=p.circuit_window,
        circuit_cooldown=p.circuit_cooldown,
        version=p.updated_at.isoformat() if p.updated_at else "",
    )


@usable_connection
def _load_routes() -> tuple[RouteInfo, ...]:
    from routing.models import ModelRoute

    rows = (
        ModelRoute.objects.filter(enabled=True)
        .prefetch_related("users", "groups", "fallback_links", "targets__provider")
        .order_by("priority", "id")
    )
    providers: dict[int, ProviderInfo] = {}
    routes = [route for r in rows if (route := _route_info(r, providers)) is not None]
    _refresh_secrets()
    return tuple(routes)


def _route_info(r, providers: dict[int, ProviderInfo]) -> RouteInfo | None:
    """The route row as served, or None when nothing can serve it (no enabled provider, invalid conditions)."""
    targets = [
        TargetInfo(
            id=t.id,
            provider=providers.get(t.provider_id) or providers.setdefault(t.provider_id, provider_info(t.provider)),
            model=t.model,
            weight=t.weight,
            context_window=target_window(t.context_window, t.provider, t.model),
        )
        for t in r.targets.all()
        if t.provider.enabled
    ]
    if not targets:
        return None  # no enabled provider serves it: as if disabled
    try:
        conditions = parse_conditions(r.conditions)
    except ValueError as exc:  # saved around the admin's validation (shell, SQL): skipped, and said
        log.error("route %s is skipped: its conditions are invalid: %s", r.name, exc)
        return None
    windows = [t.context_window for t in targets if t.context_window]
    return RouteInfo.over(
        targets,
        id=r.id,
        name=r.name,
        priority=r.priority,
        pattern=r.pattern,
        strategy=r.strategy,
        max_tokens_cap=r.max_tokens_cap,
        long_context=r.long_context,
        user_ids=frozenset(u.id for u in r.users.all()),
        group_ids=frozenset(g.id for g in r.groups.all()),
        fallback_ids=tuple(link.fallback_id for link in r.fallback_links.all()),
        conditions=conditions,
        context_window=min(windows) if windows else None,
        regex=compile_pattern(r.pattern),
    )


@usable_connection
def _load_direct() -> dict[str, ProviderInfo]:
    """Enabled providers that take direct `PROVIDER,MODEL` requests, by name."""
    from routing.models import Provider

    return {p.name: provider_info(p) for p in Provider.objects.filter(enabled=True, allow_direct=True)}


def _refresh_secrets() -> None:
    """Reload `known_secrets` from every provider (disabled ones too: a key stays secret) and the env."""
    from routing.models import Provider

    global known_secrets, _last_loaded_secrets
    found = {settings.OPENAI_API_KEY, settings.ANTHROPIC_API_KEY, *_secret_header_values(settings.CUSTOM_HEADERS)}
    for token, headers in Provider.objects.values_list("api_key_encrypted", "extra_headers"):
        with contextlib.suppress(credentials.CredentialError):  # undecryptable, so never sent: nothing to echo
            found.add(credentials.decrypt(token))
        found.update(_secret_header_values(headers))
    fresh = frozenset(s for s in found if s)
    if fresh | _last_loaded_secrets != known_secrets:  # an unchanged set keeps its identity: no scrubber rebuild
        known_secrets = fresh | _last_loaded_secrets
    _last_loaded_secrets = fresh


def _secret_header_values(headers: object) -> set[str]:
    """Values of auth/key/token-like extra headers, and their last word (`Bearer xyz` -> `xyz`). Others
    are not secrets, and redacting them would be wrong: an `HTTP-Referer: https://team.example` would
    turn every `https://` in an error message into `[redacted]` (a head of 8 characters)."""
    found = set()
    for name, value in headers.items() if isinstance(headers, dict) else ():
        if SECRET_HEADER_NAME.search(str(name)) and (words := str(value).split()):
            found.update((str(value), words[-1]))
    return found


routes = Snapshot(_load_routes)
direct = Snapshot(_load_direct)
prices = Snapshot(usable_connection(load_price_table))
"""The price table (routing/prices.py): every request's cost is computed from it, off the database."""


@dataclass(frozen=True, slots=True)
class KeyInfo:
    id: int
    prefix: str
    secret_hash: str
    user_id: int
    username: str
    group_ids: frozenset[int]
    expires_at: datetime | None
    revoked: bool
    model_patterns: tuple[re.Pattern[str], ...]
    rpm_limit: int | None
    tpm_limit: int | None
    budget_tokens: int | None
    budget_period: str
    may_test_connection: bool = False
    budgets: tuple[BudgetInfo, ...] = ()


@usable_connection
def _load_key(digest: str) -> KeyInfo | None:
    from routing.models import ProxyKey

    key = ProxyKey.objects.select_related("user").filter(secret_hash=digest).first()
    if key is None or not key.user.is_active:
        return None
    return key_info(key)


def key_info(key) -> KeyInfo:
    """What the gateway knows of a key when it serves a request with it (also what the portal lists)."""
    return KeyInfo(
        id=key.id,
        prefix=key.prefix,
        secret_hash=key.secret_hash,
        user_id=key.user_id,
        username=key.user.get_username(),
        group_ids=frozenset(key.user.groups.values_list("id", flat=True)),
        expires_at=key.expires_at,
        revoked=key.revoked_at is not None,
        model_patterns=tuple(compile_pattern(p) for p in key.model_patterns()),
        rpm_limit=key.rpm_limit,
        tpm_limit=key.tpm_limit,
        budget_tokens=key.budget_tokens,
        budget_period=key.budget_period,
        may_test_connection=key.may_test_connection,
        budgets=budgets_of(key),
    )


class KeyCache:
    """Key lookups by hash, cached (misses too) for `CACHE_SECONDS`; bounded in size."""

    MAX_ENTRIES = 10_000

    def __init__(self) -> None:
        self._entries: dict[str, tuple[float, KeyInfo | None]] = {}

    async def get(self, digest: str) -> KeyInfo | None:
        hit = self._entries.get(digest)
        if hit is not None and time.monotonic() < hit[0]:
            return hit[1]
        try:
            info = await sync_to_async(_load_key)(digest)
        except DatabaseError:
            if hit is None:
                raise
            log.warning("database unavailable: serving the last known state of key %s", hit[1] and hit[1].prefix)
            info = hit[1]
        if len(self._entries) >= self.MAX_ENTRIES:
            self._entries.clear()
        self._entries[digest] = (time.monotonic() + settings.CACHE_SECONDS, info)
        return info

    def invalidate(self) -> None:
        # Expire, don't forget: the last known state still serves while the database is down.
        self._entries = {digest: (0.0, info) for digest, (_, info) in self._entries.items()}


keys = KeyCache()


def invalidate_all() -> None:
    routes.invalidate()
    direct.invalidate()
    prices.invalidate()
    keys.invalidate()
