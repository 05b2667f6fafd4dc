"""Which route serves a request: the pure resolver over the cached route snapshot."""

from __future__ import annotations

from api.admission.auth import Caller
from api.http.errors import GatewayError
from api.translate.errors import ApiError
from routing import snapshot
from routing.resolve import RouteInfo, resolve


async def resolve_route(model: str, caller: Caller) -> RouteInfo:
    routes = await snapshot.routes.get()
    route = resolve(model, routes, user_id=caller.user_id, group_ids=caller.group_ids)
    if route is None:
        message = (
            f"No route serves model {model!r}. An admin adds one under Model routes"
            " (or set OPENAI_API_KEY / OPENAI_BASE_URL for the classic setup)."
        )
        raise GatewayError(ApiError(404, "not_found_error", message, should_retry=False))
    return route
