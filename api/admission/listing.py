"""`GET /v1/models`: what this caller may ask for, in Anthropic's models-list shape.

Route patterns that are plain names (no glob characters) of routes that apply to the caller, and
`PROVIDER,MODEL` for each model a route runs on a provider that takes direct requests; each filtered by
the key's allowlist exactly as a request for it would be (routes.choose_route, then limits.permits).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from api.admission.auth import Caller
from api.admission.limits import check_model_allowed, permits
from api.http.errors import GatewayError, invalid_request
from routing.direct import allowlist_subject, direct_route
from routing.resolve import ProviderInfo, RouteInfo

GLOB_CHARS = frozenset("*?[")
EPOCH = "1970-01-01T00:00:00Z"
"""Routes carry no release date; Anthropic's shape requires one."""
MAX_LIMIT = 1000


def may_ask_for(caller: Caller, routes: Sequence[RouteInfo], directs: Mapping[str, ProviderInfo]) -> list[str]:
    return open_to(caller, caller.user_id, caller.group_ids, routes, directs)


def open_to(
    caller: Caller,
    user_id: int | None,
    group_ids: frozenset[int],
    routes: Sequence[RouteInfo],
    directs: Mapping[str, ProviderInfo],
) -> list[str]:
    """The names `caller`'s key allows, of the routes open to that user and groups (the key's own, or, for
    the portal, a user who has no key yet and `Caller()`)."""
    wanted = {
        r.pattern.strip(): r
        for r in reversed(routes)  # the first route of a name wins, as in resolution
        if r.pattern.strip() and not GLOB_CHARS & set(r.pattern) and r.applies_to(user_id, group_ids)
    }
    for provider in directs.values():
        models = {t.model for r in routes for t in r.targets if t.provider.id == provider.id}
        wanted.update({f"{provider.name},{m}": direct_route(provider, m) for m in models})
    return sorted(name for name, route in wanted.items() if _permitted(caller, name, route, routes))


def _permitted(caller: Caller, name: str, route: RouteInfo, routes: Sequence[RouteInfo]) -> bool:
    try:
        check_model_allowed(caller, allowlist_subject(name))
    except GatewayError:
        return False
    return permits(caller.key, name, route, routes)


def models_page(names: list[str], query: Mapping[str, str]) -> dict:
    """One page of `names` by Anthropic's `limit`, `after_id` and `before_id`."""
    try:
        limit = int(query.get("limit", 20))
    except ValueError:
        raise invalid_request("limit: must be a whole number from 1 to 1000.") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise invalid_request("limit: must be a whole number from 1 to 1000.")
    if after := query.get("after_id"):
        names = names[names.index(after) + 1 :] if after in names else []
    if before := query.get("before_id"):
        names = names[: names.index(before)] if before in names else []
        page = names[-limit:]
    else:
        page = names[:limit]
    data = [{"type": "model", "id": n, "display_name": n, "created_at": EPOCH} for n in page]
    return {
        "data": data,
        "has_more": len(names) > len(page),
        "first_id": page[0] if page else None,
        "last_id": page[-1] if page else None,
    }
