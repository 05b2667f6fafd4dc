"""The Anthropic-compatible HTTP surface. `messages` reads as the recipe; each step lives in its own module."""

from __future__ import annotations

import asyncio
import functools
import logging

import orjson
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from api.accounting.exchange import Exchange
from api.admission import throttle
from api.admission.auth import Caller, authenticate
from api.admission.limits import check_route_allowed, reserve
from api.admission.listing import may_ask_for, models_page
from api.admission.routes import choose_route
from api.admission.testers import authorize_tester, check_tester_rate, log_tested
from api.forward import passthrough
from api.forward.connection_test import probe_all
from api.forward.local_count import count_locally
from api.forward.relay import relay
from api.http.errors import GatewayError, invalid_request, request_too_large
from api.http.responses import error_response, json_response, new_request_id
from api.translate.errors import ApiError, from_translation
from api.translate.types import JSON, TranslationError
from api.translate.validate import validate_request
from routing import snapshot
from routing.resolve import RouteInfo

log = logging.getLogger("api")


def parse_body(request: HttpRequest, *, counting: bool = False) -> JSON:
    """Decode and validate at the edge: every problem is a 4xx naming its path.

    count_tokens takes the messages body without `max_tokens`, so `counting` supplies one.
    """
    try:
        raw = request.body
    except RequestDataTooBig:
        raw = None
    if raw is None or len(raw) > settings.MAX_BODY_BYTES:
        raise GatewayError(request_too_large(settings.MAX_BODY_BYTES))
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise invalid_request(f"Request body is not valid JSON: {exc}") from None
    _check_nesting(body)
    if counting and isinstance(body, dict) and "max_tokens" not in body:
        body = {**body, "max_tokens": 1}
    try:
        return validate_request(body)
    except TranslationError as exc:
        raise GatewayError(from_translation(exc)) from None


MAX_NESTING = 200
"""orjson decodes 1,024 levels but encodes only 255 (and the stdlib's encoder recurses): deeper bodies
could not be forwarded or counted, so they are refused here, with room for the levels translation adds."""


def _check_nesting(body: object) -> None:
    wrapped = body
    for _ in range(255 - MAX_NESTING):
        wrapped = [wrapped]
    try:
        orjson.dumps(wrapped)  # fails on depth alone: whatever orjson decoded it can otherwise encode
    except orjson.JSONEncodeError:
        raise invalid_request(f"Request body is nested more than {MAX_NESTING} levels deep.") from None


def _method_not_allowed(request: HttpRequest) -> HttpResponse:
    error = ApiError(405, "invalid_request_error", f"Method {request.method} is not allowed on {request.path}.")
    return Exchange.begin(request, request.path.strip("/")[:40]).fail(error)


def api_view(endpoint: str):
    """POST-only, one Exchange per request: every exit, error or disconnect leaves exactly one usage row."""

    def wrap(handler):
        @csrf_exempt
        @functools.wraps(handler)
        async def view(request: HttpRequest) -> HttpResponse:
            if request.method != "POST":
                return _method_not_allowed(request)
            ex = Exchange.begin(request, endpoint)
            try:
                return await handler(request, ex)
            except GatewayError as exc:
                return ex.fail(exc.error)
            except TranslationError as exc:
                return ex.fail(from_translation(exc))
            except Exception:  # a bug of ours: still an Anthropic-shaped 500, and still the request's usage row
                log.exception("unhandled error on %s (request %s)", request.path, ex.request_id)
                return ex.fail(ApiError(500, "api_error", "Internal error in the gateway."))
            except asyncio.CancelledError:
                ex.cancelled()
                ex.finish()
                raise

        view.endpoint = endpoint  # read when the handler refuses a body before the view (proxy_site/handlers.py)
        return view

    return wrap


