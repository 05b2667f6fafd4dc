"""Provider circuits: failures open them, a cool-down keeps traffic away, one probe closes them again.

A provider that fails (connect error, timeout, 5xx, 529, 429) `circuit_failures` times (0: it has no
circuit) within `circuit_window` seconds is open for `circuit_cooldown` seconds, doubled on each trip in
a row (up to MAX_COOLDOWN); a 429's retry-after cools it at least that long. Once the cool-down is over it is
half-open: one request, across every worker, may probe it (`admit` claims the probe); its success
closes the circuit, its failure opens it again for longer. Client errors never count.

State lives in the shared counters store (one compare-and-swap per change, so workers and replicas
agree) as one small JSON value per provider; a healthy provider has none. Each process reads every
circuit at most once per READ_EVERY seconds, so a request that meets no failure costs no store call.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict, dataclass, field, replace

import orjson
from asgiref.sync import sync_to_async

from api.admission.counters import store
from api.providers.errors import RETRYABLE_STATUSES, ProviderError
from api.translate.errors import ApiError
from routing.resolve import ProviderInfo

log = logging.getLogger("api.forward.health")
MAX_COOLDOWN = 600.0
READ_EVERY = 1.0
PROBE_TIMEOUT = 30.0
"""A probe not answered by then (its worker died) lets another request probe."""
SWAP_TRIES = 5
KEPT = 20
"""Failure times kept per provider (what the admin counts in the window), at least the threshold."""


@dataclass(frozen=True, slots=True)
class Circuit:
    """One provider's health; `until` > 0 once it has been opened and until a probe closes it."""

    failures: tuple[float, ...] = ()
    until: float = 0.0
    trips: int = 0
    probe: float = 0.0
    error: str = ""
    error_at: float = 0.0

    def state(self, now: float) -> str:
        if not self.until:
            return "closed"
        return "open" if now < self.until else "half-open"

    def cooling(self, now: float) -> bool:
        """No request may go there: open, or half-open with a probe already on its way."""
        return now < self.until or (self.until > 0 and now - self.probe < PROBE_TIMEOUT and self.probe >= self.until)

    def failures_within(self, window: float, now: float) -> int:
        return sum(1 for t in self.failures if t > now - window)


@dataclass(slots=True)
class _Cache:
    circuits: dict[int, Circuit] = field(default_factory=dict)
    """Replaced, never changed in place: with Redis, writes run on a thread while the loop reads."""
    expires: float = 0.0


_cache = _Cache()


def trips_circuit(error: ProviderError) -> bool:
    """Failures of the provider (not of the request): connect errors, timeouts, 408, 429, 5xx, 529."""
    return error.error.status in RETRYABLE_STATUSES or error.error.status >= 500


def _decode(raw: bytes) -> Circuit:
    data = orjson.loads(raw)
    return Circuit(**{**data, "failures": tuple(data.get("failures", ()))})


def read_all() -> dict[int, Circuit]:
    """Every stored circuit, fresh from the store (the admin and /metrics; the hot path uses `circuits`)."""
    _cache.circuits = {int(k): _decode(v) for k, v in store().circuits().items()}
    _cache.expires = time.monotonic() + READ_EVERY
    return _cache.circuits


def current() -> dict[int, Circuit]:
    """`circuits` for synchronous readers (the admin): at most READ_EVERY seconds old."""
    return _cache.circuits if time.monotonic() < _cache.expires else read_all()


async def circuits() -> dict[int, Circuit]:
    """The circuits as this process last read them, at most READ_EVERY seconds old."""
    if time.monotonic() < _cache.expires:
        return _cache.circuits
    return await _run(read_all)


def forget() -> None:
    """Drop this process's cached read (tests, after clearing the store)."""
    _cache.circuits, _cache.expires = {}, 0.0


async def _run(work, *args):
    if store().blocking:
        return await sync_to_async(work, thread_sensitive=False)(*args)
    return work(*args)


def _change(provider_id: int, update) -> Circuit | None:
    """Apply `update(old) -> new` atomically to the stored circuit; the new circuit (None: healthy)."""
    counters = store()
    for _ in range(SWAP_TRIES):
        raw = counters.circuits().get(str(provider_id))
        new = update(_decode(raw) if raw else Circuit())
        encoded = orjson.dumps(asdict(new)) if new is not None else None
        if counters.swap_circuit(str(provider_id), raw, encoded):
            others = {k: v for k, v in _cache.circuits.items() if k != provider_id}
            _cache.circuits = others if new is None else {**others, provider_id: new}
            return new
    log.warning("circuit of provider %s changed under us %d times; giving up this update", provider_id, SWAP_TRIES)
    return None


async def admit(provider: ProviderInfo, now: float) -> bool:
    """Whether a request may go to `provider` now; claims the one probe of a half-open circuit."""
    circuit = (await circuits()).get(provider.id)
    if circuit is None or circuit.state(now) == "closed":
        return True
    if circuit.cooling(now):
        return False

    def claim(old: Circuit) -> Circuit:
        if old.cooling(now) or not old.until:
            return old
        return replace(old, probe=now)

    claimed = await _run(_change, provider.id, claim)
    return claimed is not None and claimed.probe == now


async def failed(provider: ProviderInfo, error: ProviderError, now: float) -> None:
    """Count a failure of `provider`; open its circuit when it is due (or when it said retry-after).
    A provider with `circuit_failures` 0 has no circuit: nothing is counted."""
    if not provider.circuit_failures:
        return

    def count(old: Circuit) -> Circuit:
        window = provider.circuit_window
        failures = (*(t for t in old.failures if t > now - window), now)[-max(provider.circuit_failures, KEPT) :]
        new = replace(old, failures=failures, error=error.error.message[:200], error_at=now)
        probing = old.until > 0 and now >= old.until
        if probing or (len(failures) >= provider.circuit_failures and now >= old.until):
            cooldown = min(provider.circuit_cooldown * 2**old.trips, MAX_COOLDOWN)
            new = replace(new, until=max(now + cooldown, old.until), trips=old.trips + 1)
        if error.error.status == 429 and (asked := retry_after_seconds(error.error)):
            new = replace(new, until=max(new.until, now + min(asked, MAX_COOLDOWN)))
        return new

    await _run(_change, provider.id, count)


async def succeeded(provider: ProviderInfo, now: float) -> None:
    """A success closes a circuit that had opened (the probe's answer); otherwise nothing is written."""
    circuit = _cache.circuits.get(provider.id)
    if circuit is None or not circuit.until or now < circuit.until:
        return
    await _run(_change, provider.id, lambda old: None if old.until and now >= old.until else old)


def soonest_end(provider_ids: list[int], now: float) -> float:
    """Seconds until the first of these providers may be tried again (at least 1)."""
    ends = [c.until for i in provider_ids if (c := _cache.circuits.get(i)) and c.until > now]
    return max(1.0, min(ends) - now) if ends else 1.0


def retry_after_seconds(error: ApiError) -> float | None:
    """What the upstream asked for in `retry-after-ms` or `retry-after` (seconds), if it said."""
    try:
        if error.retry_after_ms:
            asked = float(error.retry_after_ms) / 1000
        elif error.retry_after:
            asked = float(error.retry_after)
        else:
            return None
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff
    return max(asked, 0.0) if math.isfinite(asked) else None
