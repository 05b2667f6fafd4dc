"""Which route serves a request: the pure resolver over the route snapshot the view read once, given
what the request needs; or the deployment a direct `PROVIDER,MODEL` request names."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from django.http import HttpRequest

from api.admission.auth import Caller
from api.admission.limits import check_model_allowed
from api.admission.needs import request_needs
from api.http.errors import GatewayError, invalid_request
from api.translate.errors import ApiError
from api.translate.types import JSON
from routing import snapshot
from routing.direct import allowlist_subject, direct_route, split_direct
from routing.needs import RequestNeeds, read_needs
from routing.resolve import ProviderInfo, RouteInfo, resolve


async def choose_route(
    request: HttpRequest, body: JSON, caller: Caller, routes: Sequence[RouteInfo], *, counting: bool = False
) -> RouteInfo:
    """The key's allowlist on the name first (403 before anything about providers or routes is said), then
    the deployment a direct `PROVIDER,MODEL` names, or the route for what the request needs. Counting a
    prompt is never refused for its length: count_tokens reads its needs from the cheap bound (it counts
    with the tokenizer anyway) and tests no context window."""
    model = body["model"]
    check_model_allowed(caller, allowlist_subject(model))
    if split_direct(model) is not None:
        return resolve_direct(model, await snapshot.direct.get())
    if counting:
        needs = read_needs(body, request.headers, len(request.body))
        return resolve_route(model, caller, routes, needs, windows=False)
    return resolve_route(model, caller, routes, await request_needs(request, body, routes))


def resolve_route(
    model: str, caller: Caller, routes: Sequence[RouteInfo], needs: RequestNeeds, *, windows: bool = True
) -> RouteInfo:
    """The route for `model` among `routes` (the cached snapshot), or the error that says why none serves it:
    400 "prompt is too long" when only context windows stood in the way, else the 404 that says how to add one."""
    route = resolve(model, routes, user_id=caller.user_id, group_ids=caller.group_ids, needs=needs, windows=windows)
    if route is not None:
        return route
    wanted = model.lower()
    windows = [
        r.context_window or 0
        for r in routes
        if r.mismatch(wanted, caller.user_id, caller.group_ids, needs) == "context_window"
    ]
    if windows:
        message = (
            f"prompt is too long: about {needs.input_tokens} input tokens plus max_tokens {needs.max_tokens}"
            f" exceed the context window of every route for model {model!r} (the largest: {max(windows)})."
        )
        raise invalid_request(message)
    message = (
        f"No route serves model {model!r}. An admin adds one under Model routes"
        " (or set OPENAI_API_KEY / OPENAI_BASE_URL for the classic setup)."
    )
    raise GatewayError(ApiError(404, "not_found_error", message, should_retry=False))


def resolve_direct(model: str, providers: Mapping[str, ProviderInfo]) -> RouteInfo:
    """The deployment `PROVIDER,MODEL` names, when that provider takes direct requests; the key's
    allowlist was checked on the whole string before. Unknown and closed providers get the same 404."""
    name, upstream = split_direct(model) or ("", "")
    if not (name and upstream):
        raise invalid_request(f"Model {model!r}: a direct request names PROVIDER,MODEL, both non-empty.")
    provider = providers.get(name)
    if provider is None:
        message = (
            f"Model {model!r}: no provider named {name!r} takes direct requests (an admin turns on"
            ' "allow direct" for it). GET /v1/models lists the models this key may ask for.'
        )
        raise GatewayError(ApiError(404, "not_found_error", message, should_retry=False))
    return direct_route(provider, upstream)
