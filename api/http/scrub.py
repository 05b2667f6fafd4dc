"""Known secrets never leave: every provider key, wherever an upstream echoes it, becomes `[redacted]`.

Upstreams quote the key they were sent (`invalid x-api-key: AIza...`, `Incorrect API key provided:
sk-proj-...abcd`), whole, URL-encoded, JSON-escaped or cut short. The secret set (every provider's
decrypted key, disabled ones too, secret-looking extra headers, OPENAI_API_KEY, CUSTOM_HEADER_* and
ANTHROPIC_API_KEY) comes from the route snapshot (`routing.snapshot.known_secrets`); the scrubber is
rebuilt only when that set changes.

What counts as an echo, and why:
- a secret shorter than `MIN_SECRET_CHARS` is ignored: "ollama" or "none" is no secret, and
  redacting such words would mangle ordinary text;
- a prefix or a suffix, at least `MIN_SECRET_CHARS` long, of a secret or of its URL-encoded or
  JSON-escaped form is an echo (the whole key is its own longest prefix). A vendor's constant head
  such as `sk-proj-` is redacted too when a configured key starts with it: harmless in an error
  message, and scrubbing never touches model output;
- fragments from the middle of a key, and shorter heads or tails (`sk-...abcd`), are left: too short
  to use, and too common to redact;
- the whole run of key-like characters around an echo goes, not just the matched part. Messages
  also quote the client (a model name, a path), so redacting exactly what matched would be an
  oracle: a client could send `sk-proj-A`, `sk-proj-B`... and read the key one character at a time
  from where `[redacted]` stops. What shows is only whether a run holds one of the 8-character
  heads or tails, which cannot be guessed beyond a vendor's constant prefix.

Cost: one `str.find` per needle (each secret form's 8-character head and tail) when nothing is
found; README "Provider secrets" has measured figures (`python -m bench.scrub_cost`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from urllib.parse import quote

from routing import snapshot

REDACTED = "[redacted]"
MIN_SECRET_CHARS = 8
_HEAD, _TAIL = True, False
KEY_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_+/.%~"
"""Characters a redaction widens over: those of keys and their URL-encoded forms, and the dots of a
`sk-abc...xyz` mask; never quotes or backslashes, so a redacted JSON string stays valid JSON."""
_KEY_RUN = re.compile(f"[{re.escape(KEY_CHARS)}]*")


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
        """Sorted, disjoint (start, end) of the redactions in `text`: each echo widened to its run of
        `KEY_CHARS`. Needles are visited left to right and one inside a redaction already made is
        skipped, so even a text packed with echoes costs linear time."""
        hits = sorted((at, needle) for needle in self._needles for at in _occurrences(text, needle))
        spans, covered = [], -1
        for at, needle in hits:
            if at + MIN_SECRET_CHARS <= covered:
                continue
            start, end = at, at + MIN_SECRET_CHARS
            for form, kind in self._needles[needle]:
                fragment = _fragment(text, at, form, kind)
                start, end = min(start, fragment[0]), max(end, fragment[1])
            spans.append((_widen_start(text, start), _widen_end(text, end)))
            covered = max(covered, spans[-1][1])
        return _merged(spans)


def _occurrences(text: str, needle: str) -> Iterator[int]:
    at = text.find(needle)
    while at != -1:
        yield at
        at = text.find(needle, at + 1)


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
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


def _widen_start(text: str, start: int) -> int:
    while start > 0:  # back over KEY_CHARS, a bounded window at a time (rstrip runs in C)
        window = text[max(0, start - 256) : start]
        kept = window.rstrip(KEY_CHARS)
        start -= len(window) - len(kept)
        if kept:
            break
    while start > 0 and text[start - 1] == "\\":  # never leave half a JSON escape before the redaction
        start -= 1
    return start


def _widen_end(text: str, end: int) -> int:
    end = _KEY_RUN.match(text, end).end()
    while end > 0 and text[end - 1] == "\\":  # nor after it: `\"` must stay whole
        end -= 1
    return end


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
