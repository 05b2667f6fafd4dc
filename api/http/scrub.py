"""Known secrets never leave: every provider key, wherever an upstream echoes it, becomes `[redacted]`.

Upstreams quote the key they were sent (`invalid x-api-key: AIza...`, `Incorrect API key provided:
sk-proj-...abcd`), whole, URL-encoded, JSON-escaped or cut short. The secret set (every provider's
decrypted key, disabled ones too, secret-looking extra headers, OPENAI_API_KEY, CUSTOM_HEADER_* and
ANTHROPIC_API_KEY) comes from the route snapshot (`routing.snapshot.known_secrets`); the scrubber is
rebuilt only when that set changes.

What counts as an echo, and why:
- a secret shorter than `MIN_SECRET_CHARS` is ignored: "ollama" or "none" is no secret, and
  redacting such words would mangle ordinary text;
- every run of characters that is a prefix or a suffix, at least `MIN_SECRET_CHARS` long, of a
  secret or of its URL-encoded or JSON-escaped form is redacted (the whole key is its own longest
  prefix). A vendor's constant head such as `sk-proj-` is redacted too when a configured key starts
  with it: harmless in an error message, and scrubbing never touches model output.
- fragments from the middle of a key, and shorter heads or tails (`sk-...abcd`), are left: too short
  to use, and too common to redact.

Cost: one `str.find` per needle (each secret form's 8-character head and tail) when nothing is
found; see README "Admin and security" for measured figures.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from urllib.parse import quote

from routing import snapshot

REDACTED = "[redacted]"
MIN_SECRET_CHARS = 8
_HEAD, _TAIL = True, False


def _forms(secret: str) -> set[str]:
    """The secret as an upstream may write it back: raw, URL-encoded, JSON-escaped."""
    escaped = json.dumps(secret)[1:-1]
    return {secret, quote(secret, safe=""), quote(secret), escaped, escaped.replace("/", "\\/")}


class Scrubber:
    """Redacts the given secrets; immutable, so threads share it freely."""

    def __init__(self, secrets: frozenset[str]) -> None:
        self.secrets = secrets
        self._needles: dict[str, list[tuple[str, bool]]] = {}
        for secret in secrets:
            if len(secret) < MIN_SECRET_CHARS:
                continue
            for form in _forms(secret):
                self._needles.setdefault(form[:MIN_SECRET_CHARS], []).append((form, _HEAD))
                self._needles.setdefault(form[-MIN_SECRET_CHARS:], []).append((form, _TAIL))

    def scrub(self, text: str) -> str:
        spans = self._spans(text)
        if not spans:
            return text
        out, last = [], 0
        for start, end in spans:
            out += (text[last:start], REDACTED)
            last = end
        out.append(text[last:])
        return "".join(out)

    def _spans(self, text: str) -> list[tuple[int, int]]:
        """Sorted, merged (start, end) of every echoed fragment in `text`."""
        found = []
        for needle, forms in self._needles.items():
            at = text.find(needle)
            while at != -1:
                found.extend(_fragment(text, at, form, kind) for form, kind in forms)
                at = text.find(needle, at + 1)
        merged: list[tuple[int, int]] = []
        for start, end in sorted(found):
            if merged and start <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
            else:
                merged.append((start, end))
        return merged


def _fragment(text: str, at: int, form: str, kind: bool) -> tuple[int, int]:
    """The longest prefix (from a head needle at `at`) or suffix (ending with a tail needle) of `form`."""
    if kind is _HEAD:
        end, i = at + MIN_SECRET_CHARS, MIN_SECRET_CHARS
        while i < len(form) and end < len(text) and text[end] == form[i]:
            end, i = end + 1, i + 1
        return at, end
    start, i = at, len(form) - MIN_SECRET_CHARS - 1
    while i >= 0 and start > 0 and text[start - 1] == form[i]:
        start, i = start - 1, i - 1
    return start, at + MIN_SECRET_CHARS


_current = Scrubber(frozenset())


def scrubber() -> Scrubber:
    """The scrubber for the secrets the route snapshot last loaded; rebuilt only when they change."""
    global _current
    secrets = snapshot.known_secrets
    if _current.secrets is not secrets:
        _current = Scrubber(secrets)
    return _current


def scrub(text: str) -> str:
    return scrubber().scrub(text)


def scrub_bytes(data: bytes) -> bytes:
    """`data` with known secrets redacted; bytes that are not UTF-8 come back unchanged."""
    text = data.decode("utf-8", "surrogateescape")
    scrubbed = scrubber().scrub(text)
    return data if scrubbed is text else scrubbed.encode("utf-8", "surrogateescape")


def scrub_headers(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    return {name: scrub(value) for name, value in headers}


_FRAME_END = re.compile(rb"\r\n\r\n|\n\n|\r\r")
_ERROR_FRAME = re.compile(rb'^event:[ \t]*error\b|"type"\s*:\s*"error"', re.M)


class ErrorEventScrubber:
    """Fed a pass-through SSE stream's bytes, hands them back with every `error` event scrubbed.

    Bytes go out a whole frame at a time: the unfinished last frame waits for its end (a client acts
    on whole frames anyway), so a key split across two reads is whole when checked. Other events
    carry model output and are never touched. A frame longer than `MAX_PENDING` goes out unended.
    """

    MAX_PENDING = 64 * 1024

    def __init__(self) -> None:
        self._pending = b""

    def feed(self, chunk: bytes) -> bytes:
        data = self._pending + chunk if self._pending else chunk
        end = max((m.end() for m in _FRAME_END.finditer(data, max(0, len(self._pending) - 3))), default=0)
        if end == 0 and len(data) < self.MAX_PENDING:
            self._pending = data
            return b""
        end = end or len(data)
        self._pending = data[end:]
        return _scrub_error_frames(data[:end])

    def flush(self) -> bytes:
        data, self._pending = self._pending, b""
        return _scrub_error_frames(data)


def _scrub_error_frames(block: bytes) -> bytes:
    if b"error" not in block:
        return block
    parts = _FRAME_END.split(block)
    if not any(_ERROR_FRAME.search(part) for part in parts):
        return block
    seps = [*_FRAME_END.findall(block), b""]
    return b"".join((scrub_bytes(p) if _ERROR_FRAME.search(p) else p) + s for p, s in zip(parts, seps, strict=True))
