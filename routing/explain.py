"""Why each route does or does not serve a request, for `manage.py explain_route` and the admin's
"try a request" page; and which routes can never match. Pure: the resolver's own test (`RouteInfo.mismatch`)
with words around it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from routing.needs import RequestNeeds
from routing.resolve import RouteInfo


@dataclass(frozen=True, slots=True)
class Verdict:
    route: RouteInfo
    reason: str | None
    """What failed (`pattern`, `scope`, a condition, `context_window`), None when the route matches."""
    detail: str


def explain(
    model: str, routes: Sequence[RouteInfo], needs: RequestNeeds, user_id: int | None, group_ids: Iterable[int]
) -> list[Verdict]:
    """A verdict for every route, in the order the resolver tries them; the first match serves."""
    wanted, groups = model.lower(), frozenset(group_ids)
    verdicts, served = [], False
    for route in routes:
        reason = route.mismatch(wanted, user_id, groups, needs)
        if reason is None:
            detail = "matches, but an earlier route serves the request" if served else "MATCHES: serves the request"
            served = True
        else:
            detail = _why_not(reason, route, model, needs)
        verdicts.append(Verdict(route, reason, detail))
    return verdicts


def _why_not(reason: str, route: RouteInfo, model: str, needs: RequestNeeds) -> str:
    c = route.conditions
    return {
        "pattern": f"pattern {route.pattern!r} does not match {model!r}",
        "scope": "scoped to other users or groups",
        "min_input_tokens": f"needs min_input_tokens {c.min_input_tokens}; the request has about {needs.input_tokens}",
        "thinking": f"needs thinking {str(c.thinking).lower()}; the request has {str(needs.thinking).lower()}",
        "has_images": f"needs has_images {str(c.has_images).lower()}; the request has {str(needs.has_images).lower()}",
        "tool": f"needs a tool matching {c.tool!r}; the request's tools: {', '.join(needs.tools) or 'none'}",
        "header": "needs headers " + ", ".join(f"{n}: {g!r}" for n, g in c.header) + f"; {_headers_seen(c, needs)}",
        "context_window": f"context window {route.context_window}: about {needs.input_tokens} input tokens plus"
        f" max_tokens {needs.max_tokens} do not fit",
    }[reason]


def _headers_seen(conditions, needs: RequestNeeds) -> str:
    seen = [f"{name}: {needs.headers.get(name)!r}" for name, _ in conditions.header]
    return "the request sends " + ", ".join(seen)


def describe_needs(needs: RequestNeeds) -> str:
    tokens = f"{needs.input_tokens} (tokenizer)" if needs.counted else f"at most about {needs.input_tokens} (bound)"
    return (
        f"input tokens {tokens}, max_tokens {needs.max_tokens}, thinking {str(needs.thinking).lower()},"
        f" has_images {str(needs.has_images).lower()}, tools: {', '.join(needs.tools) or 'none'}"
    )


def describe_route(route: RouteInfo) -> str:
    given = route.conditions.given()
    when = " when " + ", ".join(f"{k}={v}" for k, v in given.items()) if given else ""
    targets = ", ".join(f"{t.provider.name}/{t.model} (weight {t.weight})" for t in route.targets) or (
        f"{route.provider.name}/{route.target_model}"
    )
    head = f"{route.name or route.id} [priority {route.priority}, {route.pattern!r}{when}]"
    return f"{head} -> {targets}, {route.strategy}"


def render(model: str, needs: RequestNeeds, verdicts: Sequence[Verdict]) -> list[str]:
    lines = [f"model {model!r}: {describe_needs(needs)}"]
    for v in verdicts:
        lines.append(f"  {describe_route(v.route)}\n      {v.detail}")
    served = next((v.route for v in verdicts if v.reason is None), None)
    if served is None:
        lines.append("no route serves it: 404, or 400 'prompt is too long' when only context windows stood in the way")
    else:
        lines.append(
            f"served by {served.name}: {served.provider.name}/{served.target_model} (first target;"
            f" the {served.strategy} strategy picks among {len(served.targets) or 1})"
        )
    return lines


def covers(earlier: RouteInfo, later: RouteInfo) -> bool:
    """Whether every model `later`'s pattern matches is matched by `earlier`'s. Sound, not complete: a
    `?` or `[...]` in `earlier`, or a `[...]` in `later`, is never claimed to cover."""
    a, b = earlier.pattern.strip().lower(), later.pattern.strip().lower()
    if a and set(a) <= {"*"}:
        return True
    if "?" in a or "[" in a or "[" in b:
        return False
    return bool(earlier.regex.match(b))


def fits_wherever(earlier: RouteInfo, later: RouteInfo) -> bool:
    """Whether every request that fits `later`'s window fits `earlier`'s: no window, or one at least as
    large with a max_tokens cap at most as large (None: no cap)."""
    if earlier.context_window is None:
        return True
    if later.context_window is None or later.context_window > earlier.context_window:
        return False
    return later.max_tokens is None or (earlier.max_tokens is not None and earlier.max_tokens <= later.max_tokens)


def shadowed(routes: Sequence[RouteInfo]) -> list[tuple[RouteInfo, RouteInfo]]:
    """(route, the earlier route that always wins) for each route that can never match: an earlier route
    with no conditions and no scope covers its pattern and fits whatever it fits. In resolution order."""
    found = []
    for i, later in enumerate(routes):
        for earlier in routes[:i]:
            if not (earlier.conditions or earlier.scoped) and covers(earlier, later) and fits_wherever(earlier, later):
                found.append((later, earlier))
                break
    return found
