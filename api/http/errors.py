"""Errors as values until the edge: anything that stops a request raises `GatewayError`."""

from __future__ import annotations

from api.translate.errors import ApiError


class GatewayError(Exception):
    """Stops the request with `error` (an Anthropic error response, or an SSE `error` event)."""

    def __init__(self, error: ApiError, *, retryable: bool = False) -> None:
        super().__init__(error.message)
        self.error = error
        self.retryable = retryable


def invalid_request(message: str) -> GatewayError:
    return GatewayError(ApiError(400, "invalid_request_error", message, should_retry=False))


def request_too_large(limit: int) -> ApiError:
    return ApiError(413, "request_too_large", f"Request exceeds the maximum allowed size of {limit} bytes.")
