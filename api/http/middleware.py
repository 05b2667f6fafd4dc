"""Keeps the API surface JSON-only: an unexpected exception under /v1/ is an Anthropic `api_error`."""

from __future__ import annotations

import logging

from asgiref.sync import markcoroutinefunction

from api.http.responses import error_response, new_request_id
from api.translate.errors import ApiError

log = logging.getLogger("api")


class ApiPathMiddleware:
    """Async only: the API handler's whole middleware chain (see proxy_site/handlers.py)."""

    sync_capable = False
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        markcoroutinefunction(self)

    async def __call__(self, request):
        response = await self.get_response(request)
        # CommonMiddleware would set this, but the API path skips it; without it bodies go out chunked.
        if not response.streaming and not response.has_header("Content-Length"):
            response["Content-Length"] = str(len(response.content))
        return response

    def process_exception(self, request, exception):
        if not request.path.startswith("/v1/"):
            return None
        request_id = getattr(request, "request_id", None) or new_request_id()
        log.exception("unhandled error on %s (request %s)", request.path, request_id)
        return error_response(ApiError(500, "api_error", "Internal error in the gateway."), request_id)
