"""Optional body logging (LOG_BODIES=off|errors|all), with secrets and bulky payloads removed."""

from __future__ import annotations

import re

from django.conf import settings

from api.http.scrub import scrub

MAX_LOGGED_CHARS = 64 * 1024
_SECRETS = re.compile(
    r"(sk-[A-Za-z0-9_\-]{6})[A-Za-z0-9_\-]+"  # OpenAI/Anthropic/proxy style keys
    r"|(Bearer\s+)\S+"
    r'|("(?:api[_-]?key|x-api-key|authorization|password|secret|token)"\s*:\s*")[^"]*',
    re.IGNORECASE,
)
_BASE64_RUN = re.compile(r'"data"\s*:\s*"[A-Za-z0-9+/=]{256,}"')


def redact(text: str) -> str:
    """Known provider secrets go; other keys keep a short recognisable head; base64 payloads are elided.

    Cut to size before scrubbing, so a large body costs no more than `MAX_LOGGED_CHARS`; a key cut in
    two by the cut keeps too short a head to use, or a head long enough to be redacted."""
    text = _BASE64_RUN.sub('"data":"[base64 omitted]"', text)
    if len(text) > MAX_LOGGED_CHARS:
        text = text[:MAX_LOGGED_CHARS] + f"… [{len(text) - MAX_LOGGED_CHARS} more characters]"
    return _SECRETS.sub(lambda m: (m.group(1) or m.group(2) or m.group(3) or "") + "[redacted]", scrub(text))


def wanted(status: int) -> bool:
    return settings.LOG_BODIES == "all" or (settings.LOG_BODIES == "errors" and status >= 400)


def as_text(raw: bytes | str) -> str:
    return redact(raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw)
