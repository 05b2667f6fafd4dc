"""Building HTTP responses: JSON bodies, request ids, and the one Anthropic error shape."""

from __future__ import annotations

import orjson
from django.http import HttpResponse

from api.http.scrub import scrub
from api.translate.errors import ApiError, error_body
from api.translate.ids import random_base62


def new_request_id() -> str:
    return "req_" + random_base62(24)


def json_response(data: object, status: int = 200, request_id: str | None = None) -> HttpResponse:
    response = HttpResponse(orjson.dumps(data), status=status, content_type="application/json")
    if request_id:
        response["request-id"] = request_id
    return response


def error_response(err: ApiError, request_id: str) -> HttpResponse:
    """Every error the proxy returns, ours or an upstream's, leaves through here, known secrets scrubbed."""
    response = json_response(error_body(err.error_type, scrub(err.message), request_id), err.status, request_id)
    for name, value in err.headers().items():
        response[name] = scrub(value)
    return response
