"""Which route serves a request: the pure resolver over the route snapshot the view read once."""

from __future__ import annotations

from collections.abc import Sequence

from api.admission.auth import Caller
from api.http.errors import GatewayError
from api.translate.errors import ApiError
from routing.resolve import RouteInfo, resolve


def resolve_route(model: str, caller: Caller, routes: Sequence[RouteInfo]) -> RouteInfo:
    """The route for `model` among `routes` (the cached snapshot), or the 404 that says how to add one."""
    route = resolve(model, routes, user_id=caller.user_id, group_ids=caller.group_ids)
    if route is None:
        message = (
            f"No route serves model {model!r}. An admin adds one under Model routes"
            " (or set OPENAI_API_KEY / OPENAI_BASE_URL for the classic setup)."
        )
        raise GatewayError(ApiError(404, "not_found_error", message, should_retry=False))
    return route
