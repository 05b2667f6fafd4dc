"""Which extra headers a provider may add to upstream calls: never framing, hop-by-hop or auth headers.

An extra `content-length` or `transfer-encoding` desynchronises the request framing, `host` or
`proxy-*` redirect it, and `authorization` / `x-api-key` / `api-key` would override (or duplicate)
the provider's own key. The admin and the model refuse them (`Provider.clean`), env sync drops them
from CUSTOM_HEADER_*, and `allowed_extra_headers` filters them out of every provider snapshot the
hot path reads (routing/snapshot.py), as the last guard for rows saved some other way.
"""

from __future__ import annotations

import re

FORBIDDEN_HEADERS = frozenset(
    {
        "accept-encoding",
        "api-key",
        "authorization",
        "connection",
        "content-encoding",
        "content-length",
        "cookie",
        "expect",
        "host",
        "keep-alive",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "x-api-key",
    }
)
FORBIDDEN_PREFIXES = ("proxy-",)
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_BAD_VALUE = re.compile(r"[\r\n\x00]")


def header_problem(name: object, value: object) -> str | None:
    """Why this extra header may not be sent, or None if it may."""
    if not isinstance(name, str) or not _TOKEN.fullmatch(name):
        return f"{name!r} is not a valid header name"
    lowered = name.lower()
    if lowered in FORBIDDEN_HEADERS or lowered.startswith(FORBIDDEN_PREFIXES):
        return f"{name!r} cannot be set as an extra header: the gateway sets framing and auth headers itself"
    if not isinstance(value, str) or _BAD_VALUE.search(value):
        return f"the value of {name!r} must be text on one line"
    return None


def allowed_extra_headers(headers: dict) -> dict[str, str]:
    """Stored extra headers without any that `header_problem` refuses; applied once per provider
    snapshot (routing/snapshot.py), so every upstream call sends only these."""
    return {k: v for k, v in headers.items() if header_problem(k, v) is None}
