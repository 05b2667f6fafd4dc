"""Upstream failures, mapped once to the Anthropic error the client gets."""

from __future__ import annotations

import httpx

from api.http.errors import GatewayError
from api.translate import errors

RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504, 529})


class ProviderError(GatewayError):
    """The one exception provider clients raise."""


def from_httpx(exc: httpx.HTTPError, phase: str) -> ProviderError:
    """Transport failures: connect problems are 502, every other timeout 504, a broken read 502."""
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
        return ProviderError(errors.connect_error(), retryable=True)
    if isinstance(exc, httpx.TimeoutException):
        return ProviderError(errors.timeout_error(phase), retryable=True)
    return ProviderError(errors.bad_upstream_response(f"{phase}: {type(exc).__name__}"), retryable=True)


def from_status(status: int, body: bytes, headers: httpx.Headers) -> ProviderError:
    """An upstream HTTP error; retryable unless the upstream says not to (e.g. an exhausted quota)."""
    error = errors.from_upstream(status, body, headers)
    return ProviderError(error, retryable=status in RETRYABLE_STATUSES and error.should_retry is not False)


async def read_whole(response: httpx.Response) -> bytes:
    """The whole body, the response closed either way; a broken read is a retryable ProviderError."""
    try:
        return await response.aread()
    except httpx.HTTPError as exc:
        raise from_httpx(exc, "reading the upstream response") from exc
    finally:
        await response.aclose()


def bad_response(detail: str) -> ProviderError:
    return ProviderError(errors.bad_upstream_response(detail))
