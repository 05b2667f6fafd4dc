"""Which of a route's targets to try, in which order, by the route's strategy.

- weighted: random by weight; a caller (key, and Claude Code's `metadata.user_id`) always draws the same
  order (rendezvous hashing weighted by weight), so its conversation stays on one deployment and the
  provider's prompt cache keeps hitting, while across callers the weights still split the traffic.
- ordered: the targets in their position order (the first healthy one serves).
- least_busy: fewest requests open in this process; a caller keeps its own target while that is among the
  least busy (within AFFINITY_SLACK requests).
- lowest_latency: lowest moving average of time to the upstream's first byte (unmeasured ones first).

Targets whose provider's circuit is cooling are left out (health.py). A provider at its own rpm/tpm limit
is skipped when its turn comes (`claim`, on the shared counters like keys' limits): never an error.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections import defaultdict
from dataclasses import dataclass

from asgiref.sync import sync_to_async

from api.accounting.exchange import Exchange
from api.admission import limits
from api.admission.counters import Check, store
from api.forward import health
from api.translate.tokens import input_bound
from api.translate.types import JSON
from routing.resolve import ProviderInfo, RouteInfo

AFFINITY_SLACK = 0
LATENCY_WEIGHT = 0.3
"""Weight of the newest sample in the moving average of time to first byte."""
WINDOW = 60

inflight: defaultdict[int, int] = defaultdict(int)
"""Target id -> requests this process has open on it (least_busy)."""
latency: dict[int, float] = {}
"""Target id -> moving average of seconds to the upstream's first byte (lowest_latency)."""


@dataclass(frozen=True, slots=True)
class Demand:
    """What the balancer needs to know of a request: who asks (affinity) and its body (token estimate)."""

    affinity: bytes | None
    body: JSON
    body_size: int

    @classmethod
    def of(cls, key_id: int | None, body: JSON, body_size: int) -> Demand:
        metadata = body.get("metadata")
        user = metadata.get("user_id") if isinstance(metadata, dict) else None
        if key_id is None and not user:
            return cls(None, body, body_size)
        return cls(f"{key_id}\0{user or ''}".encode(), body, body_size)

    def tokens(self, provider: ProviderInfo) -> int:
        """The most tokens the request may use there: its input estimate plus its capped max_tokens."""
        wanted = int(self.body.get("max_tokens") or 0)
        cap = provider.max_output_tokens
        return input_bound(self.body, self.body_size) + (min(wanted, cap) if cap else wanted)


def _draw(affinity: bytes | None, target_id: int) -> float:
    """A number in (0, 1): the caller's fixed draw for this target, or a random one without a caller."""
    if affinity is None:
        return 1.0 - random.random()
    digest = hashlib.blake2b(affinity + target_id.to_bytes(8, "little"), digest_size=8).digest()
    return (int.from_bytes(digest, "little") + 1) / (2**64 + 1)


def _rendezvous(bound: list[RouteInfo], affinity: bytes | None) -> list[RouteInfo]:
    """Highest `weight / -ln(draw)` first: the first is target i with probability weight_i / sum."""
    weights = {t.id: t.weight for t in bound[0].targets}

    def score(r: RouteInfo) -> float:
        weight = weights.get(r.target_id, 1)
        return weight / -math.log(_draw(affinity, r.target_id or 0)) if weight else -1.0

    return sorted(bound, key=score, reverse=True)


def _least_busy(bound: list[RouteInfo], affinity: bytes | None) -> list[RouteInfo]:
    by_load = sorted(bound, key=lambda r: (inflight[r.target_id], random.random()))
    if affinity is None:
        return by_load
    least = inflight[by_load[0].target_id]
    near = [r for r in _rendezvous(bound, affinity) if inflight[r.target_id] <= least + AFFINITY_SLACK]
    return near + [r for r in by_load if r not in near]


def _lowest_latency(bound: list[RouteInfo], affinity: bytes | None) -> list[RouteInfo]:
    return sorted(bound, key=lambda r: latency.get(r.target_id, 0.0))


_STRATEGIES = {
    "weighted": _rendezvous,
    "ordered": lambda bound, affinity: bound,
    "least_busy": _least_busy,
    "lowest_latency": _lowest_latency,
}


async def order(route: RouteInfo, demand: Demand, now: float) -> list[RouteInfo]:
    """The route bound to each target not cooling down, in the order to try them."""
    circuits = await health.circuits()
    bound = [r for r in route.bound if not ((c := circuits.get(r.provider.id)) and c.cooling(now))]
    if len(bound) < 2:
        return bound
    return _STRATEGIES.get(route.strategy, _rendezvous)(bound, demand.affinity)


@dataclass(slots=True)
class Place:
    """A request's place on a target: counted busy there, and holding its provider's rpm/tpm."""

    target: RouteInfo
    hold: str | None

    def end(self, tokens: int) -> None:
        """The target no longer serves the request: `tokens` (0 after a failure) settle the hold."""
        inflight[self.target.target_id] -= 1
        if self.hold is not None:
            limits.settle(self.hold, tokens)


async def claim(ex: Exchange, target: RouteInfo, demand: Demand, now: float) -> Place | None:
    """Take a place on `target`, or None to skip it: its circuit cooling (or another request has the
    probe of a half-open one), or its provider at its own rpm/tpm on the shared counters."""
    provider = target.provider
    if not await health.admit(provider, now):
        return None
    hold = None
    if provider.rpm_limit or provider.tpm_limit:
        hold = f"{ex.request_id}:provider:{provider.id}:{ex.record.attempts}"
        if not await _reserve(provider, hold, demand, now):
            return None
    inflight[target.target_id] += 1
    return Place(target, hold)


def measured(target: RouteInfo, seconds: float) -> None:
    """Fold one time to first byte into the target's moving average."""
    old = latency.get(target.target_id)
    latency[target.target_id] = seconds if old is None else old + LATENCY_WEIGHT * (seconds - old)


async def _reserve(provider: ProviderInfo, hold: str, demand: Demand, now: float) -> bool:
    checks = []
    if provider.rpm_limit:
        checks.append(Check(f"rpm:provider:{provider.id}", provider.rpm_limit, 1, window=WINDOW, settles=False))
    if provider.tpm_limit:
        checks.append(Check(f"tpm:provider:{provider.id}", provider.tpm_limit, demand.tokens(provider), window=WINDOW))
    counters = store()
    if counters.blocking:
        outcome = await sync_to_async(counters.reserve, thread_sensitive=False)(hold, checks, now)
    else:
        outcome = counters.reserve(hold, checks, now)
    return outcome.admitted
