"""uvicorn's httptools protocol with the two limits it lacks: header size and header time.

Measured on uvicorn 0.54: httptools (llhttp) hands the app headers of any size (a 20 MB header is
parsed and kept), and uvicorn waits for a request's headers forever: a connection that sends nothing,
or trickles its headers a byte at a time (slowloris), holds its socket and its buffer until the client
gives up. uvicorn's own timeout (`timeout_keep_alive`) runs only between requests and stops at the
first byte; h11's `h11_max_incomplete_event_size` applies only to headers that do not arrive in one
read, and h11 has no time limit either. `serve` runs uvicorn with this protocol (`http=`):

- a request's headers must be complete within HEADER_TIMEOUT seconds of the connection's start (for
  its first request) or of the request's first byte, else the connection is closed;
- at most MAX_HEADER_BYTES of request line and headers, counted as they arrive, before the parser
  sees them: beyond, the answer is a 431 and the connection is closed.

The body's size and time are checked by the ASGI handlers (edge.py), which answer in Anthropic's shape.
"""

from __future__ import annotations

import asyncio

from django.conf import settings
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

_TOO_LARGE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"content-length: 29\r\nconnection: close\r\n\r\nRequest headers are too large"
)


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._max_header_bytes = settings.MAX_HEADER_BYTES
        self._awaiting_headers = True  # from the connection's start or a request's end to the next headers' end
        self._header_bytes = 0
        self._header_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self._arm_header_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_deadline()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._awaiting_headers:
            end = data.find(b"\r\n\r\n")  # what follows the headers' end is body, or the next request
            self._header_bytes += len(data) if end < 0 else end
            if self._header_bytes > self._max_header_bytes:
                self._refuse_headers()
                return
        super().data_received(data)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm_header_deadline()

    def on_headers_complete(self) -> None:
        self._awaiting_headers, self._header_bytes = False, 0
        self._disarm_header_deadline()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._awaiting_headers = True

    def _arm_header_deadline(self) -> None:
        """From the connection's start, or a later request's first byte; a running timer keeps its time."""
        if self._header_deadline is None:
            self._header_deadline = self.loop.call_later(settings.HEADER_TIMEOUT, self._headers_too_slow)

    def _disarm_header_deadline(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _refuse_headers(self) -> None:
        self._disarm_header_deadline()
        if not self.transport.is_closing():
            self.transport.write(_TOO_LARGE)
            self.transport.close()

    def _headers_too_slow(self) -> None:
        self._header_deadline = None
        if not self.transport.is_closing():
            self.transport.close()