async def admit(request: HttpRequest, ex: Exchange, *, counting: bool = False) -> tuple[Caller, JSON, RouteInfo]:
    """Authenticate, parse, check the key's allowlist on the name and on the route it resolves to, and
    reserve what the request may cost on the key's limits (settled when the exchange finishes)."""
    caller = await authenticate(request)
    ex.identify(caller)
    body = parse_body(request, counting=counting)
    ex.record.requested_model = body["model"][:200]
    ex.record.stream = bool(body.get("stream")) and not counting
    routes = await snapshot.routes.get()
    route = await choose_route(request, body, caller, routes, counting=counting)
    ex.routed(route)
    check_route_allowed(caller, body["model"], route, routes)
    ex.prices = await snapshot.prices.get()
    if not counting:
        ex.hold = await reserve(caller, body, route, routes, len(request.body), ex.request_id, ex.prices)
    ex.admitted()
    return caller, body, route


@api_view("messages")
async def messages(request: HttpRequest, ex: Exchange) -> HttpResponse:
    caller, body, route = await admit(request, ex)
    if route.provider.kind == "anthropic":
        return await passthrough.forward(ex, request, body, route, "messages")
    return await relay(ex, caller, body, route, len(request.body))


@api_view("count_tokens")
async def count_tokens(request: HttpRequest, ex: Exchange) -> HttpResponse:
    caller, body, route = await admit(request, ex, counting=True)
    await throttle.check_count_tokens_rate(request, caller.key)
    if route.provider.kind == "anthropic":
        return await passthrough.forward(ex, request, body, route, "messages/count_tokens")
    counted = await count_locally(body, len(request.body))
    ex.record.input_tokens, ex.record.estimated = counted, True
    ex.finish()
    return json_response({"input_tokens": counted}, request_id=ex.request_id)


async def models_list(request: HttpRequest) -> HttpResponse:
    """GET /v1/models: the models this caller may ask for (api/admission/listing.py)."""
    request_id = new_request_id()
    if request.method != "GET":
        error = ApiError(405, "invalid_request_error", f"Method {request.method} is not allowed on {request.path}.")
        return error_response(error, request_id)
    try:
        caller = await authenticate(request)
        names = may_ask_for(caller, await snapshot.routes.get(), await snapshot.direct.get())
        return json_response(models_page(names, request.GET), request_id=request_id)
    except GatewayError as exc:
        return error_response(exc.error, request_id)


async def root(request: HttpRequest) -> HttpResponse:
    """Claude Code probes `HEAD /` before its first request."""
    if request.method == "HEAD":
        return HttpResponse(status=200)
    return json_response({"service": settings.SERVICE_NAME, "version": settings.VERSION, "status": "ok"})


def health(request: HttpRequest) -> HttpResponse:
    from api.accounting.usage import writer

    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        database = "ok"
    except Exception as exc:  # health reports, it never raises
        log.warning("health: database check failed: %s", type(exc).__name__)
        database = "unavailable"
    status = 200 if database == "ok" else 503
    return json_response(
        {
            "status": "ok" if status == 200 else "degraded",
            "database": database,
            "version": settings.VERSION,
            "usage_queue": writer.depth,
        },
        status=status,
    )


async def not_found(request: HttpRequest, path: str = "") -> HttpResponse:
    """Unknown paths under /v1/ get a JSON 404 (never Django's HTML page), and a usage row like any call."""
    error = ApiError(404, "not_found_error", f"Not found: {request.method} {request.path}")
    return Exchange.begin(request, "unknown").fail(error)


async def test_connection(request: HttpRequest) -> HttpResponse:
    """Probe each enabled provider (or `?provider=NAME`) with a minimal real call; for operators only
    (api/admission/testers.py), rate-limited, and logged with who asked and from where."""
    request_id = new_request_id()
    origin = request.META.get("REMOTE_ADDR") or "unknown"
    try:
        tester = await authorize_tester(request)
        await check_tester_rate(tester)
    except GatewayError as exc:
        log.warning("test-connection refused from %s: %s %s", origin, exc.error.status, exc.error.message)
        return error_response(exc.error, request_id)
    name = request.GET.get("provider") or None
    results = await probe_all(await snapshot.routes.get(), name)
    log_tested(tester, origin, name or "(all)", results)
    if name and not results:
        return error_response(ApiError(404, "not_found_error", f"No enabled provider named {name!r}."), request_id)
    ok = all(r["status"] == "ok" for r in results)
    return json_response(
        {"status": "ok" if ok else "failed", "providers": results}, status=200 if ok else 502, request_id=request_id
    )
