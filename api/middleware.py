"""Keeps the API surface JSON-only: an unexpected exception under /v1/ is an Anthropic `api_error`."""

from __future__ import annotations

import logging

from asgiref.sync import iscoroutinefunction, markcoroutinefunction

from api.responses import error_response, new_request_id
from api.translate.errors import ApiError

log = logging.getLogger("api")


class ApiPathMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request):
        # Sync or async, the chain's own result (a response or a coroutine) is passed on as is.
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not request.path.startswith("/v1/"):
            return None
        request_id = getattr(request, "request_id", None) or new_request_id()
        log.exception("unhandled error on %s (request %s)", request.path, request_id)
        return error_response(ApiError(500, "api_error", "Internal error in the gateway."), request_id)
