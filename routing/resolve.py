"""Route resolution: a pure function of the requested model, the caller, what the request needs and the routes.

Routes and providers are snapshotted into frozen dataclasses (see `routing.snapshot`) so the hot
path reads memory, not the database.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

from routing.conditions import Conditions
from routing.needs import RequestNeeds

NO_NEEDS = RequestNeeds()
NO_CONDITIONS = Conditions()


@dataclass(frozen=True, slots=True)
class ProviderInfo:
    id: int
    name: str
    kind: str
    base_url: str
    api_key: str = field(repr=False)
    profile: str = "generic"
    api_version: str = ""
    extra_headers: dict[str, str] = field(default_factory=dict)
    connect_timeout: float = 10.0
    read_timeout: float = 90.0
    first_byte_timeout: float = 600.0
    max_retries: int = 2
    max_output_tokens: int | None = None
    rpm_limit: int | None = None
    tpm_limit: int | None = None
    circuit_failures: int = 3
    circuit_window: int = 60
    circuit_cooldown: int = 30
    version: str = ""
    """Changes whenever the row changes; pooled HTTP clients are rebuilt on a new version."""


@dataclass(frozen=True, slots=True)
class TargetInfo:
    """One deployment of a route: a provider and the model it calls there."""

    id: int
    provider: ProviderInfo
    model: str
    weight: int = 1
    context_window: int | None = None


@dataclass(frozen=True, slots=True)
class RouteInfo:
    """A route bound to one of its targets (`provider`, `target_model`): resolution returns it bound to its
    first target; the balancer picks among `bound`, one copy per target, made once per snapshot."""

    id: int
    priority: int
    pattern: str
    provider: ProviderInfo
    target_model: str
    target_id: int | None = None
    name: str = ""
    strategy: str = "weighted"
    targets: tuple[TargetInfo, ...] = ()
    max_tokens_cap: int | None = None
    long_context: bool = False
    user_ids: frozenset[int] = frozenset()
    group_ids: frozenset[int] = frozenset()
    fallback_ids: tuple[int, ...] = ()
    conditions: Conditions = NO_CONDITIONS
    context_window: int | None = None
    """The smallest context window its targets state (any of them may serve), None when none does."""
    regex: re.Pattern[str] = field(default=re.compile(""), compare=False, repr=False)
    bound: tuple[RouteInfo, ...] = field(default=(), compare=False, repr=False)

    def __post_init__(self) -> None:
        if not self.bound:  # a route built without targets (tests, tools) is bound to itself
            object.__setattr__(self, "bound", (self,))

    @classmethod
    def over(cls, targets: Sequence[TargetInfo], **fields) -> RouteInfo:
        """The route bound to its first target, with `bound` holding it bound to each target in turn."""
        first = targets[0]
        route = cls(
            provider=first.provider, target_model=first.model, target_id=first.id, targets=tuple(targets), **fields
        )
        rest = (replace(route, provider=t.provider, target_model=t.model, target_id=t.id) for t in targets[1:])
        copies = (route, *rest)
        for copy in copies:
            object.__setattr__(copy, "bound", copies)
        return route

    @property
    def scoped(self) -> bool:
        return bool(self.user_ids or self.group_ids)

    def applies_to(self, user_id: int | None, group_ids: Iterable[int]) -> bool:
        if not self.scoped:
            return True
        return user_id in self.user_ids or not self.group_ids.isdisjoint(group_ids)

    @property
    def max_tokens(self) -> int | None:
        """The route's cap, else the provider's default cap."""
        return self.max_tokens_cap or self.provider.max_output_tokens

    def fits(self, needs: RequestNeeds) -> bool:
        """Whether the request's input and its output (max_tokens under the route's cap) fit the window."""
        if self.context_window is None:
            return True
        output = min(needs.max_tokens, self.max_tokens) if self.max_tokens else needs.max_tokens
        return needs.input_tokens + output <= self.context_window

    def mismatch(
        self, wanted: str, user_id: int | None, group_ids: frozenset[int], needs: RequestNeeds, windows: bool = True
    ) -> str | None:
        """Why the route does not serve this request (`pattern`, `scope`, a condition's name or
        `context_window`, tested only with `windows`), or None when it does. `wanted`: the model, lowercased."""
        if not self.regex.match(wanted):
            return "pattern"
        if not self.applies_to(user_id, group_ids):
            return "scope"
        if self.conditions and (failed := self.conditions.failing(needs)):
            return failed
        if windows and not self.fits(needs):
            return "context_window"
        return None


def compile_pattern(pattern: str) -> re.Pattern[str]:
    return re.compile(fnmatch.translate(pattern.strip().lower()))


def resolve(
    model: str,
    routes: Sequence[RouteInfo],
    *,
    user_id: int | None = None,
    group_ids: Iterable[int] = (),
    needs: RequestNeeds = NO_NEEDS,
    windows: bool = True,
) -> RouteInfo | None:
    """First route, by priority, whose glob matches `model`, which applies to the caller, whose conditions
    hold for `needs` and (with `windows`) whose context window the request fits.

    `routes` must hold enabled routes of enabled providers, sorted by (priority, id).
    """
    wanted = model.lower()
    groups = frozenset(group_ids)
    for route in routes:
        if route.mismatch(wanted, user_id, groups, needs, windows) is None:
            return route
    return None


def token_threshold(routes: Sequence[RouteInfo], max_tokens: int) -> int | None:
    """The fewest input tokens at which some route's choice could change (a `min_input_tokens`, or a context
    window minus `max_tokens`), None when no route tests the input's size. Below it, a cheap upper bound of
    the input decides exactly as the tokenizer's count would."""
    found = [r.conditions.min_input_tokens for r in routes if r.conditions.min_input_tokens is not None]
    found += [max(0, r.context_window - max_tokens + 1) for r in routes if r.context_window is not None]
    return min(found) if found else None


def fallbacks_of(route: RouteInfo, routes: Sequence[RouteInfo]) -> list[RouteInfo]:
    """The route's fallback routes in their configured order (disabled ones are absent)."""
    by_id = {r.id: r for r in routes}
    return [by_id[i] for i in route.fallback_ids if i in by_id]


def reachable_routes(
    route: RouteInfo, routes: Sequence[RouteInfo], user_id: int | None, group_ids: Iterable[int]
) -> list[RouteInfo]:
    """`route` and every route a request on it may move to: its fallbacks (and theirs), and the
    long-context routes that apply to the caller (a context-length error moves there)."""
    by_id = {r.id: r for r in routes}
    groups = frozenset(group_ids)
    found, queue = {route.id: route}, [route]
    while queue:
        for next_id in queue.pop().fallback_ids:
            if next_id in by_id and next_id not in found:
                found[next_id] = by_id[next_id]
                queue.append(by_id[next_id])
    for r in routes:
        if r.long_context and r.applies_to(user_id, groups):
            found.setdefault(r.id, r)
    return list(found.values())
