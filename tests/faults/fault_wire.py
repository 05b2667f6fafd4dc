"""The fault upstream's wire: one connection's raw HTTP/1.1 reading and writing, and its record.

A reader task per connection never stops reading, so the client's FIN or RST is seen at once, even
while an answer is stalling; writes report whether the client is still there.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import struct
import time
from dataclasses import dataclass
from typing import Any

FOREVER = 60.0
"""How long "forever" lasts: stalls and endless streams give up after this, so nothing outlives a test run."""


@dataclass
class Connection:
    id: int
    opened_at: float
    client_closed_at: float | None = None
    """When the client (the gateway) closed or reset the connection; None while open or closed by us."""
    server_closed_at: float | None = None
    """When the server closed or reset it itself (an injected reset, or the end of a one-shot answer)."""

    @property
    def closed(self) -> bool:
        return self.client_closed_at is not None or self.server_closed_at is not None


class Link:
    """One connection: a reader that never stops (so the client's close is seen at once), and writers."""

    def __init__(self, conn: Connection, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.conn, self.reader, self.writer = conn, reader, writer
        self.buffer = bytearray()
        self.changed = asyncio.Event()
        self.gone = asyncio.Event()

    @property
    def closed(self) -> bool:
        return self.gone.is_set()

    async def pump(self) -> None:
        try:
            while data := await self.reader.read(65536):
                self.buffer += data
                self.changed.set()
        except (ConnectionError, OSError):
            pass
        if self.conn.server_closed_at is None:
            self.conn.client_closed_at = time.monotonic()
        self.gone.set()
        self.changed.set()

    async def _take_until(self, separator: bytes) -> bytes | None:
        while (at := self.buffer.find(separator)) < 0:
            if self.closed or len(self.buffer) > 1 << 20:
                return None
            self.changed.clear()
            await self.changed.wait()
        head = bytes(self.buffer[: at + len(separator)])
        del self.buffer[: at + len(separator)]
        return head

    async def _take(self, size: int) -> bytes | None:
        while len(self.buffer) < size:
            if self.closed:
                return None
            self.changed.clear()
            await self.changed.wait()
        data = bytes(self.buffer[:size])
        del self.buffer[:size]
        return data

    async def read_request(self) -> tuple[str, str, bytes] | None:
        head = await self._take_until(b"\r\n\r\n")
        if head is None:
            return None
        lines = head.decode("latin-1").split("\r\n")
        method, path = [*lines[0].split(" "), "", ""][:2]
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
        body = await self._take(int(headers.get("content-length") or 0))
        return None if body is None else (method, path, body)

    async def stalled(self, seconds: float = FOREVER) -> None:
        """Say nothing until the client leaves (or `seconds` pass)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.gone.wait(), seconds)

    async def write(self, data: bytes) -> bool:
        """Send `data`; False once the client has left (the caller stops misbehaving then)."""
        if self.closed:
            return False
        try:
            self.writer.write(data)
            await self.writer.drain()
        except (ConnectionError, OSError):
            return False
        return not self.closed

    async def send_head(self, status: int, headers: dict[str, str]) -> bool:
        reason = {200: "OK", 404: "Not Found", 429: "Too Many Requests", 502: "Bad Gateway"}.get(status, "Status")
        lines = [f"HTTP/1.1 {status} {reason}", *(f"{k}: {v}" for k, v in headers.items()), "", ""]
        return await self.write("\r\n".join(lines).encode("latin-1"))

    async def send_whole(self, status: int, content_type: str, body: bytes, extra: dict | None = None) -> bool:
        headers = {"content-type": content_type, "content-length": str(len(body)), **(extra or {})}
        return await self.send_head(status, headers) and await self.write(body)

    async def send_json(self, status: int, body: Any, extra: dict | None = None) -> bool:
        return await self.send_whole(status, "application/json", json.dumps(body).encode(), extra)

    async def start_chunked(self, content_type: str = "text/event-stream") -> bool:
        return await self.send_head(200, {"content-type": content_type, "transfer-encoding": "chunked"})

    async def chunk(self, data: bytes) -> bool:
        return await self.write(b"%x\r\n%s\r\n" % (len(data), data)) if data else not self.closed

    async def end_chunked(self) -> bool:
        return await self.write(b"0\r\n\r\n")

    async def reset(self, after: float = 0.3) -> bool:
        """Abort with a TCP RST, `after` seconds from now (so what was sent before has been read)."""
        if after:
            await asyncio.sleep(after)
        with contextlib.suppress(OSError):
            sock = self.writer.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close(abort=True)
        return False

    def close(self, *, abort: bool = False) -> None:
        if not self.closed and self.conn.server_closed_at is None and self.conn.client_closed_at is None:
            self.conn.server_closed_at = time.monotonic()
        if abort:
            self.writer.transport.abort()
        else:
            self.writer.close()
