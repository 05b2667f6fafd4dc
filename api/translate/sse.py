"""Server-sent events: an incremental decoder for upstream streams and the A frame encoder.

The decoder is on the streaming hot path, so it splits on newlines instead of walking characters.
Only `data:` fields matter for OpenAI-compatible upstreams; `event:`, `id:`, `retry:` and comments
are skipped. Lines end in ``\\n`` or ``\\r\\n``; a bare ``\\r`` terminator (legal SSE, sent by no
upstream we know) is not recognised. U+2028 and friends stay inside lines: `str.splitlines` would
break JSON that carries them raw.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from .types import JSON

Dumps = Callable[[Any], str | bytes]


class SSEDecoder:
    """Feed text as it arrives; get back each complete event's `data` (multi-line data joined by ``\\n``)."""

    def __init__(self) -> None:
        self._partial: list[str] = []
        """Pieces of the current unterminated line; joined once its newline arrives."""
        self._data: list[str] = []
        """`data` lines of the event being read."""

    def feed(self, text: str) -> list[str]:
        if "\n" not in text:
            if text:
                self._partial.append(text)
            return []
        if self._partial:
            self._partial.append(text)
            text = "".join(self._partial)
            self._partial = []
        lines = text.split("\n")
        rest = lines.pop()
        if rest:
            self._partial.append(rest)
        out: list[str] = []
        for line in lines:
            self._line(line[:-1] if line.endswith("\r") else line, out)
        return out

    def flush(self) -> list[str]:
        """At EOF: the last event even without its closing blank line (lenient, unlike the SSE spec)."""
        out: list[str] = []
        if self._partial:
            line = "".join(self._partial)
            self._partial = []
            self._line(line[:-1] if line.endswith("\r") else line, out)
        self._line("", out)
        return out

    def _line(self, line: str, out: list[str]) -> None:
        if not line:
            if self._data:
                out.append("\n".join(self._data))
                self._data = []
        elif line.startswith("data:"):
            value = line[5:]
            self._data.append(value[1:] if value.startswith(" ") else value)
        elif line == "data":
            self._data.append("")


def encode_event(event: JSON, dumps: Dumps | None = None) -> bytes:
    """One A SSE frame, ``event: <type>\\ndata: <json>\\n\\n`` (the SDKs dispatch on the event line).

    `dumps` may return str or bytes, so the view can pass `orjson.dumps`; by default (or with
    plain `json.dumps`) the JSON is compact and keeps non-ASCII text as UTF-8.
    """
    if dumps is None or dumps is json.dumps:
        payload: str | bytes = json.dumps(event, separators=(",", ":"), ensure_ascii=False)
    else:
        payload = dumps(event)
    if isinstance(payload, str):
        payload = payload.encode()
    kind: str = event["type"]
    return b"event: " + kind.encode() + b"\ndata: " + payload + b"\n\n"
