"""What the ASGI handlers refuse before any view runs: bodies too large or too slow, and, under DEBUG,
connections that did not arrive on a loopback address.

Django's `ASGIHandler.read_body` spools the whole body (to disk past FILE_UPLOAD_MAX_MEMORY_SIZE)
before anything looks at its size, and waits for it as long as the client likes. Here a declared
`Content-Length` over the limit is refused before a byte is read (`refuse_declared_length`), a chunked
body as soon as it passes the limit, before the excess is written, and a body still incomplete after
BODY_TIMEOUT seconds (a slow trickle, or a `Content-Length` larger than what is sent) with a 408.
Header size and header time are the server's (protocol.py).
"""

from __future__ import annotations

import asyncio
import ipaddress
import tempfile

from django.conf import settings
from django.core.exceptions import RequestAborted
from django.http import HttpResponse

from api.http.errors import request_too_large
from api.http.responses import error_response, new_request_id
from api.translate.errors import ApiError


class BodyRefused(Exception):
    """The request body is refused with `error`; the connection is closed after the answer."""

    def __init__(self, error: ApiError) -> None:
        super().__init__(error.message)
        self.error = error


def refuse_declared_length(scope: dict, limit: int) -> None:
    """413 from `Content-Length` alone, so an oversized body is never read."""
    for name, value in scope["headers"]:
        if name == b"content-length" and value.strip().isdigit() and int(value) > limit:
            raise BodyRefused(request_too_large(limit))


async def read_bounded_body(receive, limit: int) -> tempfile.SpooledTemporaryFile:
    """Django's `read_body`, refusing a body past `limit` bytes or not complete within BODY_TIMEOUT."""
    spool_size = settings.FILE_UPLOAD_MAX_MEMORY_SIZE
    body_file = tempfile.SpooledTemporaryFile(max_size=spool_size, mode="w+b")  # noqa: SIM115 (the handler closes it)
    size = 0
    try:
        async with asyncio.timeout(settings.BODY_TIMEOUT):
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise RequestAborted()
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > limit:
                    raise BodyRefused(request_too_large(limit))
                body_file.write(chunk)
                if not message.get("more_body", False):
                    break
    except TimeoutError:
        body_file.close()
        message = f"The request body did not arrive within {settings.BODY_TIMEOUT:g} seconds."
        raise BodyRefused(ApiError(408, "invalid_request_error", message)) from None
    except BaseException:
        body_file.close()
        raise
    body_file.seek(0)
    return body_file


def arrived_on_loopback(scope: dict) -> bool:
    """True when the connection reached a loopback address of this host (not just a 127.0.0.1 client:
    the server address is the one this socket was accepted on, even when bound to 0.0.0.0)."""
    server = scope.get("server")
    if not server:
        return False  # a Unix socket: a reverse proxy's, most likely, carrying the network's requests
    try:
        return ipaddress.ip_address(server[0]).is_loopback
    except ValueError:
        return False


def debug_refusal() -> HttpResponse:
    """403 for a request that arrived from the network while DEBUG is on: Django's debug pages
    (settings, stack traces, local variables) must never reach it."""
    message = "DEBUG is on: this gateway serves only loopback connections. Set DEBUG=false to serve the network."
    return closing(error_response(ApiError(403, "permission_error", message), new_request_id()))


def closing(response: HttpResponse) -> HttpResponse:
    """`response` (whole, not streamed) with the connection closed after it: the client may still be
    sending its body. It bypasses the middleware, so it sets its own length."""
    response["Content-Length"] = str(len(response.content))
    response["Connection"] = "close"
    return response
